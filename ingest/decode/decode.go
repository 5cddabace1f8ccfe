// Package decode holds what every porttrack input decoder shares: the error
// type that carries a stable reason code to the dead-letter topic.
//
// It imports nothing from porttrack but state's types via its callers; it must
// not import ingest (ingest imports it).
package decode

import (
	"errors"
	"fmt"
)

// Stable reason codes shared by all decoders. A reason code is part of the
// dead-letter contract (the "error" header and the metrics label): never
// rename one, only add.
const (
	ReasonEmpty          = "empty"           // empty record value
	ReasonOversize       = "oversize"        // value above the per-record size limit
	ReasonInvalidJSON    = "invalid_json"    // not well-formed JSON
	ReasonUnknownFormat  = "unknown_format"  // well-formed but not a message type we know
	ReasonMissingField   = "missing_field"   // a required field is absent
	ReasonBadField       = "bad_field"       // a field has the wrong type or an invalid value
	ReasonBadContainer   = "bad_container"   // not an ISO 6346 number
	ReasonCheckDigit     = "check_digit"     // ISO 6346 check digit mismatch
	ReasonBadTime        = "bad_time"        // unparseable or out-of-range time
	ReasonUnknownBizStep = "unknown_bizstep" // EPCIS bizStep with no mapping
	ReasonUnknownReader  = "unknown_reader"  // raw read from a reader not in the reader table
	ReasonUnsupported    = "unsupported"     // a known but unsupported message or event type
	ReasonInvalidEvent   = "invalid_event"   // decoded event fails state.Event.Validate
	ReasonOther          = "decode_error"    // any other decoding failure

	// AIS / NMEA 0183 (ingest/ais).
	ReasonBadChecksum     = "bad_checksum"     // NMEA sentence or tag block checksum wrong or missing
	ReasonNotAIS          = "not_ais"          // a line that is no AIVDM/AIVDO sentence
	ReasonBadArmour       = "bad_armour"       // payload character outside the AIS 6-bit armour
	ReasonBadLength       = "bad_length"       // AIS payload empty, too short for an MMSI, or too long
	ReasonExpiredFragment = "expired_fragment" // a multi-part fragment dropped before its message completed
)

// Error is a decoding failure with a stable reason code.
type Error struct {
	Reason string // one of the Reason* constants
	Msg    string // human-readable detail
}

func (e *Error) Error() string { return e.Reason + ": " + e.Msg }

// Errorf returns an *Error with the given reason and formatted message.
func Errorf(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Reason returns the reason code of err: the Reason of the first *Error in
// its chain, or ReasonOther.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonOther
}
