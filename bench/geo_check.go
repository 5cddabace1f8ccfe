package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
)

// nearHit is one member of a radius answer.
type nearHit struct {
	plate string
	d     float64 // metres
}

// bruteNear returns every point within radius of c, nearest first (ties by
// plate, as the index orders them), by scanning all of them.
func (r *geoRun) bruteNear(c geoPoint) []nearHit {
	center := geo.LatLng{Lat: c.lat, Lng: c.lon}
	var hits []nearHit
	var pb []byte
	for i := range r.lats {
		if d := geo.DistanceMeters(center, geo.LatLng{Lat: r.lats[i], Lng: r.lons[i]}); d <= r.cfg.RadiusM {
			pb = appendBenchPlate(pb[:0], i)
			hits = append(hits, nearHit{string(pb), d})
		}
	}
	slices.SortFunc(hits, func(a, b nearHit) int {
		if a.d != b.d {
			return cmpFloat(a.d, b.d)
		}
		return strings.Compare(a.plate, b.plate)
	})
	return hits
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareNear checks an answer got (nearest first, at most limit members,
// each with its reported distance) against all, every point within radius
// nearest first by exact distance. exact returns a plate's exact distance.
// A reported distance may be off by distTol(exact); a member may be in one
// answer and not the other only when its exact distance is within cutTol
// of the cut (the limit-th distance, or the radius when fewer points lie
// within it): those are counted in boundary. Any other difference is an
// error.
func compareNear(all, got []nearHit, exact func(plate string) (float64, bool), radius float64, limit int,
	distTol func(d float64) float64, cutTol float64) (boundary int, err error) {
	want := all[:min(limit, len(all))]
	cut := radius
	if len(all) > limit {
		cut = all[limit-1].d
	}
	if len(got) > limit {
		return 0, fmt.Errorf("%d members, limit %d", len(got), limit)
	}
	wantSet := make(map[string]bool, len(want))
	for _, w := range want {
		wantSet[w.plate] = true
	}
	gotSet := make(map[string]bool, len(got))
	prev := math.Inf(-1)
	for i, g := range got {
		d, ok := exact(g.plate)
		switch {
		case !ok:
			return 0, fmt.Errorf("member %d: unknown plate %q", i, g.plate)
		case gotSet[g.plate]:
			return 0, fmt.Errorf("member %d: %s twice", i, g.plate)
		case math.Abs(g.d-d) > distTol(d):
			return 0, fmt.Errorf("member %d: %s reported at %.4f m, exact %.4f m", i, g.plate, g.d, d)
		case g.d < prev:
			return 0, fmt.Errorf("member %d: %s at %.4f m after one at %.4f m: not nearest first", i, g.plate, g.d, prev)
		case d > radius+cutTol:
			return 0, fmt.Errorf("member %d: %s at %.4f m, outside the radius %v m", i, g.plate, d, radius)
		}
		gotSet[g.plate] = true
		prev = g.d
		if !wantSet[g.plate] {
			if math.Abs(d-cut) > cutTol {
				return 0, fmt.Errorf("%s at %.4f m is not among the %d nearest (the cut is %.4f m)", g.plate, d, limit, cut)
			}
			boundary++
		}
	}
	for _, w := range want {
		if !gotSet[w.plate] {
			if math.Abs(w.d-cut) > cutTol {
				return 0, fmt.Errorf("%s at %.4f m is missing (the cut is %.4f m)", w.plate, w.d, cut)
			}
			boundary++
		}
	}
	// A short answer is right only when the points it lacks may lie
	// outside the radius.
	if short := len(want) - len(got); short > 0 {
		edge := 0
		for _, a := range all {
			if a.d >= radius-cutTol {
				edge++
			}
		}
		if edge < short {
			return 0, fmt.Errorf("%d members, want %d", len(got), len(want))
		}
	}
	return boundary, nil
}

// check compares radius answers (HTTP and Redis) with a brute-force scan
// for cfg.Checks random centres, and point lookups with the loaded
// positions. The harness reports no figure for a server that answers
// wrongly.
func (r *geoRun) check() error {
	var rc *respConn
	if r.redis != nil {
		var err error
		if rc, err = dialRedis(r.redis.addr); err != nil {
			return err
		}
		defer rc.close()
	}
	ck := &r.res.Checks
	for _, c := range geoCenters(r.cfg.Seed, streamChecks, r.cfg.Checks) {
		lat, lon := c.text()
		center := geo.LatLng{Lat: c.lat, Lng: c.lon}
		exact := func(plate string) (float64, bool) {
			i, ok := benchPlateIndex(plate)
			if !ok || i >= len(r.lats) {
				return 0, false
			}
			return geo.DistanceMeters(center, geo.LatLng{Lat: r.lats[i], Lng: r.lons[i]}), true
		}
		all := r.bruteNear(c)
		got, err := r.httpNear(lat, lon)
		if err != nil {
			return err
		}
		// The API prints distances with one decimal and computes them
		// exactly as the scan does: only exact ties may differ.
		httpTol := func(float64) float64 { return 0.05 + 1e-9 }
		if _, err := compareNear(all, got, exact, r.cfg.RadiusM, r.cfg.Limit, httpTol, 0); err != nil {
			return fmt.Errorf("check: GET /v1/trucks?near=%s,%s&radius=%v&limit=%d disagrees with a brute-force scan: %w",
				lat, lon, r.cfg.RadiusM, r.cfg.Limit, err)
		}
		ck.Centers++
		ck.Trucks += len(got)
		if rc == nil {
			continue
		}
		rgot, err := redisNear(rc, lat, lon, r.cfg.RadiusM, r.cfg.Limit)
		if err != nil {
			return err
		}
		cut := r.cfg.RadiusM
		if len(all) > r.cfg.Limit {
			cut = all[r.cfg.Limit-1].d
		}
		b, err := compareNear(all, rgot, exact, r.cfg.RadiusM, r.cfg.Limit, redisTol, redisTol(cut))
		if err != nil {
			return fmt.Errorf("check: Redis GEOSEARCH at %s,%s disagrees with a brute-force scan beyond its precision: %w", lat, lon, err)
		}
		ck.RedisTrucks += len(rgot)
		ck.RedisBoundary += b
	}
	if ck.Trucks == 0 {
		return fmt.Errorf("check: no truck within %v m of %d random centres: too few objects to measure radius queries", r.cfg.RadiusM, ck.Centers)
	}
	rng := rand.New(rand.NewPCG(r.cfg.Seed, streamChecks))
	var pb []byte
	for range r.cfg.Checks {
		i := rng.IntN(r.cfg.Objects)
		pb = appendBenchPlate(pb[:0], i)
		u := "http://" + r.queryAddr + "/v1/trucks/" + url.PathEscape(string(pb))
		status, body, err := r.checkClient.Get(nil, u)
		if err != nil {
			return fmt.Errorf("check: GET %s: %w", u, err)
		}
		var t struct {
			Plate string  `json:"plate"`
			Lat   float64 `json:"lat"`
			Lon   float64 `json:"lon"`
		}
		if status != fasthttp.StatusOK || json.Unmarshal(body, &t) != nil {
			return fmt.Errorf("check: GET %s: status %d, %.200s", u, status, body)
		}
		// The API prints the shortest text that round-trips: positions are
		// exact.
		if t.Plate != string(pb) || t.Lat != r.lats[i] || t.Lon != r.lons[i] {
			return fmt.Errorf("check: GET %s: %s at %v,%v, loaded at %v,%v", u, t.Plate, t.Lat, t.Lon, r.lats[i], r.lons[i])
		}
		ck.Points++
	}
	return nil
}

// redisTol bounds |Redis distance − exact distance| at exact distance d:
// Redis stores positions as 52-bit geohashes (cells of about 0.3 × 0.5 m
// here, positions decoded to a cell's centre) and uses an Earth radius 0.03%
// larger than geo's; WITHDIST prints 4 decimals.
func redisTol(d float64) float64 { return 1 + 5e-4*d }

func (r *geoRun) httpNear(lat, lon string) ([]nearHit, error) {
	u := fmt.Sprintf("http://%s/v1/trucks?near=%s,%s&radius=%v&limit=%d", r.queryAddr, lat, lon, r.cfg.RadiusM, r.cfg.Limit)
	status, body, err := r.checkClient.Get(nil, u)
	if err != nil {
		return nil, fmt.Errorf("check: GET %s: %w", u, err)
	}
	var ans struct {
		Trucks []struct {
			Plate     string   `json:"plate"`
			DistanceM *float64 `json:"distance_m"`
		} `json:"trucks"`
	}
	if status != fasthttp.StatusOK {
		return nil, fmt.Errorf("check: GET %s: status %d, %.200s", u, status, body)
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("check: GET %s: %w", u, err)
	}
	hits := make([]nearHit, len(ans.Trucks))
	for i, t := range ans.Trucks {
		if t.DistanceM == nil {
			return nil, fmt.Errorf("check: GET %s: truck %d has no distance_m", u, i)
		}
		hits[i] = nearHit{t.Plate, *t.DistanceM}
	}
	return hits, nil
}

func redisNear(c *respConn, lat, lon string, radius float64, limit int) ([]nearHit, error) {
	v, err := c.do("GEOSEARCH", geoRedisKey, "FROMLONLAT", lon, lat, "BYRADIUS", strconv.FormatFloat(radius, 'f', -1, 64), "m",
		"ASC", "COUNT", strconv.Itoa(limit), "WITHDIST")
	if err != nil {
		return nil, fmt.Errorf("check: redis GEOSEARCH: %w", err)
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("check: redis GEOSEARCH returned %T", v)
	}
	hits := make([]nearHit, len(arr))
	for i, e := range arr {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("check: redis GEOSEARCH member %d: %v", i, e)
		}
		name, _ := pair[0].(string)
		ds, _ := pair[1].(string)
		d, err := strconv.ParseFloat(ds, 64)
		if err != nil {
			return nil, fmt.Errorf("check: redis GEOSEARCH member %d: distance %q", i, ds)
		}
		hits[i] = nearHit{name, d}
	}
	return hits, nil
}
