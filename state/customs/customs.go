// Package customs is the customs and cross-border e-commerce domain of
// porttrack's state: e-commerce order aggregates with three-document
// matching, parcel receipts (CEB622) and the customs state of containers,
// folded from the customs documents of each batch (state.CustomsDoc, decoded
// by ingest/customs). It owns the key families 0x50–0x59 (state/keys.go,
// FORMAT.md "Customs and cross-border e-commerce") and runs as the "customs"
// stage of Apply (state/doc.go says why it comes where it does).
//
// Its results (three_doc_match, inventory_status) go to the outbox of the
// batch that derived them. Incomplete-order deadlines are checked by every
// batch holding customs documents and by Expire, which ingest's tick calls
// while customs is quiet.
//
// Cross-domain needs, each an interface wired by state/portstate:
//   - customs satisfies state.CustomsBlocks, the connection guard's
//     question "what keeps this box from being picked up?";
//   - customs asks Scopes (tenancy) which boxes a logistics caller sees.
package customs

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Scopes is what customs needs of tenancy: which boxes a logistics
// caller's scope sees, for the lists of held and released boxes.
type Scopes interface {
	// ScopeFilter returns visible, which reports whether a container is
	// linked to anything in scope as vw sees it (for the many containers
	// of one list), and done, which releases it.
	ScopeFilter(vw *state.View, scope *state.Scope) (visible func(container string) (bool, error), done func())
}

// Customs is the customs domain. Its read methods may be called from any
// goroutine; Expire takes the store's Apply lock (state.Store.Update).
type Customs struct {
	cfg    state.CustomsConfig
	now    func() time.Time
	store  *state.Store
	scopes Scopes
	// batch is the customs value of each box whose customs state the batch
	// being applied changed (for the connection guard). Written and read
	// under the store's Apply lock only.
	batch map[string][]byte
}

// New returns the customs domain configured by cfg (defaults filled in),
// its clock now (nil: time.Now). It is usable once its stage is loaded
// (state.Open calls Stage's Load).
func New(cfg state.CustomsConfig, now func() time.Time) *Customs {
	if now == nil {
		now = time.Now
	}
	return &Customs{cfg: cfg.WithDefaults(), now: now, batch: map[string][]byte{}}
}

// UseScopes gives customs tenancy's answer to which boxes a scope sees.
// Called once, before the domain is shared.
func (c *Customs) UseScopes(s Scopes) { c.scopes = s }

// Stage returns the domain's stage of Apply.
func (c *Customs) Stage() state.Stage { return stage{c} }

// stage applies customs documents: orders and three-document matching,
// receipts, container customs state.
type stage struct{ c *Customs }

var _ state.StageLoader = stage{}

func (stage) Name() string { return "customs" }

// Begin forgets the boxes a previous (perhaps failed) batch changed.
func (st stage) Begin(*state.Tx) { clear(st.c.batch) }

func (st stage) Apply(tx *state.Tx) error { return st.c.apply(tx) }

func (stage) Committed(*state.Tx) error { return nil }

// Load keeps the store the domain reads.
func (st stage) Load(s *state.Store) error {
	st.c.store = s
	return nil
}

// ChangedBoxes calls fn for each box whose customs state the batch being
// applied changed (state.CustomsBlocks; under the Apply lock).
func (c *Customs) ChangedBoxes(fn func(box string)) {
	for box := range c.batch {
		fn(box)
	}
}

// PickupBlocks calls fn with the kind of each customs reason that keeps
// box from being picked up (ContainerCustoms.PickupBlocks), as the batch
// being applied leaves its customs state (state.CustomsBlocks; under the
// Apply lock).
func (c *Customs) PickupBlocks(box string, fn func(kind string)) error {
	var cc ContainerCustoms
	if v, ok := c.batch[box]; ok {
		if err := cc.decode(v); err != nil {
			return err
		}
	} else if err := c.ContainerCustoms(c.store.Live(), box, &cc); err != nil && !errors.Is(err, state.ErrNotFound) {
		return err
	}
	cc.PickupBlocks(func(kind, _ []byte, _ int64) { fn(string(kind)) })
	return nil
}

// Expire reports the orders whose wait for missing documents ended by now
// as incomplete, in one transaction of its own (exactly once: the
// deadline is deleted in the transaction that publishes the result). It
// returns the number of results written to the outbox. ingest calls it
// periodically so that a quiet topic still reports incomplete orders.
func (c *Customs) Expire() (int, error) {
	if !c.due(c.now().UnixNano()) {
		return 0, nil
	}
	n := 0
	err := c.store.Update(func(tx *state.Tx) error {
		w := c.work(tx)
		if err := w.expire(tx.Now()); err != nil {
			return err
		}
		var err error
		n, err = w.flush()
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// due reports whether an order deadline is due (a cheap read).
func (c *Customs) due(now int64) bool {
	upper := binary.BigEndian.AppendUint64([]byte{state.PrefixDeadline}, state.SortableTime(now+1))
	it, err := c.store.Live().NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixDeadline}, UpperBound: upper})
	if err != nil {
		return false
	}
	defer it.Close()
	return it.First()
}
