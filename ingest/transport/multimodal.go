package transport

import (
	"errors"

	"github.com/valyala/fastjson"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

// Record types of plans, plan events and waybills.
const (
	TypeTruckWaybill = "truck.waybill"
	TypeRailPlan     = "rail.plan"
	TypeRailEvent    = "rail.event"
	TypeBargePlan    = "barge.plan"
	TypeBargeEvent   = "barge.event"
)

// str reads an optional string member ("" when absent), bounded.
func str(o *fastjson.Value, typ, key string, required bool) (string, error) {
	v := member(o, key)
	if v == nil {
		if required {
			return "", decode.Errorf(decode.ReasonMissingField, "%s has no %s", typ, key)
		}
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want a string", key, v.Type())
	}
	if len(b) > state.MaxPlanIDLen {
		return "", decode.Errorf(decode.ReasonBadField, "%s longer than %d bytes", key, state.MaxPlanIDLen)
	}
	if required && len(b) == 0 {
		return "", decode.Errorf(decode.ReasonMissingField, "%s has an empty %s", typ, key)
	}
	return string(b), nil
}

func timeField(o *fastjson.Value, typ, key string, required bool) (int64, error) {
	v := member(o, key)
	if v == nil {
		if required {
			return 0, decode.Errorf(decode.ReasonMissingField, "%s has no %s", typ, key)
		}
		return 0, nil
	}
	t, err := readTime(v)
	if err != nil {
		var de *decode.Error
		if errors.As(err, &de) {
			return 0, decode.Errorf(de.Reason, "%s: %s", key, de.Msg)
		}
		return 0, err
	}
	return t, nil
}

// containers reads an array of container numbers (each normalised and
// check-digit verified).
func containers(o *fastjson.Value, key string) ([]string, error) {
	v := member(o, key)
	if v == nil {
		return nil, nil
	}
	arr, err := v.Array()
	if err != nil {
		return nil, decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want an array", key, v.Type())
	}
	if len(arr) > state.MaxPlanContainers {
		return nil, decode.Errorf(decode.ReasonBadField, "%s lists %d containers, more than %d", key, len(arr), state.MaxPlanContainers)
	}
	out := make([]string, 0, len(arr))
	for i, c := range arr {
		b, err := c.StringBytes()
		if err != nil {
			return nil, decode.Errorf(decode.ReasonBadField, "%s[%d] is a JSON %s, want a string", key, i, c.Type())
		}
		id, err := parseContainer(b)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func decodePlan(v *fastjson.Value, typ string, mode state.Mode) (state.Plan, error) {
	p := state.Plan{Mode: mode}
	var err error
	if p.ID, err = planID(v, typ, mode); err != nil {
		return p, err
	}
	if p.Service, err = str(v, typ, "service", false); err != nil {
		return p, err
	}
	if p.From, err = str(v, typ, "from_station", true); err != nil {
		return p, err
	}
	if p.To, err = str(v, typ, "to_station", false); err != nil {
		return p, err
	}
	if p.Departure, err = timeField(v, typ, "departure", true); err != nil {
		return p, err
	}
	if p.Cutoff, err = timeField(v, typ, "cutoff", false); err != nil {
		return p, err
	}
	if p.Cutoff == 0 {
		p.Cutoff = p.Departure // no cutoff given: ready by the departure
	}
	if p.Time, err = timeField(v, typ, "t", true); err != nil {
		return p, err
	}
	if wv := member(v, "wagons"); wv != nil {
		ws, err := wv.Array()
		if err != nil {
			return p, decode.Errorf(decode.ReasonBadField, "wagons is a JSON %s, want an array", wv.Type())
		}
		if len(ws) > state.MaxPlanContainers {
			return p, decode.Errorf(decode.ReasonBadField, "%d wagons, more than %d", len(ws), state.MaxPlanContainers)
		}
		for i, w := range ws {
			if w.Type() != fastjson.TypeObject {
				return p, decode.Errorf(decode.ReasonBadField, "wagons[%d] is a JSON %s, want an object", i, w.Type())
			}
			id, err := str(w, "wagon", "wagon", true)
			if err != nil {
				return p, err
			}
			cs, err := containers(w, "containers")
			if err != nil {
				return p, err
			}
			p.Wagons = append(p.Wagons, state.Wagon{ID: id, Containers: cs})
		}
	}
	if err := p.Validate(); err != nil {
		return p, decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
	}
	return p, nil
}

// planID reads the id of a train ("train") or barge ("barge", or "train"
// as in the rail shape).
func planID(v *fastjson.Value, typ string, mode state.Mode) (string, error) {
	if mode == state.ModeBarge && member(v, "barge") != nil {
		return str(v, typ, "barge", true)
	}
	return str(v, typ, "train", true)
}

func decodePlanEvent(v *fastjson.Value, typ string, mode state.Mode) (state.PlanEvent, error) {
	e := state.PlanEvent{Mode: mode}
	var err error
	if e.Plan, err = planID(v, typ, mode); err != nil {
		return e, err
	}
	if e.Station, err = str(v, typ, "station", false); err != nil {
		return e, err
	}
	if e.Event, err = str(v, typ, "event", true); err != nil {
		return e, err
	}
	if e.Wagon, err = str(v, typ, "wagon", false); err != nil {
		return e, err
	}
	if cv := member(v, "container"); cv != nil {
		b, err := cv.StringBytes()
		if err != nil {
			return e, decode.Errorf(decode.ReasonBadField, "container is a JSON %s, want a string", cv.Type())
		}
		if e.Container, err = parseContainer(b); err != nil {
			return e, err
		}
	}
	if e.Time, err = timeField(v, typ, "t", true); err != nil {
		return e, err
	}
	if err := e.Validate(); err != nil {
		return e, decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
	}
	return e, nil
}

func decodeWaybill(v *fastjson.Value) (state.Waybill, error) {
	const typ = TypeTruckWaybill
	var w state.Waybill
	var err error
	if w.ID, err = str(v, typ, "waybill", true); err != nil {
		return w, err
	}
	pv := member(v, "plate")
	if pv == nil {
		return w, decode.Errorf(decode.ReasonMissingField, "%s has no plate", typ)
	}
	pb, err := pv.StringBytes()
	if err != nil || len(pb) > 4*state.MaxPlateRunes+16 {
		return w, decode.Errorf(decode.ReasonBadField, "plate is not a plate string")
	}
	if w.Plate, err = state.ParsePlate(string(pb)); err != nil {
		return w, decode.Errorf(decode.ReasonBadField, "plate %.64q: %v", pb, err)
	}
	if w.Containers, err = containers(v, "containers"); err != nil {
		return w, err
	}
	if cv := member(v, "container"); cv != nil { // the one-box form
		b, err := cv.StringBytes()
		if err != nil {
			return w, decode.Errorf(decode.ReasonBadField, "container is a JSON %s, want a string", cv.Type())
		}
		c, err := parseContainer(b)
		if err != nil {
			return w, err
		}
		w.Containers = append(w.Containers, c)
	}
	if w.From, err = str(v, typ, "from", false); err != nil {
		return w, err
	}
	if w.To, err = str(v, typ, "to", false); err != nil {
		return w, err
	}
	if w.Status, err = str(v, typ, "status", false); err != nil {
		return w, err
	}
	if av := member(v, "appointment"); av != nil {
		if av.Type() != fastjson.TypeObject {
			return w, decode.Errorf(decode.ReasonBadField, "appointment is a JSON %s, want an object", av.Type())
		}
		if w.Gate, err = str(av, "appointment", "gate", false); err != nil {
			return w, err
		}
		if w.ApptStart, err = timeField(av, "appointment", "start", true); err != nil {
			return w, err
		}
		if w.ApptEnd, err = timeField(av, "appointment", "end", true); err != nil {
			return w, err
		}
	}
	if w.Time, err = timeField(v, typ, "t", true); err != nil {
		return w, err
	}
	if err := w.Validate(); err != nil {
		return w, decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
	}
	return w, nil
}

// decodeMultimodal appends a plan, plan event or waybill of type typ to b;
// ok is false when typ is none of them.
func decodeMultimodal(b *state.Batch, v *fastjson.Value, typ []byte) (ok bool, err error) {
	switch string(typ) {
	case TypeRailPlan, TypeBargePlan:
		mode := state.ModeRail
		if string(typ) == TypeBargePlan {
			mode = state.ModeBarge
		}
		p, err := decodePlan(v, string(typ), mode)
		if err != nil {
			return true, err
		}
		b.Plans = append(b.Plans, p)
	case TypeRailEvent, TypeBargeEvent:
		mode := state.ModeRail
		if string(typ) == TypeBargeEvent {
			mode = state.ModeBarge
		}
		e, err := decodePlanEvent(v, string(typ), mode)
		if err != nil {
			return true, err
		}
		b.PlanEvents = append(b.PlanEvents, e)
	case TypeTruckWaybill:
		w, err := decodeWaybill(v)
		if err != nil {
			return true, err
		}
		b.Waybills = append(b.Waybills, w)
	default:
		return false, nil
	}
	return true, nil
}
