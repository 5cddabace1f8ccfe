package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
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
		case BoxEventManifest:
			if b.Status == "" {
				setStatus("manifested", e.Time)
			}
		case BoxEventDeclared:
			if b.Status == "" || b.Status == "manifested" {
				setStatus("declared", e.Time)
			}
		case BoxEventInspection, BoxEventScan:
			reason := e.Reason
			if reason == "" {
				reason = "selected for " + e.Event
			}
			drop("inspection")
			b.Blocks = append(b.Blocks, CustomsBlock{Kind: "inspection", Since: e.Time, Reason: reason})
			setStatus("inspection", e.Time)
		case BoxEventInspected:
			drop("inspection")
		case BoxEventHeld:
			kind := "customs_hold"
			if e.HoldKind == "quarantine" {
				kind = "quarantine"
			}
			drop(kind)
			b.Blocks = append(b.Blocks, CustomsBlock{Kind: kind, Since: e.Time, Reason: e.Reason})
			setStatus("held", e.Time)
		case BoxEventHoldLifted:
			if e.HoldKind == "quarantine" {
				drop("quarantine")
			} else {
				drop("customs_hold")
			}
		case BoxEventReleased:
			drop("")
			setStatus("released", e.Time)
		case BoxEventZoneEntry:
			drop("")
			setStatus("in_bonded_zone", e.Time)
		case BoxEventClosed:
			drop("")
			setStatus("closed", e.Time)
		}
		if len(b.Blocks) == 0 && (b.Status == "held" || b.Status == "inspection") {
			setStatus("declared", e.Time)
		}
	}
}

func boxCustomsKey(id string) []byte { return append([]byte{prefixBoxCustoms}, id...) }

func appendBlocks(dst []byte, blocks []CustomsBlock) []byte {
	dst = appendUvarint(dst, uint64(len(blocks)))
	for _, b := range blocks {
		dst = appendStr(dst, b.Kind)
		dst = appendVarint(dst, int64(b.Since))
		dst = appendStr(dst, b.Reason)
	}
	return dst
}

func (w *customsWork) box(d *CustomsDoc) error {
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
	val := appendStr([]byte{0x01}, string(js))
	val = appendBlocks(val, bc.Blocks)
	val = appendStr(val, bc.Status)
	val = appendVarint(val, int64(bc.Since))
	w.set(key, val)
	if cb := w.s.mu.scratch.custBoxes; cb != nil {
		cb[e.Container] = slices.Clone(bc.Blocks)
	}
	held := append([]byte{prefixCustomsList, 'h'}, e.Container...)
	if len(bc.Blocks) > 0 {
		w.set(held, appendBlocks(nil, bc.Blocks))
	} else {
		w.del(held)
	}
	rel := append([]byte{prefixCustomsList, 'r'}, e.Container...)
	if bc.Released() {
		w.set(rel, appendStr(appendVarint(nil, int64(bc.Since)), bc.Status))
	} else {
		w.del(rel)
	}
	return nil
}

func decodeBoxCustomsJSON(v []byte, bc *BoxCustoms) error {
	if len(v) == 0 || v[0] != 0x01 {
		return errCorrupt
	}
	r := reader{b: v[1:]}
	js := r.bytes()
	if r.err != nil {
		return r.err
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
// buffers are reused by the next ContainerCustoms call on the same value.
type ContainerCustoms struct {
	JSON   []byte // the "customs" object
	Status []byte
	Since  int64
	blocks []byte // n uvarint | n × (str kind | since varint | str reason)
	key    []byte
}

// Released reports whether customs let the box go.
func (cc *ContainerCustoms) Released() bool {
	st := string(cc.Status) // no allocation: compared only
	return st == "released" || st == "closed" || st == "in_bonded_zone"
}

// NumBlocks returns the number of customs blocks.
func (cc *ContainerCustoms) NumBlocks() int {
	r := reader{b: cc.blocks}
	return int(r.uvarint())
}

// EachBlock calls fn for each customs block; kind and reason are valid
// only during the call.
func (cc *ContainerCustoms) EachBlock(fn func(kind, reason []byte, since int64)) {
	r := reader{b: cc.blocks}
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		kind := r.bytes()
		since := r.varint()
		reason := r.bytes()
		if r.err == nil {
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

// ContainerCustoms reads the customs state of a box into cc; ErrNotFound
// when customs never spoke of it.
func (s *Store) ContainerCustoms(id string, cc *ContainerCustoms) error {
	return s.live().ContainerCustoms(id, cc)
}

// ContainerCustoms is Store.ContainerCustoms as the view sees it.
func (vw *View) ContainerCustoms(id string, cc *ContainerCustoms) error {
	if len(id) != ContainerLen {
		return ErrNotFound
	}
	// The key lives in cc: a local array would escape into Get.
	cc.key = append(append(cc.key[:0], prefixBoxCustoms), id...)
	v, closer, err := vw.r.Get(cc.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) == 0 || v[0] != 0x01 {
		return errCorrupt
	}
	r := reader{b: v[1:]}
	cc.JSON = append(cc.JSON[:0], r.bytes()...)
	rest := r.b
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.bytes()
		r.varint()
		r.bytes()
	}
	cc.blocks = append(cc.blocks[:0], rest[:len(rest)-len(r.b)]...)
	cc.Status = append(cc.Status[:0], r.bytes()...)
	cc.Since = r.varint()
	return r.err
}

func readBlocks(r *reader, dst []Block) []Block {
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		dst = append(dst, Block{Kind: r.str(), Since: r.varint(), Reason: r.str()})
	}
	return dst
}

// CustomsListQuery pages through held or released boxes.
type CustomsListQuery struct {
	Cursor string // container to start after; "" from the first
	Limit  int
	// Scope, when not nil, is a logistics caller's: only the boxes linked
	// to it are listed (as ListQuery.Scope).
	Scope *Scope
}

// HeldBox is a box held by customs (or under inspection / quarantine).
type HeldBox struct {
	Container string
	Blocks    []Block
}

// CustomsHolds calls fn for held boxes in container order and returns the
// cursor of the next page ("" at the end).
func (s *Store) CustomsHolds(q CustomsListQuery, fn func(*HeldBox) error) (string, error) {
	var hb HeldBox
	return s.scanCustomsList('h', q, func(id string, v []byte) error {
		r := reader{b: v}
		hb.Container, hb.Blocks = id, readBlocks(&r, hb.Blocks[:0])
		if r.err != nil {
			return r.err
		}
		return fn(&hb)
	})
}

// ReleasedBox is a box customs released.
type ReleasedBox struct {
	Container string
	Since     int64
	Status    string
}

// CustomsReleased calls fn for released boxes in container order; fn
// returns whether the box counts toward the page (a filter).
func (s *Store) CustomsReleased(q CustomsListQuery, fn func(*ReleasedBox) (bool, error)) (string, error) {
	return s.live().CustomsReleased(q, fn)
}

// CustomsReleased is Store.CustomsReleased as the view sees it.
func (vw *View) CustomsReleased(q CustomsListQuery, fn func(*ReleasedBox) (bool, error)) (string, error) {
	var rb ReleasedBox
	return vw.scanCustomsListFiltered('r', q, func(id string, v []byte) (bool, error) {
		r := reader{b: v}
		rb.Container, rb.Since, rb.Status = id, r.varint(), r.str()
		if r.err != nil {
			return false, r.err
		}
		return fn(&rb)
	})
}

func (s *Store) scanCustomsList(kind byte, q CustomsListQuery, fn func(id string, v []byte) error) (string, error) {
	return s.live().scanCustomsListFiltered(kind, q, func(id string, v []byte) (bool, error) { return true, fn(id, v) })
}

func (vw *View) scanCustomsListFiltered(kind byte, q CustomsListQuery, fn func(id string, v []byte) (bool, error)) (string, error) {
	if q.Limit <= 0 {
		return "", errors.New("state: limit must be positive")
	}
	lower := []byte{prefixCustomsList, kind}
	if q.Cursor != "" {
		if CheckContainer(q.Cursor) != nil {
			return "", ErrBadCursor
		}
		lower = append(append(lower, q.Cursor...), 0)
	}
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixCustomsList, kind + 1}})
	if err != nil {
		return "", err
	}
	defer it.Close()
	var filter scopeFilter
	defer filter.close()
	n := 0
	last := ""
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		id := string(k[2:])
		if q.Scope != nil {
			vis, err := filter.visible(vw.r, id, q.Scope)
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
