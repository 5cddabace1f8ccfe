package state

import (
	"errors"
	"fmt"
	"time"
)

// Code is the kind of a canonical container event. The string form of the
// codes that exist in DCSA Track & Trace 2.2 is the DCSA equipmentEventTypeCode;
// HOLD and STOR have no DCSA 2.2 equipment code and are porttrack's own (a
// HOLD derives a SHIPMENT HOLD, a STOR no DCSA event at all: see DCSA).
type Code uint8

// Event codes. The numeric values are stored on disk (state/FORMAT.md): never
// renumber, only append.
const (
	CodeUnknown Code = 0
	CodeGTIN    Code = 1 // gated in
	CodeGTOT    Code = 2 // gated out
	CodeLOAD    Code = 3 // loaded onto a means of transport
	CodeDISC    Code = 4 // discharged from a means of transport
	CodeINSP    Code = 5 // inspected
	CodeHOLD    Code = 6 // put on hold
	CodeSTOR    Code = 7 // stored: stacked in a yard block (CBV bizStep storing)
	codeCount        = 8
)

var codeNames = [codeCount]string{"", "GTIN", "GTOT", "LOAD", "DISC", "INSP", "HOLD", "STOR"}

// statusNames is the container status after an event of each code.
var statusNames = [codeCount]string{"unknown", "gated_in", "gated_out", "loaded", "discharged", "inspected", "on_hold", "in_yard"}

// String returns the DCSA code ("GTIN", ...) or "" for CodeUnknown.
func (c Code) String() string {
	if c >= codeCount {
		return ""
	}
	return codeNames[c]
}

// Status returns the container status an event of this code leaves behind.
func (c Code) Status() string {
	if c >= codeCount {
		return statusNames[0]
	}
	return statusNames[c]
}

// DCSA reports whether an event of this code derives a DCSA event (an
// EQUIPMENT event, or for HOLD a SHIPMENT HOLD). STOR derives none: DCSA 2.2
// has no equipmentEventTypeCode for stacking a box in the yard, and calling
// it an inspection or a gate-in would be false.
func (c Code) DCSA() bool { return c.Valid() && c != CodeSTOR }

// Valid reports whether c is a known, non-zero code.
func (c Code) Valid() bool { return c > CodeUnknown && c < codeCount }

// ParseCode parses a DCSA-style code name ("GTIN", "HOLD", "STOR", ...).
// Not every code it accepts is a DCSA equipmentEventTypeCode (see DCSA).
func ParseCode(s string) (Code, bool) {
	for i := Code(1); i < codeCount; i++ {
		if codeNames[i] == s {
			return i, true
		}
	}
	return CodeUnknown, false
}

// Event is one canonical container event, the unit that ingest decoders
// produce and Store.Apply stores. All strings are owned by the event (a
// decoder must not hand out slices of a reused buffer).
type Event struct {
	// ID is the stable identity of the event: the source's own event id
	// when it has one, otherwise a hash of the event's content. Applying an
	// event whose ID is already stored changes nothing.
	ID string
	// Container is a valid, normalised ISO 6346 number (see ParseContainer).
	Container string
	Code      Code
	// Time is the event time (when it happened), in Unix nanoseconds UTC.
	Time int64
	// Location is the facility where it happened: the EPCIS bizLocation or
	// readPoint id, or the facility of the reader that saw the box.
	Location string
	// ReadPoint is the EPCIS readPoint or the reader id ("" if unknown).
	ReadPoint string
	// Source names the decoder that produced the event ("epcis", "rfid-read").
	Source string
	// Disposition is the EPCIS disposition, if any.
	Disposition string
	// Refs link the container to bookings, transport documents and parties
	// (EPCIS bizTransactionList, sourceList, destinationList): they decide
	// which logistics tenants see it. Stored as links, not in the history.
	Refs []Ref
}

// Validate checks the invariants Store.Apply relies on.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("event has no id")
	case len(e.ID) > MaxIDLen:
		return fmt.Errorf("event id longer than %d bytes", MaxIDLen)
	case !e.Code.Valid():
		return fmt.Errorf("event has unknown code %d", e.Code)
	case e.Time == 0:
		return errors.New("event has no time")
	case len(e.Location) > MaxFieldLen || len(e.ReadPoint) > MaxFieldLen ||
		len(e.Source) > MaxFieldLen || len(e.Disposition) > MaxFieldLen:
		return fmt.Errorf("event field longer than %d bytes", MaxFieldLen)
	}
	if err := CheckContainer(e.Container); err != nil {
		return err
	}
	for _, r := range e.Refs {
		if (r.Kind != LinkBooking && r.Kind != LinkTransport && r.Kind != LinkParty) || r.Value == "" || len(r.Value) > MaxFieldLen {
			return fmt.Errorf("event has a bad reference %q %q", r.Kind, r.Value)
		}
	}
	return nil
}

// TimeUTC returns the event time as a time.Time in UTC.
func (e *Event) TimeUTC() time.Time { return time.Unix(0, e.Time).UTC() }

// Limits on stored strings; decoders reject longer input.
const (
	MaxIDLen    = 256
	MaxFieldLen = 256
)
