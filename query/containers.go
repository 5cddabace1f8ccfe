package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// containerRoutes are the container endpoints: current and as-of state,
// history, and the dispatcher lists (containers at a place, dwell).
func (s *Server) containerRoutes() []route {
	get := func(h handler) map[string]handler { return map[string]handler{"GET": h} }
	return []route{
		{pattern: "/v1/containers", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.containerList(ctx, r) })},
		{pattern: "/v1/containers/{id}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.container(ctx, r.param(0)) })},
		{pattern: "/v1/containers/{id}/events", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.containerEvents(ctx, r.param(0)) })},
	}
}

// parseContainerID validates the {id} path segment.
func parseContainerID(ctx *fasthttp.RequestCtx, raw []byte) (string, bool) {
	id, err := state.ParseContainer(string(raw))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_container_id", err.Error())
		return "", false
	}
	return id, true
}

// parseAt reads at (RFC 3339) as Unix ns; has is false when absent.
func parseAt(ctx *fasthttp.RequestCtx) (at int64, has, ok bool) {
	v := ctx.QueryArgs().Peek("at")
	if len(v) == 0 {
		return 0, false, true
	}
	t, ok := parseTime(ctx, "at", v)
	if !ok {
		return 0, false, false
	}
	if t.UnixNano() == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("at: want an RFC 3339 time such as 2026-11-22T08:00:00Z, got %q", v))
		return 0, false, false
	}
	return t.UnixNano(), true, true
}

// parseCount reads count=true|false.
func parseCount(ctx *fasthttp.RequestCtx) (count, ok bool) {
	switch v := string(ctx.QueryArgs().Peek("count")); v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("count: want true or false, got %q", v))
		return false, false
	}
}

// container answers GET /v1/containers/{id}[?at=T]: the current state, or
// the state at T from the history.
func (s *Server) container(ctx *fasthttp.RequestCtx, raw []byte) {
	id, ok := parseContainerID(ctx, raw)
	if !ok {
		return
	}
	at, hasAt, ok := parseAt(ctx)
	if !ok {
		return
	}
	if hasAt {
		s.containerAt(ctx, id, at)
		return
	}
	// Every family of the answer is read from one snapshot, so that the
	// answer never mixes two batches (state.View).
	vw := s.cfg.Store.View()
	defer vw.Close()
	c, err := vw.Container(id)
	if errors.Is(err, state.ErrNotFound) {
		s.customsOnlyContainer(ctx, vw, id) // a box only customs spoke of
		return
	}
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	if s.hookContainerRead != nil {
		s.hookContainerRead()
	}
	loc, err := vw.ContainerLocation(id)
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	var pos *containerPosition
	if p, ok := s.viewContainerPosition(vw, id); ok {
		pos = &p
	} else if loc.Vessel != 0 {
		// Loaded onto a ship: the ship's position.
		v, err := vw.Vessel(loc.Vessel)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			s.storeError(ctx, "container "+id, err)
			return
		}
		if err == nil && v.HasPosition {
			pos = &containerPosition{lat: v.Lat, lon: v.Lon, source: "vessel:" + strconv.FormatUint(uint64(v.MMSI), 10), time: v.PosTime}
		}
	}
	var place *state.Place
	if loc.HasPlace {
		place = &loc.Place
	}
	legs, err := vw.ContainerLegs(id)
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	b := body(ctx)
	b = appendContainer(b, &c, place, pos, 0)
	b = appendTransport(b[:len(b)-1], &legs)
	// The customs state and pickup readiness.
	b, _, err = appendCustomsReadiness(b, s.cfg.Store.Customs, vw, id, &c)
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	ctx.SetContentType("application/json")
	setBody(ctx, append(b, '}'))
}

// appendTransport writes a container's legs as the "transport" member:
// the mode it moves by now, its current and next legs, and all of them.
func appendTransport(b []byte, l *state.Legs) []byte {
	b = appendKey(b, false, "transport")
	b = append(b, '{')
	b = appendKey(b, true, "mode")
	if l.Mode == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, l.Mode)
	}
	for _, f := range []struct {
		key string
		i   int
	}{{"current_leg", l.Current}, {"next_leg", l.Next}} {
		b = appendKey(b, false, f.key)
		if f.i < 0 {
			b = append(b, "null"...)
		} else {
			b = appendLeg(b, &l.Legs[f.i])
		}
	}
	b = appendKey(b, false, "legs")
	b = append(b, '[')
	for i := range l.Legs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLeg(b, &l.Legs[i])
	}
	return append(b, "]}"...)
}

func appendLeg(b []byte, l *state.Leg) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "mode")
	b = appendString(b, l.Mode)
	for _, f := range []struct{ key, v string }{{"id", l.ID}, {"vehicle", l.Vehicle}, {"from", l.From}, {"to", l.To}} {
		if f.v != "" {
			b = appendKey(b, false, f.key)
			b = appendString(b, f.v)
		}
	}
	b = appendKey(b, false, "status")
	b = appendString(b, l.Status)
	for _, f := range []struct {
		key string
		t   int64
	}{{"planned", l.Planned}, {"departed", l.Departed}, {"arrived", l.Arrived}} {
		if f.t != 0 {
			b = appendKey(b, false, f.key)
			b = appendTime(b, f.t)
		}
	}
	if l.Verdict != state.VerdictNone {
		b = appendKey(b, false, "verdict")
		b = appendString(b, l.Verdict.String())
		b = appendKey(b, false, "reasons")
		b = append(b, '[')
		for i, r := range l.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r.String())
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (s *Server) containerAt(ctx *fasthttp.RequestCtx, id string, at int64) {
	c, last, err := s.cfg.Store.ContainerAt(id, at)
	if errors.Is(err, state.ErrNotFound) {
		if _, err := s.cfg.Store.Container(id); err != nil {
			s.storeError(ctx, "container "+id, err)
			return
		}
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "container "+id+" has no event at or before "+formatTime(at))
		return
	}
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	var place *state.Place
	if p, ok := s.cfg.Store.PlaceOf(last.ReadPoint, last.Location); ok {
		place = &p
	}
	b := appendContainer(body(ctx), &c, place, nil, at)
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

func formatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// appendContainer writes a container as JSON; place, when not nil, is the
// place of its newest event; pos, when not nil, is where it rides on a
// truck; at, when not 0, is the time of an as-of answer.
func appendContainer(b []byte, c *state.Container, place *state.Place, pos *containerPosition, at int64) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, c.ID)
	if at != 0 {
		b = appendKey(b, false, "at")
		b = appendTime(b, at)
	}
	b = appendKey(b, false, "status")
	b = appendString(b, c.Status())
	b = appendKey(b, false, "last_event")
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, c.Last.ID)
	b = appendKey(b, false, "type")
	b = appendString(b, c.Last.Code.String())
	b = appendKey(b, false, "time")
	b = appendTime(b, c.Last.Time)
	b = appendKey(b, false, "location")
	b = appendString(b, c.Last.Location)
	b = append(b, '}')
	b = appendKey(b, false, "location")
	b = appendString(b, c.Last.Location)
	if place != nil {
		b = appendPlace(b, false, place)
	}
	b = appendKey(b, false, "first_seen")
	b = appendTime(b, c.First)
	b = appendKey(b, false, "event_count")
	b = appendUint(b, c.Count)
	b = appendKey(b, false, "updated_at")
	b = appendTime(b, c.Updated)
	if pos != nil {
		b = appendPosition(b, pos)
	}
	return append(b, '}')
}

// appendPlace writes "facility":{id,kind,name} and, for a yard block,
// "block".
func appendPlace(b []byte, first bool, p *state.Place) []byte {
	b = appendKey(b, first, "facility")
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, p.ID)
	b = appendKey(b, false, "kind")
	b = appendString(b, p.Kind)
	b = appendKey(b, false, "name")
	b = appendString(b, p.Name)
	b = append(b, '}')
	if p.Block != "" {
		b = appendKey(b, false, "block")
		b = appendString(b, p.Block)
	}
	return b
}

func (s *Server) containerEvents(ctx *fasthttp.RequestCtx, raw []byte) {
	id, ok := parseContainerID(ctx, raw)
	if !ok {
		return
	}
	q := state.HistoryQuery{Limit: 100}
	if q.From, q.To, ok = parseTimeRange(ctx); !ok {
		return
	}
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return
	}
	q.Cursor = string(ctx.QueryArgs().Peek("cursor"))
	if _, err := s.cfg.Store.Container(id); err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	l := newList(ctx, `{"events":[`)
	next, err := s.cfg.Store.History(id, q, func(e *state.StoredEvent) error {
		l.b = appendEvent(l.next(), e)
		return nil
	})
	if err != nil {
		if errors.Is(err, state.ErrBadCursor) {
			writeBadCursor(ctx)
			return
		}
		s.storeError(ctx, "container "+id, err)
		return
	}
	l.b = appendString(append(l.b, `],"next_cursor":`...), next)
	s.finishList(ctx, &l, "}", nil, "")
}

func writeBadCursor(ctx *fasthttp.RequestCtx) {
	writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "cursor: not a cursor returned by this endpoint")
}

func appendEvent(b []byte, e *state.StoredEvent) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, e.ID)
	b = appendKey(b, false, "type")
	b = appendString(b, e.Code.String())
	b = appendKey(b, false, "time")
	b = appendTime(b, e.Time)
	b = appendKey(b, false, "location")
	b = appendString(b, e.Location)
	if e.ReadPoint != "" {
		b = appendKey(b, false, "read_point")
		b = appendString(b, e.ReadPoint)
	}
	if e.Disposition != "" {
		b = appendKey(b, false, "disposition")
		b = appendString(b, e.Disposition)
	}
	b = appendKey(b, false, "source")
	b = appendString(b, e.Source)
	b = appendKey(b, false, "ingested_at")
	b = appendTime(b, e.Ingested)
	return append(b, '}')
}

// containerList answers GET /v1/containers?facility=<place>[&at=T] and
// GET /v1/containers?dwell_gt=<duration>, both with limit, cursor and
// count; a logistics caller's list holds only its boxes.
func (s *Server) containerList(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.QueryArgs()
	facility, dwell := args.Peek("facility"), args.Peek("dwell_gt")
	switch {
	case len(facility) > 0 && len(dwell) > 0:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "facility and dwell_gt: give one of them, not both")
	case len(facility) > 0:
		s.containersAtPlace(ctx, r, string(facility))
	case len(dwell) > 0:
		s.containersDwelling(ctx, r, dwell)
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "facility or dwell_gt: one is required, as facility=<place id> (for example facility=nbct-yard-c) or dwell_gt=<duration> (for example dwell_gt=72h or dwell_gt=5d)")
	}
}

// listParams reads limit, cursor and count of a container list, filtered
// by the caller's scope.
func (s *Server) listParams(ctx *fasthttp.RequestCtx, r *request) (state.ListQuery, bool) {
	q := state.ListQuery{Scope: r.who.scope()}
	var ok bool
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return q, false
	}
	if q.Count, ok = parseCount(ctx); !ok {
		return q, false
	}
	q.Cursor = string(ctx.QueryArgs().Peek("cursor"))
	return q, true
}

func (s *Server) containersAtPlace(ctx *fasthttp.RequestCtx, r *request, id string) {
	place, ok := s.cfg.Store.Place(id)
	if !ok {
		if f, isFence := s.cfg.Store.FenceCentre(id); isFence {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("facility: %s is a fence of kind %s; containers are listed at a berth, yard block, gate or rail station", id, f.Kind))
			return
		}
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "facility "+id+" not found in the port model")
		return
	}
	at, _, ok := parseAt(ctx)
	if !ok {
		return
	}
	q, ok := s.listParams(ctx, r)
	if !ok {
		return
	}
	l := newList(ctx, `{`)
	l.b = appendPlace(l.b, true, &place)
	if at != 0 {
		l.b = appendKey(l.b, false, "at")
		l.b = appendTime(l.b, at)
	}
	l.b = append(l.b, `,"containers":[`...)
	next, total, err := s.cfg.Store.ContainersAt(id, at, q, func(p *state.PlaceStay) error {
		b := append(l.next(), '{')
		b = appendKey(b, true, "id")
		b = appendString(b, p.Container)
		b = appendKey(b, false, "since")
		b = appendTime(b, p.Since)
		if p.Until != 0 {
			b = appendKey(b, false, "until")
			b = appendTime(b, p.Until)
		}
		l.b = append(b, '}')
		return nil
	})
	if errors.Is(err, state.ErrBadCursor) {
		writeBadCursor(ctx)
		return
	}
	s.finishPage(ctx, &l, next, total, q.Count, err)
}

// finishPage closes a container page: next_cursor and, when asked, count.
func (s *Server) finishPage(ctx *fasthttp.RequestCtx, l *jsonList, next string, total int, count bool, err error) {
	if err == nil {
		l.b = appendString(append(l.b, `],"next_cursor":`...), next)
		if count {
			l.b = strconv.AppendInt(append(l.b, `,"count":`...), int64(total), 10)
		}
	}
	s.finishList(ctx, l, "}", err, "container list")
}

// parseDwell reads a duration: Go syntax (72h, 90m, 1h30m) or whole days
// (5d).
func parseDwell(v string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100000 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d >= 0
}

func (s *Server) containersDwelling(ctx *fasthttp.RequestCtx, r *request, raw []byte) {
	d, ok := parseDwell(string(raw))
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("dwell_gt: want a duration such as 72h, 90m or 5d, got %q", raw))
		return
	}
	if len(ctx.QueryArgs().Peek("at")) > 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "at: not supported with dwell_gt (dwell is measured now); ask a past state with facility and at")
		return
	}
	q, ok := s.listParams(ctx, r)
	if !ok {
		return
	}
	now := s.cfg.Store.Now().UnixNano()
	l := newList(ctx, `{"dwell_gt_s":`)
	l.b = strconv.AppendInt(l.b, int64(d/time.Second), 10)
	l.b = appendKey(l.b, false, "now")
	l.b = appendTime(l.b, now)
	l.b = append(l.b, `,"containers":[`...)
	next, total, err := s.cfg.Store.ContainersDwelling(now-int64(d), q, func(id string, since int64) error {
		b := append(l.next(), '{')
		b = appendKey(b, true, "id")
		b = appendString(b, id)
		b = appendKey(b, false, "since")
		b = appendTime(b, since)
		b = appendKey(b, false, "dwell_s")
		b = strconv.AppendInt(b, (now-since)/int64(time.Second), 10)
		l.b = append(b, '}')
		return nil
	})
	if errors.Is(err, state.ErrBadCursor) {
		writeBadCursor(ctx)
		return
	}
	s.finishPage(ctx, &l, next, total, q.Count, err)
}
