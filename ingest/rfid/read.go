package rfid

import (
	"bytes"
	"strconv"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
	"github.com/valyala/fastjson"
)

// decodeRead appends the event of one compact reader read:
//
//	{"reader":"BLCT-GATE-L1","antenna":2,"epc":"urn:epc:id:bic:CSQU3054383",
//	 "t":"2026-11-22T08:00:00Z","rssi":-52.5,"dir":"in"}
//
// "epc" may hold a plain container number, or "container" replace it; "t"
// may be Unix milliseconds. rssi is not decoded: grouping reads by signal
// strength happens downstream.
func (d *Decoder) decodeRead(dst []state.Event, v *fastjson.Value) ([]state.Event, error) {
	id, err := optString(v, "reader", state.MaxFieldLen)
	if err != nil {
		return dst, err
	}
	r, ok := d.readers[string(id)]
	if !ok {
		return dst, decode.Errorf(decode.ReasonUnknownReader, "reader %.64q is not in the reader table", id)
	}

	cv := member(v, "epc")
	if cv == nil {
		cv = member(v, "container")
	}
	if cv == nil {
		return dst, decode.Errorf(decode.ReasonMissingField, "read has neither epc nor container")
	}
	cb, err := cv.StringBytes()
	if err != nil {
		return dst, decode.Errorf(decode.ReasonBadField, "epc/container is a JSON %s, want a string", cv.Type())
	}
	container, err := parseContainer(bytes.TrimPrefix(cb, []byte(bicPrefix)))
	if err != nil {
		return dst, err
	}

	t, err := readTime(member(v, "t"))
	if err != nil {
		return dst, err
	}

	// The antenna only tells reads apart; keep its text, "" when absent.
	var antBuf [20]byte
	var antenna []byte
	if av := member(v, "antenna"); av != nil {
		n, err := av.Int64()
		if err != nil { // not a number, a fraction or out of range
			return dst, decode.Errorf(decode.ReasonBadField, "antenna %.64s is not an integer", av)
		}
		antenna = strconv.AppendInt(antBuf[:0], n, 10)
	}

	dir := v.GetStringBytes("dir")
	if dv := member(v, "dir"); dv != nil && string(dir) != "in" && string(dir) != "out" {
		return dst, decode.Errorf(decode.ReasonBadField, "dir %.64s, want \"in\" or \"out\"", dv)
	}
	code := r.code
	if code == state.CodeUnknown {
		switch string(dir) {
		case "in":
			code = state.CodeGTIN
		case "out":
			code = state.CodeGTOT
		default:
			return dst, decode.Errorf(decode.ReasonBadField, "reader %s reads both ways and the read has no dir", r.id)
		}
	}

	var scratch [256]byte
	content := appendField(scratch[:0], sourceRead)
	content = appendField(content, r.id)
	content = appendFieldBytes(content, antenna)
	content = appendField(content, container)
	content = appendTime(content, t)
	content = appendFieldBytes(content, dir)
	e := state.Event{
		ID:        hashID(content),
		Container: container,
		Code:      code,
		Time:      t,
		Location:  r.facility,
		ReadPoint: r.id,
		Source:    sourceRead,
	}
	if err := checkEvent(&e); err != nil {
		return dst, err
	}
	return append(dst, e), nil
}

// readTime decodes "t": an RFC 3339 string or Unix milliseconds.
func readTime(v *fastjson.Value) (int64, error) {
	if v == nil {
		return 0, decode.Errorf(decode.ReasonMissingField, "read has no t")
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return parseTime(b)
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
