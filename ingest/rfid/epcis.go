package rfid

import (
	"bytes"
	"fmt"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
	"github.com/valyala/fastjson"
)

// EPC and CBV URI prefixes.
const (
	bicPrefix         = "urn:epc:id:bic:"
	bizStepWebPrefix  = "https://ref.gs1.org/cbv/BizStep-"
	bizStepURNPrefix  = "urn:epcglobal:cbv:bizstep:"
	dispositionWebPfx = "https://ref.gs1.org/cbv/Disp-"
	dispositionURNPfx = "urn:epcglobal:cbv:disp:"
)

// decodeDocument decodes every event of an EPCISDocument; one bad event
// fails the document.
func decodeDocument(dst []state.Event, doc *fastjson.Value) ([]state.Event, error) {
	body := member(doc, "epcisBody")
	if body == nil {
		return dst, decode.Errorf(decode.ReasonMissingField, "EPCISDocument has no epcisBody")
	}
	if body.Type() != fastjson.TypeObject {
		return dst, decode.Errorf(decode.ReasonBadField, "epcisBody is a JSON %s, want an object", body.Type())
	}
	list := member(body, "eventList")
	if list == nil {
		return dst, decode.Errorf(decode.ReasonMissingField, "epcisBody has no eventList")
	}
	events, err := list.Array()
	if err != nil {
		return dst, decode.Errorf(decode.ReasonBadField, "eventList is a JSON %s, want an array", list.Type())
	}
	for i, ev := range events {
		if ev.Type() != fastjson.TypeObject {
			return dst, decode.Errorf(decode.ReasonBadField, "eventList[%d] is a JSON %s, want an object", i, ev.Type())
		}
		if dst, err = decodeEvent(dst, ev); err != nil {
			return dst, within(err, fmt.Sprintf("eventList[%d]", i))
		}
	}
	return dst, nil
}

// decodeEvent appends one event per container EPC of an ObjectEvent
// (epcList) or AggregationEvent (childEPCs). The parentID of an
// AggregationEvent (a vessel or wagon) is not decoded yet.
func decodeEvent(dst []state.Event, ev *fastjson.Value) ([]state.Event, error) {
	typ := ev.GetStringBytes("type")
	var epcsKey string
	switch string(typ) {
	case "ObjectEvent":
		epcsKey = "epcList"
	case "AggregationEvent":
		epcsKey = "childEPCs"
	case "TransactionEvent", "TransformationEvent", "AssociationEvent", "EPCISQueryDocument":
		return dst, decode.Errorf(decode.ReasonUnsupported, "EPCIS %s", typ)
	default:
		return dst, decode.Errorf(decode.ReasonUnknownFormat, "type %.64q is not an EPCIS document or event", typ)
	}

	step, code, err := bizStep(ev)
	if err != nil {
		return dst, err
	}
	tv := member(ev, "eventTime")
	if tv == nil {
		return dst, decode.Errorf(decode.ReasonMissingField, "%s has no eventTime", typ)
	}
	tb, err := tv.StringBytes()
	if err != nil {
		return dst, decode.Errorf(decode.ReasonBadTime, "eventTime is a JSON %s, want a string", tv.Type())
	}
	t, err := parseTime(tb)
	if err != nil {
		return dst, err
	}
	if err := checkZoneOffset(ev); err != nil {
		return dst, err
	}
	readPoint, err := locationID(ev, "readPoint")
	if err != nil {
		return dst, err
	}
	bizLocation, err := locationID(ev, "bizLocation")
	if err != nil {
		return dst, err
	}
	disp, err := optString(ev, "disposition", len(dispositionWebPfx)+state.MaxFieldLen)
	if err != nil {
		return dst, err
	}
	disp = trimPrefixes(disp, dispositionWebPfx, dispositionURNPfx)
	if len(disp) > state.MaxFieldLen {
		return dst, decode.Errorf(decode.ReasonBadField, "disposition longer than %d bytes", state.MaxFieldLen)
	}
	eventID, err := optString(ev, "eventID", state.MaxIDLen)
	if err != nil {
		return dst, err
	}
	links, err := refs(ev)
	if err != nil {
		return dst, err
	}
	var epcs []*fastjson.Value
	if v := member(ev, epcsKey); v != nil {
		if epcs, err = v.Array(); err != nil {
			return dst, decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want an array", epcsKey, v.Type())
		}
	}

	location := bizLocation
	if len(location) == 0 {
		location = readPoint
	}
	e := state.Event{
		Code:        code,
		Time:        t,
		Location:    string(location),
		ReadPoint:   string(readPoint),
		Source:      sourceEPCIS,
		Disposition: string(disp),
		Refs:        links,
	}
	first := len(dst)
	for i, v := range epcs {
		epc, err := v.StringBytes()
		if err != nil {
			return dst, decode.Errorf(decode.ReasonBadField, "%s[%d] is a JSON %s, want a string", epcsKey, i, v.Type())
		}
		bic, ok := bytes.CutPrefix(epc, []byte(bicPrefix))
		if !ok {
			continue // an SSCC, SGTIN, ... inside or beside the box
		}
		if e.Container, err = parseContainer(bic); err != nil {
			return dst, err
		}
		dst = append(dst, e)
	}
	rows := dst[first:]
	switch {
	case len(rows) == 0:
		return dst, decode.Errorf(decode.ReasonMissingField, "%s has no %s EPC in %s", typ, bicPrefix, epcsKey)
	case len(eventID) > 0 && len(rows) > 1 && len(eventID)+1+state.ContainerLen > state.MaxIDLen:
		return dst, decode.Errorf(decode.ReasonBadField, "eventID too long to qualify with a container")
	}
	var scratch [256]byte
	for i := range rows {
		r := &rows[i]
		switch {
		case len(eventID) == 0:
			content := appendField(scratch[:0], sourceEPCIS)
			content = appendFieldBytes(content, typ)
			content = appendFieldBytes(content, step)
			content = appendTime(content, t)
			content = appendField(content, r.Container)
			content = appendFieldBytes(content, readPoint)
			content = appendFieldBytes(content, bizLocation)
			r.ID = hashID(content)
		case len(rows) == 1:
			r.ID = string(eventID)
		default:
			r.ID = string(eventID) + "#" + r.Container
		}
		if err := checkEvent(r); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// bizStep returns the bare CBV word of the event's bizStep and its code.
func bizStep(ev *fastjson.Value) ([]byte, state.Code, error) {
	step := trimPrefixes(ev.GetStringBytes("bizStep"), bizStepWebPrefix, bizStepURNPrefix)
	var code state.Code
	switch string(step) {
	case "arriving":
		code = state.CodeGTIN
	case "departing":
		code = state.CodeGTOT
	case "loading":
		code = state.CodeLOAD
	case "unloading":
		code = state.CodeDISC
	case "inspecting":
		code = state.CodeINSP
	case "holding":
		code = state.CodeHOLD
	case "storing": // CBV 2.0: moving an object into a location for storage
		code = state.CodeSTOR
	default:
		return nil, 0, decode.Errorf(decode.ReasonUnknownBizStep, "bizStep %.64q has no event code", step)
	}
	return step, code, nil
}

// locationID returns the id of a readPoint or bizLocation member, nil when
// it is absent.
func locationID(ev *fastjson.Value, key string) ([]byte, error) {
	v := member(ev, key)
	if v == nil {
		return nil, nil
	}
	if v.Type() != fastjson.TypeObject {
		return nil, decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want an object", key, v.Type())
	}
	id, err := optString(v, "id", state.MaxFieldLen)
	return id, within(err, key)
}

// trimPrefixes strips the first of the URI prefixes that b has.
func trimPrefixes(b []byte, prefixes ...string) []byte {
	for _, p := range prefixes {
		if rest, ok := bytes.CutPrefix(b, []byte(p)); ok {
			return rest
		}
	}
	return b
}

// checkZoneOffset checks eventTimeZoneOffset when present: EPCIS writes it
// as ±hh:mm, and real offsets lie within ±14:00. The event time carries
// its own offset, so this one is not used; but a document that gets it
// wrong is malformed and its times are not to be trusted.
func checkZoneOffset(ev *fastjson.Value) error {
	v := member(ev, "eventTimeZoneOffset")
	if v == nil {
		return nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return decode.Errorf(decode.ReasonBadTime, "eventTimeZoneOffset is a JSON %s, want a string such as +08:00", v.Type())
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	ok := len(b) == 6 && (b[0] == '+' || b[0] == '-') && digit(b[1]) && digit(b[2]) && b[3] == ':' && digit(b[4]) && digit(b[5])
	if ok {
		h, m := int(b[1]-'0')*10+int(b[2]-'0'), int(b[4]-'0')*10+int(b[5]-'0')
		ok = m < 60 && h*60+m <= 14*60
	}
	if !ok {
		return decode.Errorf(decode.ReasonBadTime, "eventTimeZoneOffset %.16q is not ±hh:mm within ±14:00", b)
	}
	return nil
}
