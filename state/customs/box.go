package customs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Container customs state: folded from the container-level customs messages
// of a box, in message-time order, so that messages may arrive in any order
// and repeatedly.

// CustomsBlock is one thing that keeps a box from leaving the port.
type CustomsBlock struct {
	Kind   string `json:"kind"` // customs_hold, quarantine, inspection
	Since  jsTime `json:"since"`
	Reason string `json:"reason"`
}

// BoxCustomsEntry is one container customs message in a box's history.
type BoxCustomsEntry struct {
	ID            string `json:"id"`
	Time          jsTime `json:"time"`
	Event         string `json:"event"`
	HoldKind      string `json:"hold_kind,omitempty"`
	Reason        string `json:"reason,omitempty"`
	DeclarationNo string `json:"declaration_no,omitempty"`
	BillNo        string `json:"bill_no,omitempty"`
	TradeMode     string `json:"trade_mode,omitempty"`
	AreaCode      string `json:"area_code,omitempty"`
	CustomsCode   string `json:"customs_code,omitempty"`
}

// BoxCustoms is the customs state of a container, served as the container's
// "customs" field.
type BoxCustoms struct {
	// Status: manifested, declared, inspection, held, released,
	// in_bonded_zone (1210: entered the bonded zone), closed.
	Status        string            `json:"status"`
	Since         jsTime            `json:"since"`
	DeclarationNo string            `json:"declaration_no,omitempty"`
	BillNo        string            `json:"bill_no,omitempty"`
	TradeMode     string            `json:"trade_mode,omitempty"`
	AreaCode      string            `json:"area_code,omitempty"`
	Blocks        []CustomsBlock    `json:"blocks"`
	History       []BoxCustomsEntry `json:"history"`
}

const maxBoxCustomsHistory = 200

// Released reports whether customs let the box go.
func (b *BoxCustoms) Released() bool {
	return b.Status == "released" || b.Status == "closed" || b.Status == "in_bonded_zone"
}

func (b *BoxCustoms) fold() {
	slices.SortFunc(b.History, func(x, y BoxCustomsEntry) int {
		if x.Time != y.Time {
			return int(x.Time - y.Time)
		}
		return bytes.Compare([]byte(x.ID), []byte(y.ID))
	})
	b.Status, b.Since, b.Blocks = "", 0, []CustomsBlock{}
	setStatus := func(s string, t jsTime) {
		if s != b.Status {
			b.Status, b.Since = s, t
		}
	}
	drop := func(kind string) {
		b.Blocks = slices.DeleteFunc(b.Blocks, func(x CustomsBlock) bool { return kind == "" || x.Kind == kind })
	}
	for _, e := range b.History {
		for _, f := range []struct {
			dst *string
			v   string
		}{{&b.DeclarationNo, e.DeclarationNo}, {&b.BillNo, e.BillNo}, {&b.TradeMode, e.TradeMode}, {&b.AreaCode, e.AreaCode}} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		switch e.Event {
		case state.BoxEventManifest:
			if b.Status == "" {
				setStatus("manifested", e.Time)
			}
		case state.BoxEventDeclared:
			if b.Status == "" || b.Status == "manifested" {
				setStatus("declared", e.Time)
			}
		case state.BoxEventInspection, state.BoxEventScan:
			reason := e.Reason
			if reason == "" {
				reason = "selected for " + e.Event
			}
			drop("inspection")
			b.Blocks = append(b.Blocks, CustomsBlock{Kind: "inspection", Since: e.Time, Reason: reason})
			setStatus("inspection", e.Time)
		case state.BoxEventInspected:
			drop("inspection")
		case state.BoxEventHeld:
			kind := "customs_hold"
			if e.HoldKind == "quarantine" {
				kind = "quarantine"
			}
			drop(kind)
			b.Blocks = append(b.Blocks, CustomsBlock{Kind: kind, Since: e.Time, Reason: e.Reason})
			setStatus("held", e.Time)
		case state.BoxEventHoldLifted:
			if e.HoldKind == "quarantine" {
				drop("quarantine")
			} else {
				drop("customs_hold")
			}
		case state.BoxEventReleased:
			drop("")
			setStatus("released", e.Time)
		case state.BoxEventZoneEntry:
			drop("")
			setStatus("in_bonded_zone", e.Time)
		case state.BoxEventClosed:
			drop("")
			setStatus("closed", e.Time)
		}
		if len(b.Blocks) == 0 && (b.Status == "held" || b.Status == "inspection") {
			setStatus("declared", e.Time)
		}
	}
}

func boxCustomsKey(id string) []byte { return append([]byte{state.PrefixBoxCustoms}, id...) }

func appendBlocks(dst []byte, blocks []CustomsBlock) []byte {
	dst = appendUvarint(dst, uint64(len(blocks)))
	for _, b := range blocks {
		dst = state.AppendStr(dst, b.Kind)
		dst = appendVarint(dst, int64(b.Since))
		dst = state.AppendStr(dst, b.Reason)
	}
	return dst
}

func (w *customsWork) box(d *state.CustomsDoc) error {
	e := d.Box
	key := boxCustomsKey(e.Container)
	v, err := w.get(key)
	if err != nil {
		return err
	}
	var bc BoxCustoms
	if v != nil {
		if err := decodeBoxCustomsJSON(v, &bc); err != nil {
			return fmt.Errorf("state: customs of %s: %w", e.Container, err)
		}
		if slices.ContainsFunc(bc.History, func(x BoxCustomsEntry) bool { return x.ID == d.ID }) {
			return nil
		}
	}
	bc.History = append(bc.History, BoxCustomsEntry{ID: d.ID, Time: jsTime(d.Time), Event: e.Event, HoldKind: e.HoldKind, Reason: e.Reason,
		DeclarationNo: e.DeclarationNo, BillNo: e.BillNo, TradeMode: e.TradeMode, AreaCode: e.AreaCode, CustomsCode: e.CustomsCode})
	bc.fold()
	if n := len(bc.History) - maxBoxCustomsHistory; n > 0 {
		bc.History = slices.Delete(bc.History, 0, n)
	}
	js, err := json.Marshal(&bc)
	if err != nil {
		return err
	}
	val := state.AppendStr([]byte{0x01}, string(js))
	val = appendBlocks(val, bc.Blocks)
	val = state.AppendStr(val, bc.Status)
	val = appendVarint(val, int64(bc.Since))
	w.set(key, val)
	w.c.batch[e.Container] = val // for the connection guard
	held := append([]byte{state.PrefixCustomsList, 'h'}, e.Container...)
	if len(bc.Blocks) > 0 {
		w.set(held, appendBlocks(nil, bc.Blocks))
	} else {
		w.del(held)
	}
	rel := append([]byte{state.PrefixCustomsList, 'r'}, e.Container...)
	if bc.Released() {
		w.set(rel, state.AppendStr(appendVarint(nil, int64(bc.Since)), bc.Status))
	} else {
		w.del(rel)
	}
	return nil
}

func decodeBoxCustomsJSON(v []byte, bc *BoxCustoms) error {
	if len(v) == 0 || v[0] != 0x01 {
		return state.ErrCorrupt
	}
	r := state.NewReader(v[1:])
	js := r.Bytes()
	if err := r.Err(); err != nil {
		return err
	}
	return json.Unmarshal(js, bc)
}

// Block is a reason a box cannot be picked up, as the query API shows it.
type Block struct {
	Kind   string
	Since  int64 // Unix ns; 0 unknown
	Reason string
}

// ContainerCustoms is a box's customs state for the container answer. Its
// buffers are reused by the next read into the same value.
type ContainerCustoms struct {
	JSON   []byte // the "customs" object
	Status []byte
	Since  int64
	blocks []byte // n uvarint | n × (str kind | since varint | str reason)
	key    []byte
	reason []byte
	// found is whether customs spoke of the box (the last read found it).
	found bool
}

// Released reports whether customs let the box go.
func (cc *ContainerCustoms) Released() bool {
	st := string(cc.Status) // no allocation: compared only
	return st == "released" || st == "closed" || st == "in_bonded_zone"
}

// NumBlocks returns the number of customs blocks.
func (cc *ContainerCustoms) NumBlocks() int {
	r := state.NewReader(cc.blocks)
	return int(r.Uvarint())
}

// EachBlock calls fn for each customs block; kind and reason are valid
// only during the call.
func (cc *ContainerCustoms) EachBlock(fn func(kind, reason []byte, since int64)) {
	r := state.NewReader(cc.blocks)
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		kind := r.Bytes()
		since := r.Varint()
		reason := r.Bytes()
		if r.Err() == nil {
			fn(kind, reason, since)
		}
	}
}

// Blocks returns the customs blocks (allocating; see EachBlock).
func (cc *ContainerCustoms) Blocks() []Block {
	var out []Block
	cc.EachBlock(func(kind, reason []byte, since int64) {
		out = append(out, Block{Kind: string(kind), Since: since, Reason: string(reason)})
	})
	return out
}

// KindNotReleased is the kind of the pickup block of a box customs has not
// released while no block is in force.
const KindNotReleased = "customs_not_released"

var (
	kindNotReleased   = []byte(KindNotReleased)
	reasonNoneRecords = []byte("no customs release recorded")
)

// PickupBlocks calls fn for each customs reason that keeps the box from
// being picked up, in the state the last read left cc (found or not). It
// is the one statement of that rule, used by the container answer's
// readiness and by the connection guard: every block in force (kind
// customs_hold, quarantine or inspection, in the order they were put on),
// then, when none is in force and customs has not released the box,
// KindNotReleased (since the status's time, reason "customs status
// <status>"; for a box customs never spoke of, since 0 and reason "no
// customs release recorded"). kind and reason are valid only during the
// call.
func (cc *ContainerCustoms) PickupBlocks(fn func(kind, reason []byte, since int64)) {
	if !cc.found {
		fn(kindNotReleased, reasonNoneRecords, 0)
		return
	}
	if cc.NumBlocks() > 0 {
		cc.EachBlock(fn)
		return
	}
	if !cc.Released() {
		cc.reason = append(append(cc.reason[:0], "customs status "...), cc.Status...)
		fn(kindNotReleased, cc.reason, cc.Since)
	}
}

// ContainerCustoms reads the customs state of a box into cc, as vw sees
// it; ErrNotFound when customs never spoke of it.
func (c *Customs) ContainerCustoms(vw *state.View, id string, cc *ContainerCustoms) error {
	cc.found = false
	if len(id) != state.ContainerLen {
		return state.ErrNotFound
	}
	// The key lives in cc: a local array would escape into Get.
	cc.key = append(append(cc.key[:0], state.PrefixBoxCustoms), id...)
	v, closer, err := vw.Get(cc.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return state.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return cc.decode(v)
}

// decode reads a stored box-customs value into cc.
func (cc *ContainerCustoms) decode(v []byte) error {
	if len(v) == 0 || v[0] != 0x01 {
		return state.ErrCorrupt
	}
	r := state.NewReader(v[1:])
	cc.JSON = append(cc.JSON[:0], r.Bytes()...)
	rest := r.Rest()
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		r.Bytes()
		r.Varint()
		r.Bytes()
	}
	cc.blocks = append(cc.blocks[:0], rest[:len(rest)-len(r.Rest())]...)
	cc.Status = append(cc.Status[:0], r.Bytes()...)
	cc.Since = r.Varint()
	if err := r.Err(); err != nil {
		return err
	}
	cc.found = true
	return nil
}

func readBlocks(r *state.Reader, dst []Block) []Block {
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		dst = append(dst, Block{Kind: r.Str(), Since: r.Varint(), Reason: r.Str()})
	}
	return dst
}

// ListQuery pages through held or released boxes.
type ListQuery struct {
	Cursor string // container to start after; "" from the first
	Limit  int
	// Scope, when not nil, is a logistics caller's: only the boxes linked
	// to it are listed (as state.ListQuery.Scope).
	Scope *state.Scope
}

// HeldBox is a box held by customs (or under inspection / quarantine).
type HeldBox struct {
	Container string
	Blocks    []Block
}

// Holds calls fn for held boxes in container order, read live, and
// returns the cursor of the next page ("" at the end).
func (c *Customs) Holds(q ListQuery, fn func(*HeldBox) error) (string, error) {
	var hb HeldBox
	return c.scanList(c.store.Live(), 'h', q, func(id string, v []byte) (bool, error) {
		r := state.NewReader(v)
		hb.Container, hb.Blocks = id, readBlocks(&r, hb.Blocks[:0])
		if err := r.Err(); err != nil {
			return false, err
		}
		return true, fn(&hb)
	})
}

// ReleasedBox is a box customs released.
type ReleasedBox struct {
	Container string
	Since     int64
	Status    string
}

// Released calls fn for released boxes in container order, as vw sees
// them; fn returns whether the box counts toward the page (a filter).
func (c *Customs) Released(vw *state.View, q ListQuery, fn func(*ReleasedBox) (bool, error)) (string, error) {
	var rb ReleasedBox
	return c.scanList(vw, 'r', q, func(id string, v []byte) (bool, error) {
		r := state.NewReader(v)
		rb.Container, rb.Since, rb.Status = id, r.Varint(), r.Str()
		if err := r.Err(); err != nil {
			return false, err
		}
		return fn(&rb)
	})
}

func (c *Customs) scanList(vw *state.View, kind byte, q ListQuery, fn func(id string, v []byte) (bool, error)) (string, error) {
	if q.Limit <= 0 {
		return "", errors.New("state: limit must be positive")
	}
	lower := []byte{state.PrefixCustomsList, kind}
	if q.Cursor != "" {
		if state.CheckContainer(q.Cursor) != nil {
			return "", state.ErrBadCursor
		}
		lower = append(append(lower, q.Cursor...), 0)
	}
	it, err := vw.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{state.PrefixCustomsList, kind + 1}})
	if err != nil {
		return "", err
	}
	defer it.Close()
	visible := func(string) (bool, error) { return false, nil } // no tenancy wired: a scope sees nothing
	if q.Scope != nil && c.scopes != nil {
		vis, done := c.scopes.ScopeFilter(vw, q.Scope)
		defer done()
		visible = vis
	}
	n := 0
	last := ""
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		id := string(k[2:])
		if q.Scope != nil {
			vis, err := visible(id)
			if err != nil {
				return "", err
			}
			if !vis {
				continue
			}
		}
		if n == q.Limit {
			return last, nil
		}
		counted, err := fn(id, it.Value())
		if err != nil {
			return "", err
		}
		if counted {
			n++
			last = id
		}
	}
	return "", it.Error()
}

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }
func appendVarint(dst []byte, v int64) []byte   { return binary.AppendVarint(dst, v) }
