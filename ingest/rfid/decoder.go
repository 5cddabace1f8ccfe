package rfid

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
	"github.com/valyala/fastjson"
)

// Config configures a Decoder.
type Config struct {
	// Readers maps a reader id (the "reader" of a compact read) to the
	// reader's facility and meaning. EPCIS events do not use it.
	Readers map[string]Reader
}

// Validate checks every reader entry; the error names the first bad reader
// id in sorted order, so the same table always gives the same error.
func (c Config) Validate() error {
	for _, id := range slices.Sorted(maps.Keys(c.Readers)) {
		if err := validReaderID(id); err != nil {
			return fmt.Errorf("rfid: reader %q: %w", id, err)
		}
		if err := c.Readers[id].Validate(); err != nil {
			return fmt.Errorf("rfid: reader %q: %w", id, err)
		}
	}
	return nil
}

// validReaderID checks the id, which becomes the events' ReadPoint.
func validReaderID(id string) error {
	switch {
	case id == "":
		return errors.New("id is empty")
	case len(id) > state.MaxFieldLen:
		return fmt.Errorf("id longer than %d bytes", state.MaxFieldLen)
	}
	return nil
}

// Decoder turns record values of the port.rfid topic into state.Events.
// It is read-only after NewDecoder and safe for concurrent use.
type Decoder struct {
	readers map[string]reader
	parsers fastjson.ParserPool
}

// reader is a validated Reader with its id, so that a read's ReadPoint can
// share the table's string instead of copying the input.
type reader struct {
	id, facility string
	code         state.Code // CodeUnknown: the read's dir decides
}

// NewDecoder validates cfg and returns a Decoder. It copies the reader
// table: later changes to cfg.Readers do not affect the Decoder.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Decoder{readers: make(map[string]reader, len(cfg.Readers))}
	for id, r := range cfg.Readers {
		code, _ := state.ParseCode(r.Event) // validated; "" gives CodeUnknown
		d.readers[id] = reader{id: id, facility: r.Facility, code: code}
	}
	return d, nil
}

// Sources recorded in Event.Source.
const (
	sourceEPCIS = "epcis"
	sourceRead  = "rfid-read"
)

// Decode appends the events in one record value to dst. The value is either
// EPCIS 2.0 JSON-LD (an EPCISDocument or a bare ObjectEvent or
// AggregationEvent) or a compact reader read, told apart by content.
//
// A record is all or nothing: on error Decode returns dst unchanged and a
// *decode.Error whose Reason is one of the decode.Reason* codes. The
// returned events own their strings; value may be reused after Decode returns.
func (d *Decoder) Decode(dst []state.Event, value []byte) ([]state.Event, error) {
	if len(value) == 0 {
		return dst, decode.Errorf(decode.ReasonEmpty, "empty record value")
	}
	p := d.parsers.Get()
	defer d.parsers.Put(p)
	v, err := p.ParseBytes(value)
	if err != nil {
		return dst, decode.Errorf(decode.ReasonInvalidJSON, "%v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return dst, decode.Errorf(decode.ReasonUnknownFormat, "JSON %s, want an object", v.Type())
	}
	out, err := d.decodeObject(dst, v)
	if err != nil {
		// Drop the half-built events so the caller's array keeps no
		// strings of a rejected record alive.
		clear(out[len(dst):])
		return dst, err
	}
	return out, nil
}

func (d *Decoder) decodeObject(dst []state.Event, v *fastjson.Value) ([]state.Event, error) {
	typ := member(v, "type")
	switch {
	case typ == nil && member(v, "reader") != nil:
		return d.decodeRead(dst, v)
	case typ == nil:
		return dst, decode.Errorf(decode.ReasonUnknownFormat, "object has neither \"type\" nor \"reader\"")
	case string(typ.GetStringBytes()) == "EPCISDocument":
		return decodeDocument(dst, v)
	}
	return decodeEvent(dst, v)
}

// member returns the member key of object o, or nil when it is absent or
// null: optional EPCIS fields are sent either way.
func member(o *fastjson.Value, key string) *fastjson.Value {
	v := o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// optString returns the string member key of o, nil when it is absent. A
// member of another type or longer than limit is a bad_field error.
func optString(o *fastjson.Value, key string, limit int) ([]byte, error) {
	v := member(o, key)
	if v == nil {
		return nil, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return nil, decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want a string", key, v.Type())
	}
	if len(b) > limit {
		return nil, decode.Errorf(decode.ReasonBadField, "%s longer than %d bytes", key, limit)
	}
	return b, nil
}

// within prefixes the message of a decoding error with where it happened.
func within(err error, where string) error {
	var e *decode.Error
	if !errors.As(err, &e) {
		return err
	}
	return &decode.Error{Reason: e.Reason, Msg: where + ": " + e.Msg}
}

// parseContainer validates an ISO 6346 number and maps failures to reasons.
func parseContainer(b []byte) (string, error) {
	if state.CheckContainer(string(b)) == nil {
		return string(b), nil // canonical already: one copy, not two
	}
	c, err := state.ParseContainer(string(b))
	switch {
	case errors.Is(err, state.ErrContainerCheckDigit):
		return "", decode.Errorf(decode.ReasonCheckDigit, "%v", err)
	case err != nil:
		return "", decode.Errorf(decode.ReasonBadContainer, "%.64q: %v", b, state.ErrContainerFormat)
	}
	return c, nil
}

// maxUnixSec is 2200-01-01T00:00:00Z: later times are typos or unit errors.
const maxUnixSec = 7258118400

// parseTime parses an RFC 3339 time with a zone offset (or Z) into Unix
// nanoseconds, accepting only times after 1970 and before 2200.
func parseTime(b []byte) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, decode.Errorf(decode.ReasonBadTime, "%.64q is not an RFC 3339 time with offset", b)
	}
	if sec := t.Unix(); sec < 0 || sec >= maxUnixSec || t.UnixNano() == 0 {
		return 0, decode.Errorf(decode.ReasonBadTime, "%.64q outside 1970..2200", b)
	}
	return t.UnixNano(), nil
}

// checkEvent is the last line of defence: nothing reaches state.Apply
// that Validate rejects.
func checkEvent(e *state.Event) error {
	if err := e.Validate(); err != nil {
		return decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
	}
	return nil
}

// hashID returns the ID of an event that has no id of its own: "sha256:"
// and the hex of the first 16 bytes of the SHA-256 of its canonical
// content. The ID is stored: never change the content or its encoding.
//
// The content is, in order,
//
//	EPCIS:  "epcis", type, bare bizStep, time, container, readPoint id, bizLocation id
//	reads:  "rfid-read", reader, antenna (decimal, "" if absent), container, time, dir
//
// with strings ("" when absent) as a uvarint length and the bytes, so no
// two field lists share an encoding (appendField), and the time as 8
// big-endian bytes of UTC Unix nanoseconds (appendTime). The content is
// normalised first (container, bizStep, zone offset), so differently
// written records of one event share an ID.
func hashID(content []byte) string {
	sum := sha256.Sum256(content)
	const prefix = "sha256:"
	var out [len(prefix) + 32]byte
	copy(out[:], prefix)
	hex.Encode(out[len(prefix):], sum[:16])
	return string(out[:])
}

func appendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendFieldBytes is appendField for []byte; a generic version makes the
// callers' stack buffers escape.
func appendFieldBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

func appendTime(buf []byte, ns int64) []byte { return binary.BigEndian.AppendUint64(buf, uint64(ns)) }
