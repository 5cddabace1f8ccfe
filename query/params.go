package query

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// Query parameters shared by the list endpoints. Each parser writes the 400
// answer itself and returns ok == false when the parameter is malformed.

// nearQuery is a near=<lat>,<lon>&radius=<m> search.
type nearQuery struct {
	lat, lon, radius float64
}

// parseNear reads near and radius (default 10 km, at most 1000 km); example
// is a point shown in the error when near is missing.
func parseNear(ctx *fasthttp.RequestCtx, example string) (nearQuery, bool) {
	args := ctx.QueryArgs()
	q := nearQuery{radius: 10000}
	near := args.Peek("near")
	if len(near) == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "near: required, as near=<lat>,<lon> (for example near="+example+")")
		return q, false
	}
	latS, lonS, ok := bytes.Cut(near, []byte(","))
	lat, err1 := strconv.ParseFloat(string(latS), 64)
	lon, err2 := strconv.ParseFloat(string(lonS), 64)
	if !ok || err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("near: want <lat>,<lon> in degrees, got %q", near))
		return q, false
	}
	q.lat, q.lon = lat, lon
	return q, parseRadius(ctx, &q)
}

// parseRadius reads radius into q (left as is when absent).
func parseRadius(ctx *fasthttp.RequestCtx, q *nearQuery) bool {
	if r := ctx.QueryArgs().Peek("radius"); len(r) > 0 {
		v, err := strconv.ParseFloat(string(r), 64)
		if err != nil || !(v >= 0 && v <= 1_000_000) {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("radius: want metres in [0, 1000000], got %q", r))
			return false
		}
		q.radius = v
	}
	return true
}

// parseTime reads the RFC 3339 time v of parameter name and checks that it
// lies in the range Unix nanoseconds can hold (state.CheckTime): a time
// outside would wrap around and select the wrong events. On error it
// answers 400 itself.
func parseTime(ctx *fasthttp.RequestCtx, name string, v []byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s: want an RFC 3339 time such as 2026-11-22T08:00:00Z, got %q", name, v))
		return t, false
	}
	if err := state.CheckTime(t); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", name+": "+err.Error())
		return t, false
	}
	return t, true
}

// parseTimeRange reads from and to (RFC 3339; to exclusive) as Unix ns, 0
// when absent.
func parseTimeRange(ctx *fasthttp.RequestCtx) (from, to int64, ok bool) {
	args := ctx.QueryArgs()
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &from}, {"to", &to}} {
		if v := args.Peek(p.name); len(v) > 0 {
			t, ok := parseTime(ctx, p.name, v)
			if !ok {
				return 0, 0, false
			}
			*p.dst = t.UnixNano()
		}
	}
	if from != 0 && to != 0 && to <= from {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "to: must be after from")
		return 0, 0, false
	}
	return from, to, true
}

// jsonList builds a list answer in the response buffer: a head that opens
// an array, comma-separated items, then a tail.
type jsonList struct {
	b []byte
	n int
}

func newList(ctx *fasthttp.RequestCtx, head string) jsonList {
	return jsonList{b: append(body(ctx), head...)}
}

// next returns the buffer ready for one more item.
func (l *jsonList) next() []byte {
	if l.n > 0 {
		l.b = append(l.b, ',')
	}
	l.n++
	return l.b
}

// finishList answers with the list closed by tail, or with a 500 naming
// what failed when err is not nil.
func (s *Server) finishList(ctx *fasthttp.RequestCtx, l *jsonList, tail string, err error, what string) {
	if err != nil {
		s.log.Error(what+" failed", "path", string(ctx.Path()), "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", what+" failed")
		return
	}
	l.b = append(l.b, tail...)
	ctx.SetContentType("application/json")
	setBody(ctx, l.b)
}
