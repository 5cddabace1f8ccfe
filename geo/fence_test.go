package geo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func loadPort(t *testing.T) []Feature {
	t.Helper()
	f, err := os.Open("testdata/port.geojson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := ParseFeatureCollection(f)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestParsePortFences(t *testing.T) {
	fs := loadPort(t)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	if want := []string{"beilun-anchorage", "beilun-yard-demo", "7", "qushan-bunkering"}; !slices.Equal(ids, want) {
		t.Fatalf("ids %q, want %q", ids, want)
	}
	if fs[0].Name != "Beilun anchorage" || fs[0].Properties["kind"] != "anchorage" {
		t.Errorf("anchorage: name %q props %v", fs[0].Name, fs[0].Properties)
	}
	if len(fs[0].Polygons[0].Outer) != 5 {
		t.Errorf("anchorage outer ring has %d vertices, want 5 (closing one dropped)", len(fs[0].Polygons[0].Outer))
	}
	if got := fs[2].Properties["berths"]; !reflect.DeepEqual(got, []any{1.0, 2.0}) {
		t.Errorf("berths property %#v", got)
	}
	if len(fs[1].Polygons[0].Holes) != 1 || len(fs[2].Polygons) != 2 {
		t.Errorf("yard holes %d, berth polygons %d", len(fs[1].Polygons[0].Holes), len(fs[2].Polygons))
	}

	x, _ := NewFenceIndex(ResArea)
	for _, f := range fs {
		fe, err := NewFence(f, ResArea)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(fe); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		p    LatLng
		want []string
	}{
		{"anchorage centroid", LatLng{29.965, 121.921}, []string{"beilun-anchorage"}},
		{"Beilun port reference (on land)", LatLng{29.93572, 121.85139}, nil},
		{"Qushan sourced point A", LatLng{30.4598, 122.4679}, []string{"qushan-bunkering"}},
		{"Qushan sourced point B", LatLng{30.4601, 122.4905}, []string{"qushan-bunkering"}},
		{"yard block", LatLng{29.9335, 121.8705}, []string{"beilun-yard-demo"}},
		{"workshop hole in the yard", LatLng{29.9346, 121.8727}, nil},
		{"berth 1", LatLng{29.9002, 121.9810}, []string{"7"}},
		{"gap between berths", LatLng{29.9002, 121.9839}, nil},
		{"berth 2", LatLng{29.9002, 121.9870}, []string{"7"}},
	} {
		var got []string
		if err := x.Containing(tc.p, func(id string) bool { got = append(got, id); return true }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: in %q, want %q", tc.name, tc.p, got, tc.want)
		}
	}
	// The anchorage (~3.5 km across) is mostly interior cells at ResArea.
	f, _ := x.Get("beilun-anchorage")
	interior, boundary := 0, 0
	f.Cover(func(c Cell, in bool) bool {
		if in {
			interior++
		} else {
			boundary++
		}
		return true
	})
	t.Logf("anchorage cover at res %d: %d interior, %d boundary cells", ResArea, interior, boundary)
	if interior < boundary {
		t.Errorf("anchorage: %d interior cells, %d boundary", interior, boundary)
	}
}

func TestParseErrors(t *testing.T) {
	feature := func(id, geom string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","id":` + id +
			`,"properties":{"name":"Berth 9"},"geometry":` + geom + `}]}`
	}
	poly := func(rings string) string { return `{"type":"Polygon","coordinates":` + rings + `}` }
	square := `[[121.0,29.0],[121.1,29.0],[121.1,29.1],[121.0,29.1],[121.0,29.0]]`
	for _, tc := range []struct {
		name, doc string
		want      []string // substrings of the message
	}{
		{"bad json", `{"type":"FeatureCollection","features":[`, []string{"decode"}},
		{"not a collection", `{"type":"Feature"}`, []string{`type "Feature", want FeatureCollection`}},
		{"geometry collection", feature(`"g1"`, `{"type":"GeometryCollection","geometries":[]}`), []string{`id "g1"`, `name "Berth 9"`, `"GeometryCollection"`}},
		{"null geometry", feature(`"g1"`, `null`), []string{`id "g1"`, "no geometry"}},
		{"no id", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Gate 3"},"geometry":` + poly(`[`+square+`]`) + `}]}`,
			[]string{`feature[0] name "Gate 3"`, "no \"id\""}},
		{"bad id", feature(`{"a":1}`, poly(`[`+square+`]`)), []string{`"id" must be`}},
		{"duplicate id", `{"type":"FeatureCollection","features":[` +
			`{"type":"Feature","id":"b","geometry":` + poly(`[`+square+`]`) + `},` +
			`{"type":"Feature","id":"b","geometry":` + poly(`[`+square+`]`) + `}]}`, []string{`feature[1] id "b"`, "already used by feature[0]"}},
		{"not closed", feature(`"b9"`, poly(`[[[121.0,29.0],[121.1,29.0],[121.1,29.1],[121.0,29.1]]]`)), []string{`id "b9"`, "outer ring is not closed"}},
		{"too short", feature(`"b9"`, poly(`[[[121.0,29.0],[121.1,29.0],[121.0,29.0]]]`)), []string{"3 positions, want at least 4"}},
		{"degenerate", feature(`"b9"`, poly(`[[[121.0,29.0],[121.1,29.0],[121.1,29.0],[121.0,29.0]]]`)), []string{"2 distinct positions"}},
		{"collinear", feature(`"b9"`, poly(`[[[121.0,29.0],[121.1,29.0],[121.2,29.0],[121.0,29.0]]]`)), []string{"fold back"}},
		{"latitude out of range", feature(`"b9"`, poly(`[[[29.0,121.0],[29.1,121.0],[29.1,121.1],[29.0,121.0]]]`)), []string{"position 0", "invalid coordinate", "[lng, lat]"}},
		{"position too short", feature(`"b9"`, poly(`[[[121.0],[121.1,29.0],[121.1,29.1],[121.0]]]`)), []string{"position 0 has 1 numbers"}},
		{"bow tie", feature(`"b9"`, poly(`[[[121.0,29.0],[121.1,29.1],[121.1,29.0],[121.0,29.1],[121.0,29.0]]]`)),
			[]string{`id "b9"`, "outer ring self-intersects", "edge 0", "edge 2"}},
		{"touching vertex", feature(`"b9"`, poly(`[[[121.0,29.0],[121.2,29.0],[121.1,29.1],[121.2,29.2],[121.0,29.2],[121.1,29.1],[121.0,29.0]]]`)),
			[]string{"self-intersects"}},
		{"hole outside", feature(`"b9"`, poly(`[`+square+`,[[122.0,29.0],[122.01,29.0],[122.01,29.01],[122.0,29.0]]]`)), []string{"hole 1 lies outside the outer ring"}},
		{"hole crossing shell", feature(`"b9"`, poly(`[`+square+`,[[121.05,29.05],[121.2,29.05],[121.05,29.06],[121.05,29.05]]]`)),
			[]string{"outer ring edge", "meets hole 1"}},
		{"nested holes", feature(`"b9"`, poly(`[`+square+`,[[121.01,29.01],[121.09,29.01],[121.09,29.09],[121.01,29.01]],[[121.05,29.02],[121.06,29.02],[121.06,29.03],[121.05,29.02]]]`)),
			[]string{"hole 2 lies inside hole 1"}},
		{"antimeridian", feature(`"b9"`, poly(`[[[179.9,0],[-179.9,0],[-179.9,1],[179.9,0]]]`)), []string{"antimeridian"}},
		{"multipolygon bad member", feature(`"b9"`, `{"type":"MultiPolygon","coordinates":[[`+square+`],[[[121,29],[121.1,29],[121,29]]]]}`),
			[]string{"polygon 1:", "3 positions"}},
		{"empty multipolygon", feature(`"b9"`, `{"type":"MultiPolygon","coordinates":[]}`), []string{"no polygons"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFeatureCollection(strings.NewReader(tc.doc))
			if !errors.Is(err, ErrInvalidFence) {
				t.Fatalf("err = %v, want ErrInvalidFence", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Points and lines (reader positions, routes) are skipped in a
	// collection, but their IDs still count for uniqueness.
	mixed := `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"id":"reader-1"},"geometry":{"type":"Point","coordinates":[121.87,29.93]}},
		{"type":"Feature","geometry":{"type":"LineString","coordinates":[[122.31889,29.74694],[122.23667,29.80903]]}},
		{"type":"Feature","id":"gate-1","geometry":` + poly(`[`+square+`]`) + `}]}`
	fs, err := ParseFeatureCollection(strings.NewReader(mixed))
	if err != nil || len(fs) != 1 || fs[0].ID != "gate-1" {
		t.Fatalf("mixed collection: %v, %+v", err, fs)
	}
	dup := strings.Replace(mixed, `"gate-1"`, `"reader-1"`, 1)
	if _, err := ParseFeatureCollection(strings.NewReader(dup)); err == nil || !strings.Contains(err.Error(), "already used by feature[0]") {
		t.Fatalf("fence reusing a reader's id: %v", err)
	}
	// A single Feature, as the API receives one.
	f, err := ParseFeature(strings.NewReader(`{"type":"Feature","id":12,"properties":{"name":"Gate 1"},"geometry":` + poly(`[`+square+`]`) + `}`))
	if err != nil || f.ID != "12" || f.Name != "Gate 1" {
		t.Fatalf("ParseFeature = %+v, %v", f, err)
	}
	if _, err := ParseFeature(strings.NewReader(`{"type":"Feature","id":"x","geometry":null}`)); err == nil || !strings.Contains(err.Error(), `feature id "x": no geometry`) {
		t.Fatalf("ParseFeature without geometry: %v", err)
	}
	if _, err := ParseFeature(strings.NewReader(`{"type":"Feature","id":"p","geometry":{"type":"Point","coordinates":[121,29]}}`)); !errors.Is(err, ErrInvalidFence) || !strings.Contains(err.Error(), `"Point", want Polygon`) {
		t.Fatalf("ParseFeature of a Point: %v", err)
	}
}

// star is a random simple polygon: vertices at increasing angles around c.
func star(rng *rand.Rand, c LatLng, n int, rMin, rMax float64) []LatLng {
	angles := make([]float64, n)
	for i := range angles {
		angles[i] = rng.Float64() * 360
	}
	slices.Sort(angles)
	angles = slices.Compact(angles)
	r := make([]LatLng, 0, n)
	for _, a := range angles {
		r = append(r, dest(c, a, rMin+rng.Float64()*(rMax-rMin)))
	}
	return r
}

// randomFence is a fence of one or two star polygons, often with a hole,
// sized from smaller than a cell to many cells at res. A hole can cross a
// long chord of a few-sided outer ring; such draws are made again.
func randomFence(rng *rand.Rand, id string, res Resolution) Feature {
	return randomFenceNear(rng, id, res, port)
}

func randomFenceNear(rng *rand.Rand, id string, res Resolution, near LatLng) Feature {
	for {
		if f := randomFeature(rng, id, res, near); f.Validate() == nil {
			return f
		}
	}
}

func randomFeature(rng *rand.Rand, id string, res Resolution, near LatLng) Feature {
	edge := res.AvgEdgeM()
	size := edge * math.Pow(10, rng.Float64()*2-0.7) // 0.2 to 20 edges
	c := dest(near, rng.Float64()*360, rng.Float64()*edge*30)
	f := Feature{ID: id, Name: "random " + id}
	for p := range 1 + rng.IntN(2) {
		pc := dest(c, rng.Float64()*360, float64(p)*3*size)
		poly := Polygon{Outer: star(rng, pc, 3+rng.IntN(12), size*0.6, size)}
		if rng.IntN(2) == 0 {
			poly.Holes = append(poly.Holes, star(rng, pc, 3+rng.IntN(6), size*0.1, size*0.5))
		}
		f.Polygons = append(f.Polygons, poly)
	}
	return f
}

// windingContains is an independent reference for simple rings: the
// winding number (Sunday), not the crossing parity the package uses.
func windingContains(r []LatLng, q LatLng) bool {
	wn := 0
	for i, a := range r {
		b := r[(i+1)%len(r)]
		isLeft := (b.Lng-a.Lng)*(q.Lat-a.Lat) - (q.Lng-a.Lng)*(b.Lat-a.Lat)
		if a.Lat <= q.Lat {
			if b.Lat > q.Lat && isLeft > 0 {
				wn++
			}
		} else if b.Lat <= q.Lat && isLeft < 0 {
			wn--
		}
	}
	return wn != 0
}

func referenceContains(f Feature, q LatLng) bool {
	for _, p := range f.Polygons {
		if windingContains(p.Outer, q) && !slices.ContainsFunc(p.Holes, func(h []LatLng) bool { return windingContains(h, q) }) {
			return true
		}
	}
	return false
}

// probes are the points worth asking about a fence: random ones around it,
// its vertices, points on and a hair off its edges, and the vertices and
// centres of the cells its cover uses.
func probes(rng *rand.Rand, f *Fence) (pts []LatLng, onEdge []bool) {
	add := func(p LatLng, edge bool) { pts, onEdge = append(pts, p), append(onEdge, edge) }
	b := f.box
	dLat, dLng := (b.maxLat-b.minLat)*0.2+1e-5, (b.maxLng-b.minLng)*0.2+1e-5
	for range 300 {
		add(LatLng{b.minLat - dLat + rng.Float64()*(b.maxLat-b.minLat+2*dLat), b.minLng - dLng + rng.Float64()*(b.maxLng-b.minLng+2*dLng)}, false)
	}
	for _, poly := range f.Polygons {
		for _, r := range poly.rings() {
			for i, a := range r {
				c := r[(i+1)%len(r)]
				t := rng.Float64()
				m := LatLng{a.Lat + t*(c.Lat-a.Lat), a.Lng + t*(c.Lng-a.Lng)}
				add(a, true)
				add(m, true)
				add(LatLng{m.Lat + 1e-9, m.Lng}, false)
				add(LatLng{m.Lat - 1e-9, m.Lng}, false)
			}
		}
	}
	var buf []LatLng
	n := 0
	f.Cover(func(c Cell, _ bool) bool {
		add(c.Center(), false)
		for _, v := range c.Boundary(buf[:0]) {
			add(v, false)
		}
		n++
		return n < 200
	})
	return pts, onEdge
}

func TestFenceContainsIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	fences := 60
	if testing.Short() {
		fences = 20
	}
	for _, res := range []Resolution{8, ResArea, 12} {
		interiorHits := 0
		for i := range fences {
			feat := randomFence(rng, fmt.Sprint(i), res)
			f, err := NewFence(feat, res)
			if err != nil {
				t.Fatal(err)
			}
			// Interior cells really are inside, vertices included.
			f.Cover(func(c Cell, in bool) bool {
				if in {
					for _, v := range c.Boundary(nil) {
						if !f.containsExact(v) {
							t.Fatalf("res %d fence %s: interior cell %v has vertex %v outside", res, f.ID, c, v)
						}
					}
				}
				return true
			})
			pts, onEdge := probes(rng, f)
			for j, p := range pts {
				got, exact := f.coverContains(p), f.containsExact(p)
				if got != exact {
					t.Fatalf("res %d fence %s: cover says %v for %v, polygon test says %v", res, f.ID, got, p, exact)
				}
				if f.Contains(p) != exact {
					t.Fatalf("res %d fence %s: Contains(%v) = %v, polygon test says %v", res, f.ID, p, !exact, exact)
				}
				if !onEdge[j] && got != referenceContains(feat, p) {
					t.Fatalf("res %d fence %s: Contains(%v) = %v, winding number disagrees", res, f.ID, p, got)
				}
				if got {
					if in, _ := f.cover[cellOf(p, res)]; in {
						interiorHits++
					}
				}
			}
		}
		if interiorHits == 0 {
			t.Errorf("res %d: no point was answered by an interior cell", res)
		}
	}
}

// Away from Ningbo: high latitude, beside the antimeridian (west of it,
// fences may not cross it), the equator, and a coarse resolution where a
// fence spans hundreds of kilometres.
func TestFenceAwayFromPort(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 6))
	for _, tc := range []struct {
		near LatLng
		res  Resolution
	}{
		{LatLng{75, 20}, ResArea}, {LatLng{-45, 179.3}, ResArea}, {LatLng{0.001, 0}, ResArea},
		{LatLng{60, -100}, 5}, {LatLng{29.93, 121.85}, 5}, {LatLng{84, 45}, 7},
	} {
		for i := range 15 {
			feat := randomFenceNear(rng, fmt.Sprint(i), tc.res, tc.near)
			f, err := NewFence(feat, tc.res)
			if err != nil {
				t.Fatal(err)
			}
			pts, onEdge := probes(rng, f)
			for j, p := range pts {
				got, exact := f.coverContains(p), f.containsExact(p)
				if got != exact {
					t.Fatalf("near %v res %d fence %s: cover says %v for %v, polygon test says %v", tc.near, tc.res, f.ID, got, p, exact)
				}
				if !onEdge[j] && got != referenceContains(feat, p) {
					t.Fatalf("near %v res %d fence %s: %v winding number disagrees", tc.near, tc.res, f.ID, p)
				}
			}
		}
	}
}

// A many-vertex fence (a digitised coastline-like ring) answers Contains
// from its cover.
func TestContainsManyVertices(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 5))
	feat := Feature{ID: "wiggly", Polygons: []Polygon{{
		Outer: star(rng, port, 2000, 600, 1500),
		Holes: [][]LatLng{star(rng, port, 300, 100, 400)},
	}}}
	f, err := NewFence(feat, ResArea)
	if err != nil {
		t.Fatal(err)
	}
	if f.verts <= directTestMaxVertices {
		t.Fatalf("%d vertices: Contains would not use the cover", f.verts)
	}
	pts, _ := probes(rng, f)
	for _, p := range pts {
		if got, want := f.Contains(p), f.containsExact(p); got != want {
			t.Fatalf("Contains(%v) = %v, polygon test says %v", p, got, want)
		}
	}
}

func TestFenceIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 4))
	x, _ := NewFenceIndex(ResArea)
	all := map[string]*Fence{}
	for i := range 80 {
		f, err := NewFence(randomFence(rng, fmt.Sprintf("f%02d", i), ResArea), ResArea)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(f); err != nil {
			t.Fatal(err)
		}
		all[f.ID] = f
	}
	var pts []LatLng
	for _, f := range all {
		p, _ := probes(rng, f)
		pts = append(pts, p...)
	}
	for range 2000 {
		pts = append(pts, dest(port, rng.Float64()*360, rng.Float64()*7000))
	}
	check := func(stage string) {
		t.Helper()
		ids := make([]string, 0, len(all))
		for id := range all {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		hits := 0
		for _, p := range pts {
			var want, got []string
			for _, id := range ids {
				if all[id].containsExact(p) {
					want = append(want, id)
				}
			}
			if err := x.Containing(p, func(id string) bool { got = append(got, id); return true }); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: Containing(%v) = %q, want %q", stage, p, got, want)
			}
			hits += len(got)
		}
		if x.Len() != len(all) {
			t.Fatalf("%s: Len %d, want %d", stage, x.Len(), len(all))
		}
		t.Logf("%s: %d fences, %d points, %d containments", stage, len(all), len(pts), hits)
	}
	check("added")
	for id := range all {
		if rng.IntN(2) == 0 {
			if !x.Remove(id) {
				t.Fatalf("Remove(%s) = false", id)
			}
			delete(all, id)
		}
	}
	check("half removed")
	for id := range all { // replace in place: same ID, new shape
		f, _ := NewFence(randomFence(rng, id, ResArea), ResArea)
		_ = x.Add(f)
		all[id] = f
		break
	}
	check("one replaced")
	if x.Remove("nope") {
		t.Error("Remove of an unknown ID reported true")
	}
	for id := range all {
		x.Remove(id)
	}
	if len(x.cells) != 0 || x.Len() != 0 {
		t.Errorf("after removing all: %d cells, %d fences", len(x.cells), x.Len())
	}
	f, _ := NewFence(randomFence(rng, "r12", 12), 12)
	if err := x.Add(f); !errors.Is(err, ErrInvalidResolution) {
		t.Errorf("Add at another resolution: %v", err)
	}
	if err := x.Containing(LatLng{math.NaN(), 0}, func(string) bool { return true }); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("Containing(NaN): %v", err)
	}
}

func TestContainingStops(t *testing.T) {
	x, _ := NewFenceIndex(ResArea)
	sq := []LatLng{offset(port, -100, -100), offset(port, -100, 100), offset(port, 100, 100), offset(port, 100, -100)}
	for _, id := range []string{"a", "b", "c"} {
		f, err := NewFence(Feature{ID: id, Polygons: []Polygon{{Outer: sq}}}, ResArea)
		if err != nil {
			t.Fatal(err)
		}
		_ = x.Add(f)
	}
	anon, _ := NewFence(Feature{Polygons: []Polygon{{Outer: sq}}}, ResArea)
	if !anon.Contains(port) {
		t.Error("a fence without an ID still answers Contains")
	}
	if err := x.Add(anon); !errors.Is(err, ErrInvalidFence) {
		t.Errorf("Add without an ID: %v", err)
	}
	var got []string
	_ = x.Containing(port, func(id string) bool { got = append(got, id); return len(got) < 2 })
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %q, want [a b]", got)
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	closed := Feature{ID: "c", Polygons: []Polygon{{Outer: []LatLng{{29, 121}, {29, 121.1}, {29.1, 121.1}, {29, 121}}}}}
	if err := closed.Validate(); err == nil || !strings.Contains(err.Error(), "stored open") {
		t.Errorf("closed ring built in code: %v", err)
	}
	if _, err := NewFence(closed, ResArea); !errors.Is(err, ErrInvalidFence) || !strings.Contains(err.Error(), `feature id "c"`) {
		t.Errorf("NewFence(closed ring): %v", err)
	}
	if err := (Feature{ID: "e"}).Validate(); err == nil {
		t.Error("feature without polygons validated")
	}
	big := Feature{ID: "big", Polygons: []Polygon{{Outer: star(rand.New(rand.NewPCG(1, 1)), port, MaxFenceVertices+10, 1000, 2000)}}}
	if err := big.Validate(); err == nil || !strings.Contains(err.Error(), "simplify") {
		t.Errorf("%d vertices: %v", len(big.Polygons[0].Outer), err)
	}
}

func TestNewFenceTooBig(t *testing.T) {
	huge := Feature{ID: "china-sea", Polygons: []Polygon{{Outer: []LatLng{{20, 110}, {20, 125}, {35, 125}, {35, 110}}}}}
	if _, err := NewFence(huge, 12); !errors.Is(err, ErrInvalidFence) || !strings.Contains(err.Error(), "coarser resolution") {
		t.Errorf("NewFence(huge, 12): %v", err)
	}
	if _, err := NewFence(huge, 4); err != nil {
		t.Errorf("NewFence(huge, 4): %v", err)
	}
}
