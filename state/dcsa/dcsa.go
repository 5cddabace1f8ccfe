// Package dcsa keeps porttrack's DCSA Track & Trace 2.2 events: the event
// log (every EQUIPMENT, TRANSPORT and SHIPMENT event porttrack derives, in
// one store-wide sequence, with its event-id and equipment indexes; FORMAT.md
// "DCSA event log"), the filters of /v2/events and of subscriptions, and the
// subscriptions (webhooks) with their delivery state, delivery log, dead
// letters and redelivery requests (FORMAT.md "Subscriptions"), and the
// default-deny ranges of callback addresses.
//
// The log is written inside Apply by the stages that derive events, through
// the kernel's emitter (state.Tx.DCSA), which calls Append (state.DCSALog);
// the subscriptions are control-plane records written by their own batches.
package dcsa

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Keys is what the subscriptions need of the tenants' API keys: a
// subscription delivers while its owner has a key (SubscriptionOwnerLive).
type Keys interface {
	// EachKey calls fn with the tenant, role and scope of every key
	// stored in rd.
	EachKey(rd pebble.Reader, fn func(tenant, role string, scope *state.Scope) error) error
	// KeyOwner returns the tenant and role of the key with this ID in rd,
	// or state.ErrNotFound.
	KeyOwner(rd pebble.Reader, id string) (tenant, role string, err error)
}

// DCSA is the DCSA domain over one opened store.
type DCSA struct {
	db      *pebble.DB
	writeO  *pebble.WriteOptions // the store's (state.Store.WriteOptions)
	keys    Keys
	maxSubs int

	// log is the writer's position: touched by Append only, which runs
	// under the Store's Apply lock (LOCKS.md).
	log struct {
		loaded  bool
		next    uint64 // next sequence number
		created int64  // last eventCreatedDateTime written
	}

	subs subLock // subscription records and delivery state
}

// New returns the DCSA domain of no store yet, so that it can be set as
// state.Options.DCSA before the store opens; Attach gives it the store.
// maxSubscriptions bounds the subscriptions of one tenant (0:
// DefaultMaxSubscriptions); keys reads the tenants' API keys.
func New(maxSubscriptions int, keys Keys) *DCSA {
	return &DCSA{maxSubs: maxSubscriptions, keys: keys}
}

// Attach gives d its opened store; Append and every read need it.
func (d *DCSA) Attach(st *state.Store) { d.db, d.writeO = st.DB(), st.WriteOptions() }

// Append gives e its place in the log and writes it in pb (state.DCSALog;
// under the Store's Apply lock): e.Seq, e.Created (the batch clock now,
// never before the last event's), e.Time for a SHIPMENT event (its
// eventCreatedDateTime), e.Body.
func (d *DCSA) Append(pb *pebble.Batch, e *state.DCSAEvent, now int64) error {
	l := &d.log
	if !l.loaded {
		last, created, err := d.lastDCSA()
		if err != nil {
			return err
		}
		l.next, l.created, l.loaded = last+1, created, true
	}
	e.Created = max(now, l.created)
	if e.Type == state.DCSAShipment {
		e.Time = e.Created // the spec: eventDateTime equals eventCreatedDateTime
	}
	e.Seq = l.next
	e.Body = state.RenderDCSA(e.Body[:0], e)
	if err := pb.Set(dcsaLogKey(nil, e.Seq), appendDCSA(nil, e), nil); err != nil {
		return err
	}
	u, _ := parseUUID(e.ID)
	if err := pb.Set(append([]byte{state.PrefixDCSAID}, u[:]...), binary.BigEndian.AppendUint64(nil, e.Seq), nil); err != nil {
		return err
	}
	if e.Equipment != "" {
		if err := pb.Set(dcsaBoxKey(nil, e.Equipment, e.Seq), nil, nil); err != nil {
			return err
		}
	}
	l.next++
	l.created = e.Created
	return nil
}

func dcsaBoxKey(dst []byte, container string, seq uint64) []byte {
	dst = append(dst, state.PrefixDCSABox)
	dst = append(dst, container...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func dcsaLogKey(dst []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, state.PrefixDCSALog), seq)
}

func parseUUID(id string) ([16]byte, bool) {
	var u [16]byte
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return u, false
	}
	raw := id[0:8] + id[9:13] + id[14:18] + id[19:23] + id[24:36]
	if _, err := hex.Decode(u[:], []byte(raw)); err != nil {
		return u, false
	}
	return u, true
}

func appendDCSA(dst []byte, e *state.DCSAEvent) []byte {
	dst = append(dst, state.ValueV1)
	for _, s := range []string{e.ID, e.Type, e.Code} {
		dst = state.AppendStr(dst, s)
	}
	dst = binary.AppendVarint(dst, e.Created)
	dst = binary.AppendVarint(dst, e.Time)
	for _, s := range []string{e.Equipment, e.TransportCallID, e.VesselIMO, e.UNLocationCode, e.ExportVoyage, e.ServiceCode, e.DocumentType} {
		dst = state.AppendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Refs)))
	for _, r := range e.Refs {
		dst = append(dst, r.Kind)
		dst = state.AppendStr(dst, r.Value)
	}
	return state.AppendBytes(dst, e.Body)
}

// dcsaWords are the strings a log value repeats (types, codes, the port's
// LOCODE): decoding them costs no allocation.
var dcsaWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{state.DCSAEquipment, state.DCSATransport, state.DCSAShipment, "GTIN", "GTOT", "LOAD", "DISC", "INSP", "HOLD",
		"ARRI", "DEPA", "CUS", "CNNGB", ""} {
		m[w] = w
	}
	return m
}()

// interned reads a string, shared when it is one of dcsaWords.
func interned(r *state.Reader) string {
	b := r.Bytes()
	if w, ok := dcsaWords[string(b)]; ok { // no allocation: map lookup by []byte
		return w
	}
	return string(b)
}

// decodeDCSA decodes a log value; e.Body and the strings alias v only for
// Body (the strings are copies).
func decodeDCSA(seq uint64, v []byte, e *state.DCSAEvent) error {
	r := state.NewReader(v)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	e.Seq = seq
	e.ID, e.Type, e.Code = r.Str(), interned(&r), interned(&r)
	e.Created, e.Time = r.Varint(), r.Varint()
	e.Equipment, e.TransportCallID, e.VesselIMO = r.Str(), r.Str(), r.Str()
	e.UNLocationCode, e.ExportVoyage, e.ServiceCode, e.DocumentType = interned(&r), r.Str(), r.Str(), interned(&r)
	n := r.Uvarint()
	if n > uint64(len(r.Rest())) {
		return state.ErrCorrupt
	}
	e.Refs = e.Refs[:0]
	for range n {
		k := r.Byte()
		e.Refs = append(e.Refs, state.Ref{Kind: k, Value: r.Str()})
	}
	e.Body = r.Bytes()
	return r.Err()
}

func (d *DCSA) lastDCSA() (seq uint64, created int64, err error) {
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixDCSALog}, UpperBound: []byte{state.PrefixDCSALog + 1}})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, 0, it.Error()
	}
	var e state.DCSAEvent
	if len(it.Key()) != 9 {
		return 0, 0, state.ErrCorrupt
	}
	if err := decodeDCSA(binary.BigEndian.Uint64(it.Key()[1:]), it.Value(), &e); err != nil {
		return 0, 0, err
	}
	return e.Seq, e.Created, nil
}

// EventByID returns the event with this eventID, or state.ErrNotFound.
func (d *DCSA) EventByID(id string) (state.DCSAEvent, error) {
	var e state.DCSAEvent
	u, ok := parseUUID(id)
	if !ok {
		return e, state.ErrNotFound
	}
	v, closer, err := d.db.Get(append([]byte{state.PrefixDCSAID}, u[:]...))
	if errors.Is(err, pebble.ErrNotFound) {
		return e, state.ErrNotFound
	}
	if err != nil {
		return e, err
	}
	if len(v) != 8 {
		closer.Close()
		return e, state.ErrCorrupt
	}
	seq := binary.BigEndian.Uint64(v)
	closer.Close()
	v, closer, err = d.db.Get(dcsaLogKey(nil, seq))
	if err != nil {
		return e, fmt.Errorf("state: DCSA event %d: %w", seq, err)
	}
	defer closer.Close()
	if err := decodeDCSA(seq, v, &e); err != nil {
		return e, err
	}
	e.Body = bytes.Clone(e.Body)
	return e, nil
}

// Scan calls fn with the log's events from seq from (inclusive)
// upwards, or downwards when desc, until fn returns false. The event and
// its Body are reused between calls.
func (d *DCSA) Scan(from uint64, desc bool, fn func(*state.DCSAEvent) bool) error {
	opts := &pebble.IterOptions{LowerBound: []byte{state.PrefixDCSALog}, UpperBound: []byte{state.PrefixDCSALog + 1}}
	if desc {
		opts.UpperBound = dcsaLogKey(nil, from+1)
		if from == ^uint64(0) {
			opts.UpperBound = []byte{state.PrefixDCSALog + 1}
		}
	} else {
		opts.LowerBound = dcsaLogKey(nil, from)
	}
	it, err := d.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	var e state.DCSAEvent
	ok := it.First()
	step := it.Next
	if desc {
		ok, step = it.Last(), it.Prev
	}
	for ; ok; ok = step() {
		k := it.Key()
		if len(k) != 9 {
			return state.ErrCorrupt
		}
		if err := decodeDCSA(binary.BigEndian.Uint64(k[1:]), it.Value(), &e); err != nil {
			return fmt.Errorf("state: DCSA event %x: %w", k, err)
		}
		if !fn(&e) {
			break
		}
	}
	return it.Error()
}

// ScanOf is Scan restricted to the events of one container
// (equipmentReference), read through the equipment index.
func (d *DCSA) ScanOf(container string, from uint64, desc bool, fn func(*state.DCSAEvent) bool) error {
	if len(container) != state.ContainerLen {
		return nil // only ISO 6346 numbers are indexed, and only they occur
	}
	opts := &pebble.IterOptions{LowerBound: dcsaBoxKey(nil, container, 0), UpperBound: append(append([]byte{state.PrefixDCSABox}, container...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)}
	if desc {
		if from != ^uint64(0) {
			opts.UpperBound = dcsaBoxKey(nil, container, from+1)
		}
	} else {
		opts.LowerBound = dcsaBoxKey(nil, container, from)
	}
	idx, err := d.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer idx.Close()
	log, err := d.db.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixDCSALog}, UpperBound: []byte{state.PrefixDCSALog + 1}})
	if err != nil {
		return err
	}
	defer log.Close()
	var e state.DCSAEvent
	var key []byte
	ok, step := idx.First(), idx.Next
	if desc {
		ok, step = idx.Last(), idx.Prev
	}
	for ; ok; ok = step() {
		k := idx.Key()
		if len(k) != 1+state.ContainerLen+8 {
			return state.ErrCorrupt
		}
		seq := binary.BigEndian.Uint64(k[1+state.ContainerLen:])
		key = dcsaLogKey(key[:0], seq)
		if !log.SeekGE(key) || !bytes.Equal(log.Key(), key) {
			return fmt.Errorf("state: DCSA event %d indexed but not logged: %w", seq, state.ErrCorrupt)
		}
		if err := decodeDCSA(seq, log.Value(), &e); err != nil {
			return fmt.Errorf("state: DCSA event %d: %w", seq, err)
		}
		if !fn(&e) {
			break
		}
	}
	return errors.Join(idx.Error(), log.Error())
}

// SeqAt returns the sequence number of the first event created at or
// after t (Unix ns), or the next sequence number when there is none.
func (d *DCSA) SeqAt(t int64) (uint64, error) {
	seq, created, err := d.lastDCSA()
	if err != nil || created < t {
		return seq + 1, err
	}
	// eventCreatedDateTime never decreases along the log: binary search.
	lo, hi := uint64(1), seq
	for lo < hi {
		mid := lo + (hi-lo)/2
		var c int64
		found := false
		if err := d.Scan(mid, false, func(e *state.DCSAEvent) bool { c, found = e.Created, true; return false }); err != nil {
			return 0, err
		}
		if found && c >= t {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// LastSeq returns the sequence number of the newest event (0: none).
func (d *DCSA) LastSeq() (uint64, error) {
	seq, _, err := d.lastDCSA()
	return seq, err
}
