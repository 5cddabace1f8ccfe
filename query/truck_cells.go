package query

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state/truck"
)

// truckCells answers GET /v1/trucks/cells?res=<5-9>[&bbox=minLon,minLat,maxLon,maxLat]:
// the trucks counted by H3 cell at res, each cell with its centre and
// boundary, most trucks first: the map's truck layer at low zoom, where
// 20,000 markers would be a blur. It reads every truck's current state
// (one scan); the answer has at most one entry per occupied cell.
func (s *Server) truckCells(ctx *fasthttp.RequestCtx) {
	res := geo.Resolution(7)
	if v := ctx.QueryArgs().Peek("res"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 5 || n > 9 {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("res: want an H3 resolution in [5, 9], got %q", v))
			return
		}
		res = geo.Resolution(n)
	}
	box, ok := parseBBox(ctx)
	if !ok {
		return
	}
	counts := map[geo.Cell]int{}
	total := 0
	err := s.cfg.Store.Trucks.Each(func(t *truck.Truck) error {
		if !box.has(t.Lat, t.Lon) {
			return nil
		}
		c, err := geo.CellOf(geo.LatLng{Lat: t.Lat, Lng: t.Lon}, res)
		if err != nil {
			return nil // a stored position is valid; nothing to count otherwise
		}
		counts[c]++
		total++
		return nil
	})
	cells := make([]geo.Cell, 0, len(counts))
	for c := range counts {
		cells = append(cells, c)
	}
	sort.Slice(cells, func(i, j int) bool {
		if counts[cells[i]] != counts[cells[j]] {
			return counts[cells[i]] > counts[cells[j]]
		}
		return cells[i] < cells[j]
	})
	l := newList(ctx, `{"res":`)
	l.b = append(strconv.AppendInt(l.b, int64(res), 10), `,"cells":[`...)
	var ring []geo.LatLng
	for _, c := range cells {
		b := append(l.next(), '{')
		b = appendKey(b, true, "cell")
		b = appendString(b, c.String())
		ctr := c.Center()
		b = appendKey(b, false, "lat")
		b = appendDegrees(b, ctr.Lat)
		b = appendKey(b, false, "lon")
		b = appendDegrees(b, ctr.Lng)
		b = appendKey(b, false, "trucks")
		b = strconv.AppendInt(b, int64(counts[c]), 10)
		b = appendKey(b, false, "boundary")
		b = append(b, '[')
		ring = c.Boundary(ring[:0])
		for i, p := range ring {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendDegrees(b, p.Lng)
			b = append(b, ',')
			b = appendDegrees(b, p.Lat)
			b = append(b, ']')
		}
		l.b = append(b, "]}"...)
	}
	l.b = append(strconv.AppendInt(append(l.b, `],"trucks":`...), int64(total), 10), '}')
	s.finishList(ctx, &l, "", err, "truck cells")
}
