package query

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// Multimodal endpoints: rail and barge departures with the connection
// guard's verdicts, the connections due soon, and truck arrivals at a gate.

// maxWithin bounds departing_within and within.
const maxWithin = 31 * 24 * time.Hour

func (s *Server) multimodalRoutes() []route {
	get := func(h handler) map[string]handler { return map[string]handler{"GET": h} }
	return []route{
		{pattern: "/v1/trains", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.planList(ctx, state.ModeRail) })},
		{pattern: "/v1/trains/{id}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.plan(ctx, state.ModeRail, r.param(0)) })},
		{pattern: "/v1/barges", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.planList(ctx, state.ModeBarge) })},
		{pattern: "/v1/barges/{id}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.plan(ctx, state.ModeBarge, r.param(0)) })},
		{pattern: "/v1/connections", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.connections(ctx) })},
		{pattern: "/v1/gates/{id}/arrivals", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.gateArrivals(ctx, r.param(0)) })},
	}
}

// parseWindow reads a duration parameter (Go syntax: "6h", "90m") from now
// (the "from" parameter, RFC 3339, default the current time) and returns
// [from, from+d).
func (s *Server) parseWindow(ctx *fasthttp.RequestCtx, name string, def time.Duration) (from, to int64, ok bool) {
	args := ctx.QueryArgs()
	now := time.Now()
	if v := args.Peek("from"); len(v) > 0 {
		t, ok := parseTime(ctx, "from", v)
		if !ok {
			return 0, 0, false
		}
		now = t
	}
	d := def
	if v := args.Peek(name); len(v) > 0 {
		var err error
		d, err = time.ParseDuration(string(v))
		if err != nil || d <= 0 || d > maxWithin {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s: want a duration such as 6h or 90m, at most %s, got %q", name, maxWithin, v))
			return 0, 0, false
		}
	}
	if err := state.CheckTime(now.Add(d)); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("from, %s: the window ends at %s", name, err))
		return 0, 0, false
	}
	return now.UnixNano(), now.Add(d).UnixNano(), true
}

// PlanMetrics returns a writer of the plan counters in Prometheus text, for
// Config.Metrics.
func PlanMetrics(st *portstate.State) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "# HELP porttrack_plans_unknown_station_total Rail and barge plan records (each version of a plan counts) whose departure station the port model does not know (judged by time alone, reason unknown_station).\n# TYPE porttrack_plans_unknown_station_total counter\nporttrack_plans_unknown_station_total %d\n", st.PlanMetrics().UnknownStation)
	}
}

func planNoun(m state.Mode) string {
	if m == state.ModeBarge {
		return "barge"
	}
	return "train"
}

// plan answers GET /v1/trains/{id} and /v1/barges/{id}: the consist by
// wagon, each container's verdict and reasons, counts by verdict.
func (s *Server) plan(ctx *fasthttp.RequestCtx, m state.Mode, raw []byte) {
	id := string(raw)
	if len(id) == 0 || len(id) > state.MaxPlanIDLen {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_"+planNoun(m)+"_id", fmt.Sprintf("%q is not a %s id (1 to %d bytes)", raw, planNoun(m), state.MaxPlanIDLen))
		return
	}
	// The plan and the next departure of its service from one snapshot.
	vw := s.cfg.Store.View()
	defer vw.Close()
	p, err := vw.Plan(m, id)
	if err != nil {
		s.storeError(ctx, planNoun(m)+" "+id, err)
		return
	}
	var next *state.PlanState
	if p.Service != "" {
		_ = vw.PlansOfService(p.Service, p.Departure+1, math.MaxInt64, func(n *state.PlanState) error {
			if n.Mode == p.Mode && n.ID == p.ID || n.Departed != 0 {
				return nil
			}
			c := *n
			next = &c
			return errStop
		})
	}
	b := appendPlan(body(ctx), &p, next, true)
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

var errStop = errors.New("stop")

func appendPlanHead(b []byte, p *state.PlanState) []byte {
	b = appendKey(b, true, "id")
	b = appendString(b, p.ID)
	b = appendKey(b, false, "mode")
	b = appendString(b, p.Mode.String())
	if p.Service != "" {
		b = appendKey(b, false, "service")
		b = appendString(b, p.Service)
	}
	b = appendKey(b, false, "from_station")
	b = appendString(b, p.From)
	if p.To != "" {
		b = appendKey(b, false, "to_station")
		b = appendString(b, p.To)
	}
	b = appendKey(b, false, "departure")
	b = appendTime(b, p.Departure)
	b = appendKey(b, false, "cutoff")
	b = appendTime(b, p.Cutoff)
	b = appendKey(b, false, "departed")
	b = appendOptTime(b, p.Departed)
	b = appendKey(b, false, "arrived")
	b = appendOptTime(b, p.Arrived)
	b = appendKey(b, false, "plan_time")
	return appendTime(b, p.Time)
}

func appendOptTime(b []byte, t int64) []byte {
	if t == 0 {
		return append(b, "null"...)
	}
	return appendTime(b, t)
}

func appendPlan(b []byte, p *state.PlanState, next *state.PlanState, consist bool) []byte {
	b = append(b, '{')
	b = appendPlanHead(b, p)
	counts := p.Counts()
	b = appendKey(b, false, "counts")
	b = append(b, '{')
	for i, v := range []state.Verdict{state.VerdictOnTrack, state.VerdictAtRisk, state.VerdictMissed} {
		b = appendKey(b, i == 0, v.String())
		b = strconv.AppendInt(b, int64(counts[v]), 10)
	}
	b = append(b, '}')
	b = appendKey(b, false, "containers")
	b = strconv.AppendInt(b, int64(len(p.Containers)), 10)
	if consist {
		b = appendKey(b, false, "wagons")
		b = append(b, '[')
		for i, w := range p.Wagons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendKey(b, true, "wagon")
			b = appendString(b, w.ID)
			b = appendKey(b, false, "containers")
			b = append(b, '[')
			n := 0
			for j := range p.Containers {
				g := &p.Containers[j]
				if g.Wagon != w.ID {
					continue
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				b = appendGuard(b, g)
			}
			b = append(b, "]}"...)
		}
		b = append(b, ']')
		b = appendKey(b, false, "next_departure")
		if next == nil {
			b = append(b, "null"...)
		} else {
			b = appendDeparture(b, next)
		}
	}
	return append(b, '}')
}

func appendDeparture(b []byte, p *state.PlanState) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "mode")
	b = appendString(b, p.Mode.String())
	b = appendKey(b, false, "id")
	b = appendString(b, p.ID)
	b = appendKey(b, false, "station")
	b = appendString(b, p.From)
	b = appendKey(b, false, "time")
	b = appendTime(b, p.Departure)
	b = appendKey(b, false, "cutoff")
	b = appendTime(b, p.Cutoff)
	return append(b, '}')
}

func appendGuard(b []byte, g *state.GuardState) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "container")
	b = appendString(b, g.Container)
	b = appendKey(b, false, "verdict")
	if g.Verdict == state.VerdictNone {
		b = append(b, "null"...)
	} else {
		b = appendString(b, g.Verdict.String())
	}
	b = appendKey(b, false, "reasons")
	b = append(b, '[')
	for i, r := range g.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendKey(b, true, "code")
		b = appendString(b, r.String())
		b = appendKey(b, false, "message")
		b = appendString(b, r.Message())
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendKey(b, false, "expected_ready")
	b = appendOptTime(b, g.Expected)
	b = appendKey(b, false, "loaded")
	b = appendOptTime(b, g.Loaded)
	return append(b, '}')
}

// departuresQuery is station=<id>&departing_within=<duration>[&from=]&limit=.
type departuresQuery struct {
	station  string
	from, to int64
	limit    int
}

// parseDepartures reads a departures query, answering 400 itself.
func (s *Server) parseDepartures(ctx *fasthttp.RequestCtx) (departuresQuery, bool) {
	var q departuresQuery
	q.station = string(ctx.QueryArgs().Peek("station"))
	if q.station == "" || len(q.station) > state.MaxPlanIDLen {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "station: required, a station id")
		return q, false
	}
	var ok bool
	if q.from, q.to, ok = s.parseWindow(ctx, "departing_within", 24*time.Hour); !ok {
		return q, false
	}
	q.limit, ok = s.limit(ctx, 100)
	return q, ok
}

// planList answers GET /v1/trains?station=<id>&departing_within=<duration>
// (and /v1/barges): the departures from a station in the window, in
// departure order, with their counts by verdict.
func (s *Server) planList(ctx *fasthttp.RequestCtx, m state.Mode) {
	q, ok := s.parseDepartures(ctx)
	if !ok {
		return
	}
	l := newList(ctx, `{"`+planNoun(m)+`s":[`)
	n := 0
	err := s.cfg.Store.PlansFrom(q.station, q.from, q.to, func(p *state.PlanState) error {
		if p.Mode != m {
			return nil
		}
		if n == q.limit {
			return errStop
		}
		n++
		l.b = appendPlan(l.next(), p, nil, false)
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	s.finishList(ctx, &l, "]}", err, planNoun(m)+" list")
}

// connections answers GET /v1/connections?departing_within=&verdict=&station=&mode=:
// containers planned on departures in the window, with their verdicts,
// filtered by verdict.
func (s *Server) connections(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	var verdict state.Verdict
	if v := args.Peek("verdict"); len(v) > 0 {
		var ok bool
		if verdict, ok = state.ParseVerdict(string(v)); !ok {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("verdict: want on_track, at_risk or missed, got %q", v))
			return
		}
	}
	var mode state.Mode
	if v := args.Peek("mode"); len(v) > 0 {
		var ok bool
		if mode, ok = state.ParseMode(string(v)); !ok {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("mode: want rail or barge, got %q", v))
			return
		}
	}
	q, ok := s.parseDepartures(ctx)
	if !ok {
		return
	}
	l := newList(ctx, `{"connections":[`)
	n := 0
	err := s.cfg.Store.PlansFrom(q.station, q.from, q.to, func(p *state.PlanState) error {
		if mode != 0 && p.Mode != mode {
			return nil
		}
		for i := range p.Containers {
			g := &p.Containers[i]
			if verdict != state.VerdictNone && g.Verdict != verdict {
				continue
			}
			if n == q.limit {
				return errStop
			}
			n++
			b := append(l.next(), '{')
			b = appendKey(b, true, "departure")
			b = appendDeparture(b, p)
			b = appendKey(b, false, "wagon")
			b = appendString(b, g.Wagon)
			b = append(b, ',')
			gj := appendGuard(nil, g)
			l.b = append(append(b, gj[1:len(gj)-1]...), '}')
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	s.finishList(ctx, &l, "]}", err, "connection list")
}

// gateArrivals answers GET /v1/gates/{id}/arrivals?within=<duration>: the
// trucks with an appointment at the gate starting in the window, with their
// latest position, distance to the gate and an arrival estimate at the
// truck's reported speed (at least 20 km/h in port traffic).
func (s *Server) gateArrivals(ctx *fasthttp.RequestCtx, raw []byte) {
	gate := string(raw)
	if len(gate) > state.MaxPlanIDLen {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_gate_id", fmt.Sprintf("%q is not a gate id", raw))
		return
	}
	from, to, ok := s.parseWindow(ctx, "within", 2*time.Hour)
	if !ok {
		return
	}
	limit, ok := s.limit(ctx, 100)
	if !ok {
		return
	}
	var at *geo.LatLng
	if f, ok := s.cfg.Store.PortModel().Fence(gate); ok && len(f.Polygons) > 0 && len(f.Polygons[0].Outer) > 0 {
		// The mean of the outer ring's vertices: a gate is small and convex.
		var c geo.LatLng
		for _, v := range f.Polygons[0].Outer {
			c.Lat += v.Lat / float64(len(f.Polygons[0].Outer))
			c.Lng += v.Lng / float64(len(f.Polygons[0].Outer))
		}
		at = &c
	}
	l := newList(ctx, `{"gate":`+strconv.Quote(gate)+`,"located":`+strconv.FormatBool(at != nil)+`,"arrivals":[`)
	n := 0
	now := time.Now().UnixNano()
	err := s.cfg.Store.GateAppointments(gate, from, to, func(w *state.Waybill) error {
		if n == limit {
			return errStop
		}
		n++
		b := append(l.next(), '{')
		b = appendKey(b, true, "waybill")
		b = appendString(b, w.ID)
		b = appendKey(b, false, "plate")
		b = appendString(b, w.Plate)
		b = appendKey(b, false, "containers")
		b = append(b, '[')
		for i, c := range w.Containers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
		b = appendKey(b, false, "appointment")
		b = append(b, '{')
		b = appendKey(b, true, "start")
		b = appendTime(b, w.ApptStart)
		b = appendKey(b, false, "end")
		b = appendTime(b, w.ApptEnd)
		b = append(b, '}')
		if w.Status != "" {
			b = appendKey(b, false, "status")
			b = appendString(b, w.Status)
		}
		if t, err := s.cfg.Store.Trucks.Truck(w.Plate); err == nil {
			b = appendKey(b, false, "position")
			b = append(b, '{')
			b = appendKey(b, true, "lat")
			b = appendDegrees(b, t.Lat)
			b = appendKey(b, false, "lon")
			b = appendDegrees(b, t.Lon)
			b = appendKey(b, false, "time")
			b = appendTime(b, t.Time)
			b = append(b, '}')
			if at != nil {
				d := geo.DistanceMeters(*at, geo.LatLng{Lat: t.Lat, Lng: t.Lon})
				b = appendKey(b, false, "distance_m")
				b = appendFixed(b, d, 1)
				speed := 20.0
				if t.SpeedKmh != state.UnknownFloat && t.SpeedKmh > speed {
					speed = t.SpeedKmh
				}
				eta := max(t.Time, now) + int64(d/(speed/3.6)*1e9)
				b = appendKey(b, false, "eta")
				b = appendTime(b, eta)
			}
		} else if !errors.Is(err, state.ErrNotFound) {
			return err
		}
		l.b = append(b, '}')
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	s.finishList(ctx, &l, "]}", err, "gate arrivals")
}
