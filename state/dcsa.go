package state

import (
	"crypto/sha256"
	"encoding/hex"
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

// uuidFrom makes a stable UUID-shaped id from a name (RFC 9562 layout,
// name-based), so a replay derives the same eventID.
func uuidFrom(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// DCSALog is the DCSA event log as Apply appends to it: state/dcsa's, set
// by portstate as Options.DCSA. Append runs under the Store's Apply lock
// (LOCKS.md), which also guards the log's position in memory.
type DCSALog interface {
	// Append gives e its place in the log: e.Seq, and e.Created, the batch
	// clock now but never before the last event's (a SHIPMENT event's
	// eventDateTime is its eventCreatedDateTime); renders e.Body
	// (RenderDCSA) and writes e into the log in pb.
	Append(pb *pebble.Batch, e *DCSAEvent, now int64) error
}

// unloggedDCSA is the DCSA log of a Store opened without Options.DCSA
// (this package's own tests): it numbers, dates and renders the events as
// the log does, for the outbox, and stores none.
type unloggedDCSA struct {
	next    uint64
	created int64
}

func (l *unloggedDCSA) Append(_ *pebble.Batch, e *DCSAEvent, now int64) error {
	l.next++
	l.created = max(now, l.created)
	e.Seq, e.Created = l.next, l.created
	if e.Type == DCSAShipment {
		e.Time = e.Created
	}
	e.Body = RenderDCSA(e.Body[:0], e)
	return nil
}

// writeDCSA appends e to the DCSA log and puts it in the outbox for the
// events topic, keyed by key (under s.mu, in the Apply batch).
func (s *Store) writeDCSA(pb *pebble.Batch, e *DCSAEvent, now int64, key string, res *ApplyResult) error {
	if err := s.opts.DCSA.Append(pb, e, now); err != nil {
		return err
	}
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

// RenderDCSA appends the JSON object of e (its Body).
func RenderDCSA(dst []byte, e *DCSAEvent) []byte {
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
