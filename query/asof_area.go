package query

import (
	"errors"
	"sort"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/truck"
)

// Area lists as of a past time: GET /v1/vessels?near=…&at=T and
// GET /v1/trucks?near=…&at=T. The position indexes hold current positions
// only, so the answer reads, for every known vessel (truck), its newest
// track point at or before T (state.VesselAt, TruckAt: one bounded seek
// each) and keeps those within the radius, nearest first. The work is one
// seek per known object, whatever the radius: the replay of the map asks
// it once per step, not per frame. An object whose track has no point at
// or before T (not seen yet, or older than the track retention) is not in
// the answer; position_time says how old each point is.

// atPoint is one object's position at T within the radius.
type atPoint struct {
	dist float64
	v    state.TrackPoint
	t    truck.TruckPoint
	mmsi uint32
	imo  uint32
	name string
	// plate for trucks
	plate string
}

func (s *Server) vesselsNearAt(ctx *fasthttp.RequestCtx, at int64, q nearList) {
	centre := geo.LatLng{Lat: q.lat, Lng: q.lon}
	var pts []atPoint
	err := s.cfg.Store.EachVessel(func(v *state.Vessel) error {
		p, err := s.cfg.Store.VesselAt(v.MMSI, at)
		if errors.Is(err, state.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if d := geo.DistanceMeters(centre, geo.LatLng{Lat: p.Lat, Lng: p.Lon}); d <= q.radius {
			pts = append(pts, atPoint{dist: d, v: p, mmsi: v.MMSI, imo: v.IMO, name: v.Name})
		}
		return nil
	})
	l := newList(ctx, `{"at":`)
	l.b = append(appendTime(l.b, at), `,"vessels":[`...)
	if err == nil {
		sortNearest(pts)
		for i := range pts[:min(len(pts), q.limit)] {
			p := &pts[i]
			b := append(l.next(), '{')
			b = appendKey(b, true, "mmsi")
			b = appendUint(b, uint64(p.mmsi))
			if p.imo != 0 {
				b = appendKey(b, false, "imo")
				b = appendUint(b, uint64(p.imo))
			}
			if p.name != "" {
				b = appendKey(b, false, "name")
				b = appendString(b, p.name)
			}
			b = appendTrackFields(b, &p.v)
			b = appendKey(b, false, "distance_m")
			b = appendFixed(b, p.dist, 1)
			b = appendKey(b, false, "position_time")
			l.b = append(appendTime(b, p.v.Time), '}')
		}
	}
	l.b = appendCount(append(l.b, ']'), q.count, len(pts))
	s.finishList(ctx, &l, "}", err, "vessel search")
}

func (s *Server) trucksNearAt(ctx *fasthttp.RequestCtx, at int64, q nearList) {
	centre := geo.LatLng{Lat: q.lat, Lng: q.lon}
	var pts []atPoint
	err := s.cfg.Store.Trucks.Each(func(t *truck.Truck) error {
		p, err := s.cfg.Store.Trucks.At(t.Plate, at)
		if errors.Is(err, state.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if d := geo.DistanceMeters(centre, geo.LatLng{Lat: p.Lat, Lng: p.Lon}); d <= q.radius {
			pts = append(pts, atPoint{dist: d, t: p, plate: t.Plate})
		}
		return nil
	})
	l := newList(ctx, `{"at":`)
	l.b = append(appendTime(l.b, at), `,"trucks":[`...)
	if err == nil {
		sortNearest(pts)
		for i := range pts[:min(len(pts), q.limit)] {
			p := &pts[i]
			b := append(l.next(), '{')
			b = appendKey(b, true, "plate")
			b = appendString(b, p.plate)
			b = appendKey(b, false, "lat")
			b = appendDegrees(b, p.t.Lat)
			b = appendKey(b, false, "lon")
			b = appendDegrees(b, p.t.Lon)
			b = appendKey(b, false, "distance_m")
			b = appendFixed(b, p.dist, 1)
			b = appendTruckMotion(b, p.t.SpeedKmh, p.t.Heading)
			b = appendKey(b, false, "position_time")
			b = appendTime(b, p.t.Time)
			if p.t.Container != "" {
				b = appendKey(b, false, "container")
				b = appendString(b, p.t.Container)
			}
			l.b = append(b, '}')
		}
	}
	l.b = appendCount(append(l.b, ']'), q.count, len(pts))
	s.finishList(ctx, &l, "}", err, "truck search")
}

// sortNearest orders by distance, then id, so that pages are stable.
func sortNearest(pts []atPoint) {
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].dist != pts[j].dist {
			return pts[i].dist < pts[j].dist
		}
		if pts[i].mmsi != pts[j].mmsi {
			return pts[i].mmsi < pts[j].mmsi
		}
		return pts[i].plate < pts[j].plate
	})
}

// rejectAtOnFence answers 400 when at is given with fence: membership of a
// fence at a past time is not kept.
func rejectAtOnFence(ctx *fasthttp.RequestCtx) bool {
	if len(ctx.QueryArgs().Peek("at")) == 0 {
		return false
	}
	writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "at: not supported with fence; ask near=<fence id>&radius=&at= (the vessels within a radius of its centre at that time)")
	return true
}
