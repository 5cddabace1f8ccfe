package query

import (
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/truck"
)

// lookupTruck parses the {plate} path segment (already URL-decoded by
// fasthttp, normalised by state.ParsePlate) and returns the truck, writing
// the HTTP error itself when it returns false.
func (s *Server) lookupTruck(ctx *fasthttp.RequestCtx, raw []byte) (truck.Truck, bool) {
	plate, err := state.ParsePlate(string(raw))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_plate", fmt.Sprintf("%q is not a vehicle plate (1 to %d characters, no control characters or /)", raw, state.MaxPlateRunes))
		return truck.Truck{}, false
	}
	t, err := s.cfg.Store.Trucks.Truck(plate)
	if err != nil {
		s.storeError(ctx, "truck "+plate, err)
		return t, false
	}
	return t, true
}

func (s *Server) truck(ctx *fasthttp.RequestCtx, raw []byte) {
	at, hasAt, ok := parseAt(ctx)
	if !ok {
		return
	}
	t, ok := s.lookupTruck(ctx, raw)
	if !ok {
		return
	}
	if hasAt {
		s.truckAt(ctx, &t, at)
		return
	}
	b := appendTruck(body(ctx), &t, -1)
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

// appendTruck writes a truck as JSON; distance < 0 omits distance_m.
func appendTruck(b []byte, t *truck.Truck, distance float64) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "plate")
	b = appendString(b, t.Plate)
	b = appendKey(b, false, "lat")
	b = appendDegrees(b, t.Lat)
	b = appendKey(b, false, "lon")
	b = appendDegrees(b, t.Lon)
	if distance >= 0 {
		b = appendKey(b, false, "distance_m")
		b = appendFixed(b, distance, 1)
	}
	b = appendTruckMotion(b, t.SpeedKmh, t.Heading)
	b = appendKey(b, false, "position_time")
	b = appendTime(b, t.Time)
	if t.Container != "" {
		b = appendKey(b, false, "container")
		b = appendString(b, t.Container)
		b = appendKey(b, false, "container_since")
		b = appendTime(b, t.ContainerSince)
	}
	b = appendKey(b, false, "last_seen")
	b = appendTime(b, t.LastSeen)
	b = appendKey(b, false, "reports")
	b = appendUint(b, t.Reports)
	return append(b, '}')
}

func appendTruckMotion(b []byte, speedKmh float64, heading int) []byte {
	if speedKmh != state.UnknownFloat {
		b = appendKey(b, false, "speed_kmh")
		b = appendFixed(b, speedKmh, 1)
	}
	if heading != state.UnknownInt {
		b = appendKey(b, false, "heading")
		b = strconv.AppendInt(b, int64(heading), 10)
	}
	return b
}

// truckTrack answers GET /v1/trucks/{plate}/track?from=&to=&limit=.
func (s *Server) truckTrack(ctx *fasthttp.RequestCtx, raw []byte) {
	from, to, ok := parseTimeRange(ctx)
	if !ok {
		return
	}
	limit, ok := s.limit(ctx, 1000)
	if !ok {
		return
	}
	t, ok := s.lookupTruck(ctx, raw)
	if !ok {
		return
	}
	l := newList(ctx, `{"plate":`)
	l.b = append(appendString(l.b, t.Plate), `,"track":[`...)
	err := s.cfg.Store.Trucks.Track(t.Plate, from, to, limit, func(p *truck.TruckPoint) error {
		b := append(l.next(), '{')
		b = appendKey(b, true, "time")
		b = appendTime(b, p.Time)
		b = appendKey(b, false, "lat")
		b = appendDegrees(b, p.Lat)
		b = appendKey(b, false, "lon")
		b = appendDegrees(b, p.Lon)
		b = appendTruckMotion(b, p.SpeedKmh, p.Heading)
		if p.Container != "" {
			b = appendKey(b, false, "container")
			b = appendString(b, p.Container)
		}
		l.b = append(b, '}')
		return nil
	})
	s.finishList(ctx, &l, "]}", err, "state read")
}

// truckList answers GET /v1/trucks?near=<lat>,<lon>&radius=<m>&limit=<n>:
// trucks nearest first with distance_m. near may also be gate:<id> or a
// fence id of the port model (its centroid); count=true adds the number of
// trucks within the radius; at=T answers where they were then
// (asof_area.go).
func (s *Server) truckList(ctx *fasthttp.RequestCtx) {
	at, hasAt, ok := parseAt(ctx)
	if !ok {
		return
	}
	q, ok := s.parseNearList(ctx, "29.93,121.86")
	if !ok {
		return
	}
	if hasAt {
		s.trucksNearAt(ctx, at, q)
		return
	}
	l := newList(ctx, `{"trucks":[`)
	err := s.cfg.Store.Trucks.Near(q.lat, q.lon, q.radius, q.limit, func(t *truck.Truck, d float64) bool {
		l.b = appendTruck(l.next(), t, d)
		return true
	})
	s.finishNearList(ctx, &l, q, err, "truck search", s.cfg.Store.Trucks.Within)
}

// containerPosition is where a box is while it rides on a truck.
type containerPosition struct {
	lat, lon float64
	source   string
	time     int64
}

func (s *Server) viewContainerPosition(vw *state.View, id string) (containerPosition, bool) {
	var p containerPosition
	var ok bool
	p.lat, p.lon, p.source, p.time, ok = s.cfg.Store.Trucks.ViewContainerPosition(vw, id)
	return p, ok
}

func appendPosition(b []byte, p *containerPosition) []byte {
	b = appendKey(b, false, "position")
	b = append(b, '{')
	b = appendKey(b, true, "lat")
	b = appendDegrees(b, p.lat)
	b = appendKey(b, false, "lon")
	b = appendDegrees(b, p.lon)
	b = appendKey(b, false, "source")
	b = appendString(b, p.source)
	b = appendKey(b, false, "time")
	b = appendTime(b, p.time)
	return append(b, '}')
}
