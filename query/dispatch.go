package query

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/truck"
)

// Dispatcher parameters shared by the truck and vessel endpoints: near a
// fence of the port model, count, and as-of lookups.

// parseNearRef reads near as a point (<lat>,<lon>), as gate:<id> (a gate of
// the port model) or as any fence id of the port model (its centroid), and
// radius.
func (s *Server) parseNearRef(ctx *fasthttp.RequestCtx, example string) (nearQuery, bool) {
	near := ctx.QueryArgs().Peek("near")
	if len(near) == 0 || bytes.IndexByte(near, ',') >= 0 || near[0] == '-' || near[0] == '.' || near[0] >= '0' && near[0] <= '9' {
		return parseNear(ctx, example)
	}
	q := nearQuery{radius: 10000}
	id, gate := bytes.CutPrefix(near, []byte("gate:"))
	f, ok := s.cfg.Store.FenceCentre(string(id))
	switch {
	case !ok && gate:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("near: %q is not a gate of the port model", id))
		return q, false
	case !ok:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("near: want <lat>,<lon>, gate:<id> or a fence id of the port model, got %q", near))
		return q, false
	case gate && f.Kind != state.KindGate:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("near: %s is a fence of kind %s, not a gate", id, f.Kind))
		return q, false
	}
	q.lat, q.lon = f.Lat, f.Lon
	return q, parseRadius(ctx, &q)
}

// appendCount closes a near list with its count when asked.
// nearList is a near list query: near (a point, gate:<id> or a fence id),
// radius, limit and count.
type nearList struct {
	nearQuery
	limit int
	count bool
}

// parseNearList reads a near list query, answering 400 itself; example is
// a point shown when near is missing.
func (s *Server) parseNearList(ctx *fasthttp.RequestCtx, example string) (nearList, bool) {
	var q nearList
	var ok bool
	if q.nearQuery, ok = s.parseNearRef(ctx, example); !ok {
		return q, false
	}
	if q.limit, ok = s.limit(ctx, 100); !ok {
		return q, false
	}
	q.count, ok = parseCount(ctx)
	return q, ok
}

// finishNearList closes a near list: the array, the total within the
// radius when count was asked (within counts it), the object.
func (s *Server) finishNearList(ctx *fasthttp.RequestCtx, l *jsonList, q nearList, err error, what string, within func(lat, lon, radius float64) (int, error)) {
	n := 0
	if err == nil && q.count {
		n, err = within(q.lat, q.lon, q.radius)
	}
	l.b = appendCount(append(l.b, ']'), q.count, n)
	s.finishList(ctx, l, "}", err, what)
}

func appendCount(b []byte, count bool, n int) []byte {
	if !count {
		return b
	}
	return strconv.AppendInt(append(b, `,"count":`...), int64(n), 10)
}

// truckAt answers GET /v1/trucks/{plate}?at=T: the truck's newest track
// point at or before T.
func (s *Server) truckAt(ctx *fasthttp.RequestCtx, t *truck.Truck, at int64) {
	p, err := s.cfg.Store.Trucks.At(t.Plate, at)
	if errors.Is(err, state.ErrNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "truck "+t.Plate+" has no position at or before "+formatTime(at))
		return
	}
	if err != nil {
		s.storeError(ctx, "truck "+t.Plate, err)
		return
	}
	b := append(body(ctx), '{')
	b = appendKey(b, true, "plate")
	b = appendString(b, t.Plate)
	b = appendKey(b, false, "at")
	b = appendTime(b, at)
	b = appendKey(b, false, "lat")
	b = appendDegrees(b, p.Lat)
	b = appendKey(b, false, "lon")
	b = appendDegrees(b, p.Lon)
	b = appendTruckMotion(b, p.SpeedKmh, p.Heading)
	b = appendKey(b, false, "position_time")
	b = appendTime(b, p.Time)
	if p.Container != "" {
		b = appendKey(b, false, "container")
		b = appendString(b, p.Container)
	}
	b = append(b, '}')
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

// vesselAt answers GET /v1/vessels/{id}?at=T: the vessel's newest track
// point at or before T, with its identity.
func (s *Server) vesselAt(ctx *fasthttp.RequestCtx, v *state.Vessel, at int64) {
	p, err := s.cfg.Store.VesselAt(v.MMSI, at)
	if errors.Is(err, state.ErrNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", fmt.Sprintf("vessel %d has no position at or before %s", v.MMSI, formatTime(at)))
		return
	}
	if err != nil {
		s.storeError(ctx, fmt.Sprintf("vessel %d", v.MMSI), err)
		return
	}
	b := append(body(ctx), '{')
	b = appendKey(b, true, "mmsi")
	b = appendUint(b, uint64(v.MMSI))
	if v.IMO != 0 {
		b = appendKey(b, false, "imo")
		b = appendUint(b, uint64(v.IMO))
	}
	if v.Name != "" {
		b = appendKey(b, false, "name")
		b = appendString(b, v.Name)
	}
	b = appendKey(b, false, "at")
	b = appendTime(b, at)
	b = appendTrackFields(b, &p)
	b = appendKey(b, false, "position_time")
	b = appendTime(b, p.Time)
	if p.Station != "" {
		b = appendKey(b, false, "position_station")
		b = appendString(b, p.Station)
	}
	b = append(b, '}')
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}
