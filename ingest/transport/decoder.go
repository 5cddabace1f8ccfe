package transport

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

// Decoder turns record values of the port.transport topic into truck
// reports, rail and barge plans and events, and truck waybills. The zero
// value is ready to use.
type Decoder struct {
	parsers fastjson.ParserPool
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return new(Decoder) }

// TypeTruckPosition is the record type of truck GNSS positions.
const TypeTruckPosition = "truck.position"

// Labels of ignored records: the known types of later work by name, any
// other type of their families by the family's wildcard.
var ignoredTypes = [...]string{
	"truck.appointment", "truck.*",
	"rail.*",
	"barge.*",
}

// IgnoredTypes returns every label Decode may return for an ignored record,
// in a fixed order (for metrics).
func IgnoredTypes() []string { return ignoredTypes[:] }

// ignoredLabel returns the label of a type this package ignores, "" when
// the type is not one of the topic's message families.
func ignoredLabel(typ []byte) string {
	for _, l := range ignoredTypes {
		if family, ok := strings.CutSuffix(l, "*"); ok {
			if len(typ) > len(family) && string(typ[:len(family)]) == family {
				return l
			}
		} else if string(typ) == l {
			return l
		}
	}
	return ""
}

// Decode appends what one record value holds to b: a truck position
// (b.Trucks), a rail or barge plan (b.Plans), a rail or barge event
// (b.PlanEvents) or a truck waybill (b.Waybills). ignored is not "" when
// the record is a message type of the topic that this package does not
// decode: then it is the label to count it under (one of IgnoredTypes), b
// is unchanged and err is nil.
//
// A record is all or nothing: on error Decode leaves b as it found it and
// returns a *decode.Error whose Reason is one of the decode.Reason* codes.
// What it appends owns its strings; value may be reused after Decode
// returns.
func (d *Decoder) Decode(b *state.Batch, value []byte) (ignored string, err error) {
	if len(value) == 0 {
		return "", decode.Errorf(decode.ReasonEmpty, "empty record value")
	}
	p := d.parsers.Get()
	defer d.parsers.Put(p)
	v, err := p.ParseBytes(value)
	if err != nil {
		return "", decode.Errorf(decode.ReasonInvalidJSON, "%v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return "", decode.Errorf(decode.ReasonUnknownFormat, "JSON %s, want an object", v.Type())
	}
	tv := member(v, "type")
	if tv == nil {
		return "", decode.Errorf(decode.ReasonMissingField, "object has no \"type\"")
	}
	typ, err := tv.StringBytes()
	if err != nil {
		return "", decode.Errorf(decode.ReasonBadField, "type is a JSON %s, want a string", tv.Type())
	}
	if string(typ) == TypeTruckPosition {
		r, err := decodePosition(v)
		if err != nil {
			return "", err
		}
		b.Trucks = append(b.Trucks, r)
		return "", nil
	}
	if ok, err := decodeMultimodal(b, v, typ); ok {
		return "", err
	}
	if l := ignoredLabel(typ); l != "" {
		return l, nil
	}
	return "", decode.Errorf(decode.ReasonUnknownFormat, "type %.64q is not a port.transport message", typ)
}

// decodePosition decodes a truck.position object.
func decodePosition(v *fastjson.Value) (state.TruckReport, error) {
	r := state.TruckReport{SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt}
	pv := member(v, "plate")
	if pv == nil {
		return r, decode.Errorf(decode.ReasonMissingField, "truck.position has no plate")
	}
	pb, err := pv.StringBytes()
	if err != nil {
		return r, decode.Errorf(decode.ReasonBadField, "plate is a JSON %s, want a string", pv.Type())
	}
	if len(pb) > 4*state.MaxPlateRunes+16 { // before copying: plates are short
		return r, decode.Errorf(decode.ReasonBadField, "plate longer than %d characters", state.MaxPlateRunes)
	}
	if r.Plate, err = state.ParsePlate(string(pb)); err != nil {
		return r, decode.Errorf(decode.ReasonBadField, "plate %.64q: %v", pb, err)
	}

	if r.Lat, err = number(v, "lat", -90, 90, true); err != nil {
		return r, err
	}
	if r.Lon, err = number(v, "lon", -180, 180, true); err != nil {
		return r, err
	}
	if r.Time, err = readTime(member(v, "t")); err != nil {
		return r, err
	}
	if member(v, "speed") != nil {
		if r.SpeedKmh, err = number(v, "speed", 0, state.MaxTruckSpeedKmh, false); err != nil {
			return r, err
		}
	}
	if member(v, "heading") != nil {
		h, err := number(v, "heading", 0, 360, false)
		if err != nil {
			return r, err
		}
		// Terminals send whole or fractional degrees, some 360 for north.
		r.Heading = int(math.Round(h)) % 360
	}
	if cv := member(v, "container"); cv != nil {
		cb, err := cv.StringBytes()
		if err != nil {
			return r, decode.Errorf(decode.ReasonBadField, "container is a JSON %s, want a string", cv.Type())
		}
		if len(cb) > 0 {
			if r.Container, err = parseContainer(cb); err != nil {
				return r, err
			}
		}
	}
	if err := r.Validate(); err != nil {
		// The last line of defence: nothing reaches state.Apply that
		// Validate rejects.
		return r, decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
	}
	return r, nil
}

// member returns the member key of object o, or nil when it is absent or
// null: optional fields are sent either way.
func member(o *fastjson.Value, key string) *fastjson.Value {
	v := o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

// number returns the numeric member key of o within [lo, hi].
func number(o *fastjson.Value, key string, lo, hi float64, required bool) (float64, error) {
	v := member(o, key)
	if v == nil {
		if required {
			return 0, decode.Errorf(decode.ReasonMissingField, "truck.position has no %s", key)
		}
		return 0, nil
	}
	f, err := v.Float64()
	if err != nil {
		return 0, decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want a number", key, v.Type())
	}
	if !(f >= lo && f <= hi) {
		return 0, decode.Errorf(decode.ReasonBadField, "%s %v out of range [%v, %v]", key, f, lo, hi)
	}
	return f, nil
}

// parseContainer validates an ISO 6346 number and maps failures to reasons.
func parseContainer(b []byte) (string, error) {
	if state.CheckContainer(string(b)) == nil {
		return string(b), nil
	}
	c, err := state.ParseContainer(string(b))
	switch {
	case errors.Is(err, state.ErrContainerCheckDigit):
		return "", decode.Errorf(decode.ReasonCheckDigit, "container %.64q: %v", b, err)
	case err != nil:
		return "", decode.Errorf(decode.ReasonBadContainer, "container %.64q: %v", b, state.ErrContainerFormat)
	}
	return c, nil
}

// maxUnixSec is 2200-01-01T00:00:00Z: later times are typos or unit errors.
const maxUnixSec = 7258118400

// readTime decodes "t": an RFC 3339 string with a zone offset (or Z) or
// Unix milliseconds, after 1970 and before 2200.
func readTime(v *fastjson.Value) (int64, error) {
	if v == nil {
		return 0, decode.Errorf(decode.ReasonMissingField, "truck.position has no t")
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		t, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return 0, decode.Errorf(decode.ReasonBadTime, "t %.64q is not an RFC 3339 time with offset", b)
		}
		if sec := t.Unix(); sec < 0 || sec >= maxUnixSec || t.UnixNano() == 0 {
			return 0, decode.Errorf(decode.ReasonBadTime, "t %.64q outside 1970..2200", b)
		}
		return t.UnixNano(), nil
	case fastjson.TypeNumber:
		ms, err := v.Int64()
		if err != nil {
			return 0, decode.Errorf(decode.ReasonBadTime, "t %.64s is not integer milliseconds", v)
		}
		if ms <= 0 || ms >= maxUnixSec*1000 {
			return 0, decode.Errorf(decode.ReasonBadTime, "t %d ms outside 1970..2200", ms)
		}
		return ms * 1e6, nil
	}
	return 0, decode.Errorf(decode.ReasonBadTime, "t is a JSON %s, want a string or a number", v.Type())
}
