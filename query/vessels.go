package query

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// lookupVessel accepts an MMSI ("413000001") or "imo:<n>" and returns the
// vessel, writing the HTTP error itself when it returns false.
func (s *Server) lookupVessel(ctx *fasthttp.RequestCtx, raw []byte) (state.Vessel, bool) {
	var (
		v   state.Vessel
		err error
	)
	if imo, ok := bytes.CutPrefix(raw, []byte("imo:")); ok {
		n, perr := strconv.ParseUint(string(imo), 10, 32)
		if perr != nil || !validIMO(uint32(n)) {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_vessel_id", fmt.Sprintf("%q is not a valid IMO number (7 digits with check digit)", imo))
			return v, false
		}
		v, err = s.cfg.Store.VesselByIMO(uint32(n))
	} else {
		n, perr := strconv.ParseUint(string(raw), 10, 32)
		if perr != nil || len(raw) != 9 {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_vessel_id", fmt.Sprintf("%q is neither a 9-digit MMSI nor imo:<number>", raw))
			return v, false
		}
		v, err = s.cfg.Store.Vessel(uint32(n))
	}
	if err != nil {
		s.storeError(ctx, "vessel "+string(raw), err)
		return v, false
	}
	return v, true
}

// validIMO checks the IMO check digit: (7·d1 + 6·d2 + … + 2·d6) mod 10 = d7.
func validIMO(n uint32) bool {
	if n < 1000000 || n > 9999999 {
		return false
	}
	check := n % 10
	sum := uint32(0)
	rest := n / 10
	for w := uint32(2); w <= 7; w++ {
		sum += (rest % 10) * w
		rest /= 10
	}
	return sum%10 == check
}

func (s *Server) vessel(ctx *fasthttp.RequestCtx, raw []byte) {
	at, hasAt, ok := parseAt(ctx)
	if !ok {
		return
	}
	v, ok := s.lookupVessel(ctx, raw)
	if !ok {
		return
	}
	if hasAt {
		s.vesselAt(ctx, &v, at)
		return
	}
	b := appendVessel(body(ctx), &v, -1)
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

// appendVessel writes a vessel as JSON; distance < 0 omits distance_m.
func appendVessel(b []byte, v *state.Vessel, distance float64) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "mmsi")
	b = appendUint(b, uint64(v.MMSI))
	if v.IMO != 0 {
		b = appendKey(b, false, "imo")
		b = appendUint(b, uint64(v.IMO))
	}
	str := func(key, val string) {
		if val != "" {
			b = appendKey(b, false, key)
			b = appendString(b, val)
		}
	}
	num := func(key string, n int) {
		if n != state.UnknownInt {
			b = appendKey(b, false, key)
			b = strconv.AppendInt(b, int64(n), 10)
		}
	}
	flt := func(key string, f float64, prec int) {
		if f != state.UnknownFloat {
			b = appendKey(b, false, key)
			b = strconv.AppendFloat(b, f, 'f', prec, 64)
		}
	}
	str("name", v.Name)
	str("callsign", v.CallSign)
	num("shiptype", v.ShipType)
	if v.HasPosition {
		b = appendKey(b, false, "lat")
		b = appendDegrees(b, v.Lat)
		b = appendKey(b, false, "lon")
		b = appendDegrees(b, v.Lon)
		if distance >= 0 {
			b = appendKey(b, false, "distance_m")
			b = appendFixed(b, distance, 1)
		}
		flt("speed", v.Speed, 1)
		flt("course", v.Course, 1)
		num("heading", v.Heading)
		num("status", v.Status)
		if v.Turn != state.UnknownTurn { // −1 is a raw rate of turn, not unknown
			b = appendKey(b, false, "turn")
			b = strconv.AppendInt(b, int64(v.Turn), 10)
		}
		b = appendKey(b, false, "position_time")
		b = appendTime(b, v.PosTime)
		str("position_station", v.PosStation)
	}
	num("to_bow", v.ToBow)
	num("to_stern", v.ToStern)
	num("to_port", v.ToPort)
	num("to_starboard", v.ToStarbd)
	if v.Draught != 0 {
		flt("draught", v.Draught, 1)
	}
	str("destination", v.Destination)
	str("eta", v.ETA)
	if v.StaticTime != 0 {
		b = appendKey(b, false, "static_time")
		b = appendTime(b, v.StaticTime)
		str("static_station", v.StaticStation)
	}
	if pc := &v.PortCall; pc.Phase != "" {
		b = appendKey(b, false, "port_call")
		b = append(b, '{')
		b = appendKey(b, true, "phase")
		b = appendString(b, pc.Phase)
		b = appendKey(b, false, "since")
		b = appendTime(b, pc.PhaseSince)
		if pc.Fence != "" {
			b = appendKey(b, false, "fence")
			b = appendString(b, pc.Fence)
		}
		if pc.AnchorageSince != 0 {
			b = appendKey(b, false, "waiting_since")
			b = appendTime(b, pc.AnchorageSince)
			if v.PosTime >= pc.AnchorageSince {
				// The wait so far, up to the newest position (event time).
				b = appendKey(b, false, "waiting_s")
				b = strconv.AppendInt(b, int64(time.Duration(v.PosTime-pc.AnchorageSince)/time.Second), 10)
			}
		}
		if pc.LastAnchorageWait != 0 {
			b = appendKey(b, false, "last_anchorage_wait_s")
			b = strconv.AppendInt(b, int64(pc.LastAnchorageWait/time.Second), 10)
		}
		b = append(b, '}')
	}
	b = appendKey(b, false, "last_seen")
	b = appendTime(b, v.LastSeen)
	b = appendKey(b, false, "reports")
	b = appendUint(b, v.Reports)
	return append(b, '}')
}

func (s *Server) vesselTrack(ctx *fasthttp.RequestCtx, raw []byte) {
	from, to, ok := parseTimeRange(ctx)
	if !ok {
		return
	}
	limit, ok := s.limit(ctx, 1000)
	if !ok {
		return
	}
	v, ok := s.lookupVessel(ctx, raw)
	if !ok {
		return
	}
	l := newList(ctx, `{"mmsi":`)
	l.b = append(appendUint(l.b, uint64(v.MMSI)), `,"track":[`...)
	err := s.cfg.Store.Track(v.MMSI, from, to, limit, func(p *state.TrackPoint) error {
		b := append(l.next(), '{')
		b = appendKey(b, true, "time")
		b = appendTime(b, p.Time)
		b = appendTrackFields(b, p)
		if p.Station != "" {
			b = appendKey(b, false, "station")
			b = appendString(b, p.Station)
		}
		l.b = append(b, '}')
		return nil
	})
	s.finishList(ctx, &l, "]}", err, "state read")
}

// limit parses the limit parameter (default def, at most MaxLimit).
func (s *Server) limit(ctx *fasthttp.RequestCtx, def int) (int, bool) {
	v := ctx.QueryArgs().Peek("limit")
	if len(v) == 0 {
		return min(def, s.cfg.MaxLimit), true
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 || n > s.cfg.MaxLimit {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("limit: want an integer in [1, %d], got %q", s.cfg.MaxLimit, v))
		return 0, false
	}
	return n, true
}

// vesselList answers GET /v1/vessels?near=<lat>,<lon>&radius=<m>&limit=<n>:
// vessels nearest first with distance_m; with at=T, where they were then
// (asof_area.go).
func (s *Server) vesselList(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	if fence := args.Peek("fence"); len(fence) > 0 {
		if rejectAtOnFence(ctx) {
			return
		}
		s.vesselsInFence(ctx, string(fence))
		return
	}
	if len(args.Peek("near")) == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "near or fence: one is required, as near=<lat>,<lon> (for example near=29.965,121.921), near=gate:<id>, near=<fence id> or fence=<id>")
		return
	}
	at, hasAt, ok := parseAt(ctx)
	if !ok {
		return
	}
	q, ok := s.parseNearList(ctx, "29.965,121.921")
	if !ok {
		return
	}
	if hasAt {
		s.vesselsNearAt(ctx, at, q)
		return
	}
	l := newList(ctx, `{"vessels":[`)
	err := s.cfg.Store.VesselsNear(q.lat, q.lon, q.radius, q.limit, func(v *state.Vessel, d float64) bool {
		l.b = appendVessel(l.next(), v, d)
		return true
	})
	s.finishNearList(ctx, &l, q, err, "vessel search", s.cfg.Store.VesselsWithin)
}

// vesselsInFence answers GET /v1/vessels?fence=<id>[&limit=n]: the vessels
// inside a fence of the port model.
func (s *Server) vesselsInFence(ctx *fasthttp.RequestCtx, id string) {
	limit, ok := s.limit(ctx, s.cfg.MaxLimit)
	if !ok {
		return
	}
	count, ok := parseCount(ctx)
	if !ok {
		return
	}
	l := newList(ctx, `{"fence":`)
	l.b = append(appendString(l.b, id), `,"vessels":[`...)
	n := 0
	found, err := s.cfg.Store.VesselsInFence(id, func(v *state.Vessel) bool {
		n++
		if l.n < limit {
			l.b = appendVessel(l.next(), v, -1)
		}
		return count || l.n < limit
	})
	if err == nil && !found {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "fence "+id+" not found")
		return
	}
	l.b = appendCount(append(l.b, ']'), count, n)
	s.finishList(ctx, &l, "}", err, "fence search")
}

// appendTrackFields writes a vessel track point's position and kinematics
// (unknown values left out) after a key already written.
func appendTrackFields(b []byte, p *state.TrackPoint) []byte {
	b = appendKey(b, false, "lat")
	b = appendDegrees(b, p.Lat)
	b = appendKey(b, false, "lon")
	b = appendDegrees(b, p.Lon)
	if p.Speed != state.UnknownFloat {
		b = appendKey(b, false, "speed")
		b = appendFixed(b, p.Speed, 1)
	}
	if p.Course != state.UnknownFloat {
		b = appendKey(b, false, "course")
		b = appendFixed(b, p.Course, 1)
	}
	if p.Heading != state.UnknownInt {
		b = appendKey(b, false, "heading")
		b = strconv.AppendInt(b, int64(p.Heading), 10)
	}
	if p.Status != state.UnknownInt {
		b = appendKey(b, false, "status")
		b = strconv.AppendInt(b, int64(p.Status), 10)
	}
	return b
}
