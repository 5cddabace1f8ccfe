package state

import (
	"errors"
	"io"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Tx is the write transaction of one Store.Apply: the one Pebble batch
// every stage writes into, the batch's clock, the result being built and
// the emitters of derived messages. It lives under s.mu for the duration of
// Apply; stages must not keep it.
type Tx struct {
	s   *Store
	pb  *pebble.Batch
	b   *Batch
	now int64 // the batch's clock, Unix ns (Options.Now at the start of Apply)
	res *ApplyResult
	sc  *applyScratch
	// stored is the set of the batch's event ids that were already stored
	// before the batch (filled by the container-events stage).
	stored map[[32]byte]struct{}
}

// Now returns the batch's clock, Unix ns.
func (tx *Tx) Now() int64 { return tx.now }

// Input returns the batch being applied (empty in a Store.Update).
func (tx *Tx) Input() *Batch { return tx.b }

// Result returns the result being built.
func (tx *Tx) Result() *ApplyResult { return tx.res }

// Get reads key from the database as committed before this transaction:
// the transaction's own writes are not visible (a stage that reads what it
// wrote keeps its own overlay). The value is valid until the closer is
// closed.
func (tx *Tx) Get(key []byte) ([]byte, io.Closer, error) { return tx.s.db.Get(key) }

// NewIter opens an iterator on the database as committed before this
// transaction (as Get); the caller closes it.
func (tx *Tx) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) { return tx.s.db.NewIter(o) }

// Set writes key in the transaction (key and value are copied).
func (tx *Tx) Set(key, val []byte) error { return tx.pb.Set(key, val, nil) }

// Delete deletes key in the transaction.
func (tx *Tx) Delete(key []byte) error { return tx.pb.Delete(key, nil) }

// Outbox adds m to the outbox at the next sequence number.
func (tx *Tx) Outbox(m *Message) error { return tx.s.putOutbox(tx.pb, m) }

// DCSA appends e to the DCSA event log and puts it in the outbox for the
// events topic, keyed by key (writeDCSA).
func (tx *Tx) DCSA(e *DCSAEvent, key string) error {
	return tx.s.writeDCSA(tx.pb, e, tx.now, key, tx.res)
}

// Alert puts an alert (body, already rendered) on topic with the
// porttrack-id and event-type headers every alert carries.
func (tx *Tx) Alert(topic, key, id, kind string, body []byte) error {
	return tx.Outbox(&Message{Topic: topic, Key: []byte(key), Value: body,
		Headers: []Header{{Key: "porttrack-id", Value: []byte(id)}, {Key: "event-type", Value: []byte(kind)}}})
}

// Stage is one step of Apply over one domain. Apply calls Begin for every
// stage, then Apply for every stage in order, commits the Pebble batch,
// then calls Committed for every stage. Begin forgets what a failed batch
// left in the stage's per-batch memory; Committed publishes the in-memory
// changes of the committed batch (indexes readers use). All three run under
// the Store's Apply lock: no IO but the Tx's own (LOCKS.md). A stage reads
// what earlier stages of the same batch wrote (in memory or in tx), never
// what later ones will.
//
// The order of the stages is one list, in state/portstate (Options.Stages);
// doc.go ("Apply stages") says why each comes where it does.
type Stage interface {
	Name() string
	Begin(tx *Tx)
	Apply(tx *Tx) error
	Committed(tx *Tx) error
}

// StageLoader is a Stage that rebuilds in-memory indexes from the database
// when the Store opens. Open calls Load for every such stage, in stage
// order, after the kernel's own loading; the Store is not yet shared.
type StageLoader interface {
	Stage
	Load(s *Store) error
}

// The stages of the domains still inside this package, for portstate's
// list (Options.Stages).
var (
	ContainerEventsStage Stage = containerEventsStage{}
	LocationsStage       Stage = locationsStage{}
	ContainerFencesStage Stage = containerFencesStage{}
	LoadsStage           Stage = loadsStage{}
	VesselsStage         Stage = vesselsStage{}
	MultimodalStage      Stage = multimodalStage{}
	// BatchOutboxStage is the kernel's: the batch's own messages.
	BatchOutboxStage Stage = batchOutboxStage{}
)

// builtinStages is the stage order of a Store opened without
// Options.Stages (this package's own tests): the stages above, in
// portstate's order (TestBuiltinStagesInOrder in portstate checks it).
var builtinStages = []Stage{
	ContainerEventsStage,
	LocationsStage,
	ContainerFencesStage,
	LoadsStage,
	VesselsStage,
	MultimodalStage,
	BatchOutboxStage,
}

// BuiltinStages returns the stages of a Store opened without
// Options.Stages, in their order.
func BuiltinStages() []Stage { return slices.Clone(builtinStages) }

// noHooks is embedded by stages without Begin or Committed work.
type noHooks struct{}

func (noHooks) Begin(*Tx)           {}
func (noHooks) Committed(*Tx) error { return nil }

// containerEventsStage dedupes the batch's container events by id, stores
// the new ones in history and the id index, updates current states and
// logs their DCSA equipment events.
type containerEventsStage struct{}

func (containerEventsStage) Name() string { return "container-events" }

func (containerEventsStage) Begin(tx *Tx) {
	sc := tx.sc
	// Made anew after a large batch: clear costs a map's capacity.
	if sc.current == nil || len(sc.current) > scratchMapMax || len(sc.seen) > scratchMapMax {
		sc.current = make(map[string]*Container)
		sc.seen = make(map[[32]byte]struct{})
	}
	clear(sc.current)
	if sc.changed == nil {
		sc.changed = make(map[string]struct{})
	}
	clear(sc.changed)
	clear(sc.seen)
	sc.observe = sc.observe[:0]
}

func (containerEventsStage) Committed(*Tx) error { return nil }

func (containerEventsStage) Apply(tx *Tx) error {
	s, sc, b, res := tx.s, tx.sc, tx.b, tx.res
	stored, err := s.storedIDs(sc, b.Events)
	if err != nil {
		return err
	}
	tx.stored = stored
	if err := s.loadCurrent(sc, b.Events); err != nil {
		return err
	}
	for i := range b.Events {
		e := &b.Events[i]
		h := sc.hashes[i]
		if _, dup := sc.seen[h]; dup {
			res.Duplicates++
			continue
		}
		sc.seen[h] = struct{}{}
		if _, ok := stored[h]; ok {
			res.Duplicates++
			continue
		}
		sc.key = eventIdxKey(sc.key[:0], &h)

		hk := historyKey(nil, e.Container, e.Time, &h)
		sc.val = appendHistory(sc.val[:0], e, tx.now)
		if err := tx.pb.Set(hk, sc.val, nil); err != nil {
			return err
		}
		if err := tx.pb.Set(sc.key, hk[1:], nil); err != nil {
			return err
		}
		c := sc.current[e.Container] // loaded by loadCurrent; Count == 0: new
		if c.Count == 0 || newer(e, &c.Last) {
			c.Last = Event{ID: e.ID, Container: e.Container, Code: e.Code, Time: e.Time, Location: e.Location}
			// Observed by the container-fences stage.
			sc.observe = append(sc.observe, i)
		} else {
			res.Late++
		}
		if c.Count == 0 || e.Time < c.First {
			c.First = e.Time
		}
		if err := s.dcsaContainerEvent(tx.pb, e, tx.now, res); err != nil {
			return err
		}
		sc.changed[e.Container] = struct{}{}
		c.Count++
		c.Updated = tx.now
		res.Stored++
	}
	for id := range sc.changed {
		sc.key = currentKey(sc.key[:0], id)
		sc.val = appendCurrent(sc.val[:0], sc.current[id])
		if err := tx.pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
	}
	return nil
}

// locationsStage places the new events in the port model and re-derives
// the location index (stays, places, dwell, boxes on board, loads waiting)
// of the boxes they changed.
type locationsStage struct{ noHooks }

func (locationsStage) Name() string { return "locations" }

func (locationsStage) Apply(tx *Tx) error {
	if tx.res.Stored == 0 {
		return nil
	}
	return tx.s.applyLocations(tx.pb, tx.b.Events, tx.sc.hashes, tx.stored, tx.res)
}

// containerFencesStage observes the container events that were their
// box's newest at their reader's position. It owns the per-batch fence
// state: its begin and committed hooks also cover the fence observations
// of the vessels and trucks stages.
type containerFencesStage struct{}

func (containerFencesStage) Name() string { return "container-fences" }

func (containerFencesStage) Begin(tx *Tx) { tx.s.fenceBegin(tx.b) }

func (containerFencesStage) Apply(tx *Tx) error {
	for _, i := range tx.sc.observe {
		// A box on board is where its ship is: its own readings (the load's
		// crane reader) are not fence observations.
		if e := &tx.b.Events[i]; !tx.s.fence.onShip[e.Container] {
			if err := tx.s.observeContainerEvent(tx.pb, e, tx.res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (containerFencesStage) Committed(tx *Tx) error {
	tx.s.fenceCommitted()
	return nil
}

// loadsStage gives the loads waiting for their ship the ship that is now
// at their berth.
type loadsStage struct{}

func (loadsStage) Name() string           { return "loads" }
func (loadsStage) Begin(tx *Tx)           { tx.s.loadsBegin() }
func (loadsStage) Apply(tx *Tx) error     { return tx.s.resolveLoads(tx.pb, tx.res) }
func (loadsStage) Committed(tx *Tx) error { tx.s.loadsCommitted(); return nil }

// vesselsStage applies AIS reports: current state, track, IMO index, port
// calls with their DCSA transport events, fence observations of the ships
// and of the boxes on board.
type vesselsStage struct{ noHooks }

func (vesselsStage) Name() string { return "vessels" }

func (vesselsStage) Apply(tx *Tx) error {
	if len(tx.b.Vessels) == 0 {
		return nil
	}
	return tx.s.applyVessels(tx.pb, tx.b.Vessels, tx.now, tx.res)
}

func (vesselsStage) Committed(tx *Tx) error {
	if len(tx.b.Vessels) > 0 {
		tx.s.indexMovedVessels()
	}
	return nil
}

// multimodalStage applies rail and barge plans and events and truck
// waybills, then runs the connection guard over the plans the batch
// touched (by any of the stages before it).
type multimodalStage struct{ noHooks }

func (multimodalStage) Name() string { return "multimodal" }

func (multimodalStage) Apply(tx *Tx) error {
	return tx.s.applyMultimodal(tx.pb, tx.b, tx.now, tx.res)
}

func (multimodalStage) Committed(tx *Tx) error {
	tx.s.commitMultimodal()
	return nil
}

// batchOutboxStage puts the batch's own messages (the dead letters of its
// records) in the outbox.
type batchOutboxStage struct{ noHooks }

func (batchOutboxStage) Name() string { return "batch-outbox" }

func (batchOutboxStage) Apply(tx *Tx) error {
	for i := range tx.b.Outbox {
		if err := tx.Outbox(&tx.b.Outbox[i]); err != nil {
			return err
		}
	}
	return nil
}

// publishCommitted calls every stage's committed hook in order, even after
// one failed: each publishes an independent in-memory index. It returns the
// errors joined.
func publishCommitted(tx *Tx) error {
	var errs []error
	for _, st := range tx.s.stages {
		if err := st.Committed(tx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
