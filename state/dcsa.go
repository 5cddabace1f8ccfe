package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// The DCSA event log: every DCSA Track & Trace 2.2 event porttrack derives
// (EQUIPMENT from container events, TRANSPORT from vessel port calls,
// SHIPMENT from customs holds), in one store-wide sequence, written in the
// Apply batch that derived it. The query API serves it (/v2/events) and the
// webhook deliverer tails it; the same bytes go to the events topic through
// the outbox. See FORMAT.md "DCSA event log".

// DCSA event types.
const (
	DCSAEquipment = "EQUIPMENT"
	DCSATransport = "TRANSPORT"
	DCSAShipment  = "SHIPMENT"
)

// DCSAEvent is one event of the log: the fields the filters of /v2/events
// and subscriptions match on, and the event's JSON rendering (Body).
type DCSAEvent struct {
	Seq     uint64 // position in the log, from 1
	ID      string // eventID, a UUID
	Type    string // DCSAEquipment, DCSATransport or DCSAShipment
	Code    string // the equipment/transport/shipment event type code
	Created int64  // eventCreatedDateTime, Unix ns; never decreases along Seq
	Time    int64  // eventDateTime, Unix ns
	// Equipment is the container (equipmentReference; for a SHIPMENT event
	// of a container, its documentID).
	Equipment       string
	TransportCallID string
	VesselIMO       string
	UNLocationCode  string
	ExportVoyage    string
	ServiceCode     string
	DocumentType    string // SHIPMENT documentTypeCode
	Refs            []Ref  // bookings, transport documents, parties
	// Body is the JSON object. When handed to a callback it aliases
	// iterator memory, valid only during the call.
	Body []byte

	// Rendering input, not stored apart from Body: the place (container
	// events: the facility; transport events: the berth), the vessel, and
	// for SHIPMENT events the document (DocumentID; Equipment when empty)
	// and the reason.
	Place, VesselName, VesselCallSign string
	MMSI                              uint32
	DocumentID, Reason                string
	// Mode is the transport call's modeOfTransport for a leg by rail,
	// barge or truck ("RAIL", "BARGE", "TRUCK"); "" a vessel's (transport
	// events) or none (equipment events).
	Mode string
}

// dcsaLog is the writer's position (under Store.mu).
type dcsaLog struct {
	loaded  bool
	next    uint64 // next sequence number
	created int64  // last eventCreatedDateTime written
}

func dcsaBoxKey(dst []byte, container string, seq uint64) []byte {
	dst = append(dst, prefixDCSABox)
	dst = append(dst, container...)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func dcsaLogKey(dst []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, prefixDCSALog), seq)
}

// uuidFrom makes a stable UUID-shaped id from a name (RFC 9562 layout,
// name-based), so a replay derives the same eventID.
func uuidFrom(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
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

func appendDCSA(dst []byte, e *DCSAEvent) []byte {
	dst = append(dst, valueV1)
	for _, s := range []string{e.ID, e.Type, e.Code} {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendVarint(dst, e.Created)
	dst = binary.AppendVarint(dst, e.Time)
	for _, s := range []string{e.Equipment, e.TransportCallID, e.VesselIMO, e.UNLocationCode, e.ExportVoyage, e.ServiceCode, e.DocumentType} {
		dst = appendStr(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Refs)))
	for _, r := range e.Refs {
		dst = append(dst, r.Kind)
		dst = appendStr(dst, r.Value)
	}
	return appendBytes(dst, e.Body)
}

// dcsaWords are the strings a log value repeats (types, codes, the port's
// LOCODE): decoding them costs no allocation.
var dcsaWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{DCSAEquipment, DCSATransport, DCSAShipment, "GTIN", "GTOT", "LOAD", "DISC", "INSP", "HOLD",
		"ARRI", "DEPA", "CUS", "CNNGB", ""} {
		m[w] = w
	}
	return m
}()

// interned reads a string, shared when it is one of dcsaWords.
func (r *reader) interned() string {
	b := r.bytes()
	if w, ok := dcsaWords[string(b)]; ok { // no allocation: map lookup by []byte
		return w
	}
	return string(b)
}

// decodeDCSA decodes a log value; e.Body and the strings alias v only for
// Body (the strings are copies).
func decodeDCSA(seq uint64, v []byte, e *DCSAEvent) error {
	r := reader{b: v}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	e.Seq = seq
	e.ID, e.Type, e.Code = r.str(), r.interned(), r.interned()
	e.Created, e.Time = r.varint(), r.varint()
	e.Equipment, e.TransportCallID, e.VesselIMO = r.str(), r.str(), r.str()
	e.UNLocationCode, e.ExportVoyage, e.ServiceCode, e.DocumentType = r.interned(), r.str(), r.str(), r.interned()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return errCorrupt
	}
	e.Refs = e.Refs[:0]
	for range n {
		k := r.byte()
		e.Refs = append(e.Refs, Ref{Kind: k, Value: r.str()})
	}
	e.Body = r.bytes()
	return r.err
}

// writeDCSA appends e to the log and the outbox (under s.mu, in the Apply
// batch). It fills e.Seq and e.Created and renders e.Body with render.
func (s *Store) writeDCSA(pb *pebble.Batch, e *DCSAEvent, now int64, key string, res *ApplyResult) error {
	l := &s.mu.dcsa
	if !l.loaded {
		last, created, err := s.lastDCSA()
		if err != nil {
			return err
		}
		l.next, l.created, l.loaded = last+1, created, true
	}
	e.Created = max(now, l.created)
	if e.Type == DCSAShipment {
		e.Time = e.Created // the spec: eventDateTime equals eventCreatedDateTime
	}
	e.Seq = l.next
	e.Body = renderDCSA(e.Body[:0], e)
	if err := pb.Set(dcsaLogKey(nil, e.Seq), appendDCSA(nil, e), nil); err != nil {
		return err
	}
	u, _ := parseUUID(e.ID)
	if err := pb.Set(append([]byte{prefixDCSAID}, u[:]...), binary.BigEndian.AppendUint64(nil, e.Seq), nil); err != nil {
		return err
	}
	if e.Equipment != "" {
		if err := pb.Set(dcsaBoxKey(nil, e.Equipment, e.Seq), nil, nil); err != nil {
			return err
		}
	}
	l.next++
	l.created = e.Created
	if topic := s.opts.PortCalls.EventTopic; topic != "" {
		m := Message{Topic: topic, Key: []byte(key), Value: e.Body,
			Headers: []Header{{Key: "porttrack-id", Value: []byte(e.ID)}, {Key: "event-type", Value: []byte(e.Type)}}}
		if err := s.putOutbox(pb, &m); err != nil {
			return err
		}
		res.Events++
	}
	return nil
}

func (s *Store) lastDCSA() (seq uint64, created int64, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDCSALog}, UpperBound: []byte{prefixDCSALog + 1}})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, 0, it.Error()
	}
	var e DCSAEvent
	if len(it.Key()) != 9 {
		return 0, 0, errCorrupt
	}
	if err := decodeDCSA(binary.BigEndian.Uint64(it.Key()[1:]), it.Value(), &e); err != nil {
		return 0, 0, err
	}
	return e.Seq, e.Created, nil
}

// dcsaContainerEvent logs the DCSA event of a newly stored container event
// and records its links (under s.mu, in the Apply batch). A code without a
// DCSA event (STOR) records the links only.
func (s *Store) dcsaContainerEvent(pb *pebble.Batch, e *Event, now int64, res *ApplyResult) error {
	if err := writeLinks(pb, e); err != nil {
		return err
	}
	if !e.Code.DCSA() {
		return nil
	}
	d := DCSAEvent{
		ID:        uuidFrom("porttrack/container/" + e.ID),
		Type:      DCSAEquipment,
		Code:      e.Code.String(),
		Time:      e.Time,
		Equipment: e.Container,
		Refs:      e.Refs,
	}
	if pm := s.opts.PortModel; pm != nil {
		d.UNLocationCode = pm.Locode
	}
	d.Place = e.Location
	if e.Code == CodeHOLD {
		// DCSA 2.2 has no equipment code for a hold: a SHIPMENT HOLD of a
		// customs document naming the box.
		d.Type, d.DocumentType = DCSAShipment, "CUS"
	}
	return s.writeDCSA(pb, &d, now, e.Container, res)
}

// Customs (and any other source of SHIPMENT events) logs its events the
// same way, inside Apply: build a DCSAEvent with Type DCSAShipment, Code
// (RECE, HOLD, RELS, ...), DocumentType (CUS for customs), DocumentID, a
// Reason, Time, an ID from uuidFrom over a stable name, Equipment (the box,
// which decides which logistics tenants see it) and Refs, then call
// s.writeDCSA(pb, &e, now, key, res): the log, the /v2 API, webhooks and
// the events topic follow.

// transportDCSA is the TRANSPORT event (ARRI or DEPA, ACT) of a berth
// arrival or departure; its eventID is stable across replays.
func transportDCSA(v *Vessel, code string, at int64, fence, locode string) DCSAEvent {
	d := DCSAEvent{
		ID:              uuidFrom(fmt.Sprintf("porttrack/transport/%d/%s/%d/%s", v.MMSI, code, at, fence)),
		Type:            DCSATransport,
		Code:            code,
		Time:            at,
		TransportCallID: fmt.Sprintf("%d-%s-%d", v.MMSI, fence, at/int64(time.Second)),
		UNLocationCode:  locode,
	}
	if v.IMO != 0 {
		d.VesselIMO = strconv.FormatUint(uint64(v.IMO), 10)
	}
	d.Place, d.VesselName, d.VesselCallSign, d.MMSI = fence, v.Name, v.CallSign, v.MMSI
	return d
}

// jsonStr appends s as a JSON string (invalid UTF-8 becomes U+FFFD).
func jsonStr(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func jsonTime(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = time.Unix(0, ns).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// renderDCSA appends the JSON object of e.
func renderDCSA(dst []byte, e *DCSAEvent) []byte {
	b := append(dst, `{"eventID":`...)
	b = jsonStr(b, e.ID)
	b = append(b, `,"eventType":`...)
	b = jsonStr(b, e.Type)
	b = append(b, `,"eventClassifierCode":"ACT","eventDateTime":`...)
	b = jsonTime(b, e.Time)
	b = append(b, `,"eventCreatedDateTime":`...)
	b = jsonTime(b, e.Created)
	switch e.Type {
	case DCSAEquipment:
		b = append(b, `,"equipmentEventTypeCode":`...)
		b = jsonStr(b, e.Code)
		b = append(b, `,"equipmentReference":`...)
		b = jsonStr(b, e.Equipment)
		b = append(b, `,"emptyIndicatorCode":"LADEN"`...)
		if e.Mode != "" && e.TransportCallID != "" {
			b = appendLegCall(b, e)
		}
		if e.Place != "" || e.UNLocationCode != "" {
			b = append(b, `,"eventLocation":{`...)
			sep := ""
			if e.Place != "" {
				b = append(b, `"locationName":`...)
				b = jsonStr(b, truncate(e.Place, 100))
				sep = ","
			}
			if e.UNLocationCode != "" {
				b = append(b, sep+`"UNLocationCode":`...)
				b = jsonStr(b, e.UNLocationCode)
			}
			b = append(b, '}')
		}
	case DCSAShipment:
		b = append(b, `,"shipmentEventTypeCode":`...)
		b = jsonStr(b, e.Code)
		b = append(b, `,"documentTypeCode":`...)
		b = jsonStr(b, e.DocumentType)
		b = append(b, `,"documentID":`...)
		doc := e.DocumentID
		if doc == "" {
			doc = e.Equipment
		}
		b = jsonStr(b, doc)
		reason := e.Reason
		if reason == "" && e.Place != "" {
			reason = "held at " + e.Place
		}
		if reason != "" {
			b = append(b, `,"reason":`...)
			b = jsonStr(b, truncate(reason, 250))
		}
	case DCSATransport:
		if e.Mode != "" {
			b = append(b, `,"transportEventTypeCode":`...)
			b = jsonStr(b, e.Code)
			b = appendLegCall(b, e)
			break
		}
		fence, name, callSign, mmsi := e.Place, e.VesselName, e.VesselCallSign, uint64(e.MMSI)
		b = append(b, `,"transportEventTypeCode":`...)
		b = jsonStr(b, e.Code)
		b = append(b, `,"transportCall":{"transportCallID":`...)
		b = jsonStr(b, e.TransportCallID)
		b = append(b, `,"modeOfTransport":"VESSEL"`...)
		if e.UNLocationCode != "" {
			b = append(b, `,"UNLocationCode":`...)
			b = jsonStr(b, e.UNLocationCode)
		}
		b = append(b, `,"facilityTypeCode":"POTE","otherFacility":`...)
		b = jsonStr(b, truncate(fence, 50))
		if e.VesselIMO != "" {
			b = append(b, `,"vessel":{"vesselIMONumber":`...)
			b = jsonStr(b, e.VesselIMO)
			if name != "" {
				b = append(b, `,"vesselName":`...)
				b = jsonStr(b, truncate(name, 35))
			}
			if callSign != "" {
				b = append(b, `,"vesselCallSignNumber":`...)
				b = jsonStr(b, truncate(callSign, 10))
			}
			b = append(b, '}')
		}
		b = append(b, '}')
		if mmsi != 0 {
			b = append(b, `,"porttrack:mmsi":`...)
			b = strconv.AppendUint(b, mmsi, 10)
		}
	}
	b = appendDocRefs(b, e.Refs)
	return append(b, '}')
}

// appendLegCall writes the transportCall of a rail, barge or truck leg: the
// train, barge or truck as the call, the station or terminal as the
// facility (a rail station is a ramp).
func appendLegCall(b []byte, e *DCSAEvent) []byte {
	b = append(b, `,"transportCall":{"transportCallID":`...)
	b = jsonStr(b, truncate(e.TransportCallID, 100))
	b = append(b, `,"modeOfTransport":`...)
	b = jsonStr(b, e.Mode)
	if e.UNLocationCode != "" {
		b = append(b, `,"UNLocationCode":`...)
		b = jsonStr(b, e.UNLocationCode)
	}
	facility := "POTE"
	if e.Mode == "RAIL" {
		facility = "RAMP"
	}
	b = append(b, `,"facilityTypeCode":"`+facility+`"`...)
	if e.Place != "" {
		b = append(b, `,"otherFacility":`...)
		b = jsonStr(b, truncate(e.Place, 50))
	}
	return append(b, '}')
}

func appendDocRefs(b []byte, refs []Ref) []byte {
	n := 0
	for _, r := range refs {
		var typ string
		switch r.Kind {
		case LinkBooking:
			typ = "BKG"
		case LinkTransport:
			typ = "TRD"
		default:
			continue
		}
		if n == 0 {
			b = append(b, `,"documentReferences":[`...)
		} else {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"documentReferenceType":"`+typ+`","documentReferenceValue":`...)
		b = jsonStr(b, r.Value)
		b = append(b, '}')
	}
	if n > 0 {
		b = append(b, ']')
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary.
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// DCSAEventByID returns the event with this eventID, or ErrNotFound.
func (s *Store) DCSAEventByID(id string) (DCSAEvent, error) {
	var e DCSAEvent
	u, ok := parseUUID(id)
	if !ok {
		return e, ErrNotFound
	}
	v, closer, err := s.db.Get(append([]byte{prefixDCSAID}, u[:]...))
	if errors.Is(err, pebble.ErrNotFound) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, err
	}
	if len(v) != 8 {
		closer.Close()
		return e, errCorrupt
	}
	seq := binary.BigEndian.Uint64(v)
	closer.Close()
	v, closer, err = s.db.Get(dcsaLogKey(nil, seq))
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

// ScanDCSA calls fn with the log's events from seq from (inclusive)
// upwards, or downwards when desc, until fn returns false. The event and
// its Body are reused between calls.
func (s *Store) ScanDCSA(from uint64, desc bool, fn func(*DCSAEvent) bool) error {
	opts := &pebble.IterOptions{LowerBound: []byte{prefixDCSALog}, UpperBound: []byte{prefixDCSALog + 1}}
	if desc {
		opts.UpperBound = dcsaLogKey(nil, from+1)
		if from == ^uint64(0) {
			opts.UpperBound = []byte{prefixDCSALog + 1}
		}
	} else {
		opts.LowerBound = dcsaLogKey(nil, from)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	var e DCSAEvent
	ok := it.First()
	step := it.Next
	if desc {
		ok, step = it.Last(), it.Prev
	}
	for ; ok; ok = step() {
		k := it.Key()
		if len(k) != 9 {
			return errCorrupt
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

// ScanDCSAOf is ScanDCSA restricted to the events of one container
// (equipmentReference), read through the equipment index.
func (s *Store) ScanDCSAOf(container string, from uint64, desc bool, fn func(*DCSAEvent) bool) error {
	if len(container) != ContainerLen {
		return nil // only ISO 6346 numbers are indexed, and only they occur
	}
	opts := &pebble.IterOptions{LowerBound: dcsaBoxKey(nil, container, 0), UpperBound: append(append([]byte{prefixDCSABox}, container...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)}
	if desc {
		if from != ^uint64(0) {
			opts.UpperBound = dcsaBoxKey(nil, container, from+1)
		}
	} else {
		opts.LowerBound = dcsaBoxKey(nil, container, from)
	}
	idx, err := s.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer idx.Close()
	log, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDCSALog}, UpperBound: []byte{prefixDCSALog + 1}})
	if err != nil {
		return err
	}
	defer log.Close()
	var e DCSAEvent
	var key []byte
	ok, step := idx.First(), idx.Next
	if desc {
		ok, step = idx.Last(), idx.Prev
	}
	for ; ok; ok = step() {
		k := idx.Key()
		if len(k) != 1+ContainerLen+8 {
			return errCorrupt
		}
		seq := binary.BigEndian.Uint64(k[1+ContainerLen:])
		key = dcsaLogKey(key[:0], seq)
		if !log.SeekGE(key) || !bytes.Equal(log.Key(), key) {
			return fmt.Errorf("state: DCSA event %d indexed but not logged: %w", seq, errCorrupt)
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

// DCSASeqAt returns the sequence number of the first event created at or
// after t (Unix ns), or the next sequence number when there is none.
func (s *Store) DCSASeqAt(t int64) (uint64, error) {
	seq, created, err := s.lastDCSA()
	if err != nil || created < t {
		return seq + 1, err
	}
	// eventCreatedDateTime never decreases along the log: binary search.
	lo, hi := uint64(1), seq
	for lo < hi {
		mid := lo + (hi-lo)/2
		var c int64
		found := false
		if err := s.ScanDCSA(mid, false, func(e *DCSAEvent) bool { c, found = e.Created, true; return false }); err != nil {
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

// LastDCSASeq returns the sequence number of the newest event (0: none).
func (s *Store) LastDCSASeq() (uint64, error) {
	seq, _, err := s.lastDCSA()
	return seq, err
}
