package portmodel

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type feature struct {
	Properties map[string]any `json:"properties"`
	Geometry   struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	} `json:"geometry"`
}

type position [2]float64 // lon, lat

// load parses the model, failing the test on any structural error.
func load(t *testing.T) []feature {
	t.Helper()
	var fc struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}
	if err := json.Unmarshal(GeoJSON(), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" {
		t.Fatalf("type %q, want FeatureCollection", fc.Type)
	}
	if len(fc.Features) == 0 {
		t.Fatal("no features")
	}
	return fc.Features
}

func str(f feature, key string) string {
	s, _ := f.Properties[key].(string)
	return s
}

// rings decodes a Polygon's rings, a LineString as one ring-like line, or a
// Point as a single position.
func positions(t *testing.T, f feature) [][]position {
	t.Helper()
	var out [][]position
	var err error
	switch f.Geometry.Type {
	case "Polygon":
		err = json.Unmarshal(f.Geometry.Coordinates, &out)
	case "LineString":
		var line []position
		err = json.Unmarshal(f.Geometry.Coordinates, &line)
		out = [][]position{line}
	case "Point":
		var p position
		err = json.Unmarshal(f.Geometry.Coordinates, &p)
		out = [][]position{{p}}
	default:
		t.Fatalf("%s: geometry type %q", str(f, "id"), f.Geometry.Type)
	}
	if err != nil {
		t.Fatalf("%s: coordinates: %v", str(f, "id"), err)
	}
	return out
}

var kinds = []string{"port_area", "terminal", "berth", "yard_block", "gate", "anchorage", "route", "rail_station", "reader"}

func TestFeatures(t *testing.T) {
	readerID := regexp.MustCompile(`^[A-Z]{4}-`)
	features := load(t)
	ids := map[string]bool{}
	byKind := map[string][]feature{}
	for i, f := range features {
		id := str(f, "id")
		if id == "" || str(f, "name") == "" {
			t.Errorf("feature %d: id %q, name %q: both are required", i, id, str(f, "name"))
		}
		if ids[id] {
			t.Errorf("%s: duplicate id", id)
		}
		ids[id] = true
		kind := str(f, "kind")
		// The map labels every place in Chinese and English; readers are
		// not drawn.
		if zh := str(f, "name_zh"); kind != "reader" && (zh == "" || !strings.ContainsFunc(zh, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff })) {
			t.Errorf("%s: name_zh %q: a Chinese name is required", id, zh)
		}
		if !slices.Contains(kinds, kind) {
			t.Errorf("%s: kind %q is not one of %v", id, kind, kinds)
		}
		byKind[kind] = append(byKind[kind], f)
		if _, ok := f.Properties["approximate"].(bool); !ok {
			t.Errorf("%s: approximate is not a bool", id)
		}
		if str(f, "source") == "" {
			t.Errorf("%s: no source", id)
		}
		switch kind {
		case "reader":
			if f.Geometry.Type != "Point" {
				t.Errorf("%s: a reader is a Point, not %s", id, f.Geometry.Type)
			}
			if r := str(f, "reader"); !readerID.MatchString(r) {
				t.Errorf("%s: reader %q does not match %v", id, r, readerID)
			}
		case "route":
			if f.Geometry.Type == "Point" {
				t.Errorf("%s: a route is not a Point", id)
			}
		default:
			if f.Geometry.Type != "Polygon" {
				t.Errorf("%s: a %s is a Polygon, not %s", id, kind, f.Geometry.Type)
			}
		}
		for _, ring := range positions(t, f) {
			for _, p := range ring {
				if !(p[1] >= 29.5 && p[1] <= 30.7 && p[0] >= 121.4 && p[0] <= 122.9) {
					t.Errorf("%s: position %v outside lat 29.5-30.7, lon 121.4-122.9 (or not [lon, lat])", id, p)
				}
			}
		}
	}
	for _, k := range kinds {
		if len(byKind[k]) == 0 {
			t.Errorf("no feature of kind %s", k)
		}
	}

	// References: port_area and terminal properties name existing features.
	areas := map[string]feature{}
	for _, f := range byKind["port_area"] {
		areas[str(f, "port_area")] = f
	}
	for _, want := range []string{"beilun", "chuanshan", "meishan", "daxie", "jintang", "zhenhai"} {
		if _, ok := areas[want]; !ok {
			t.Errorf("no port_area feature for %s", want)
		}
	}
	terminals := map[string]int{} // id -> berths
	for _, f := range byKind["terminal"] {
		terminals[str(f, "id")] = 0
	}
	for _, f := range features {
		id := str(f, "id")
		if pa, ok := f.Properties["port_area"]; ok {
			if _, known := areas[fmt.Sprint(pa)]; !known {
				t.Errorf("%s: port_area %v is not a port_area feature", id, pa)
			}
		}
		if tm, ok := f.Properties["terminal"]; ok {
			if _, known := terminals[fmt.Sprint(tm)]; !known {
				t.Errorf("%s: terminal %v is not a terminal feature", id, tm)
			}
			if str(f, "kind") == "berth" {
				terminals[fmt.Sprint(tm)]++
			}
		}
		switch str(f, "kind") {
		case "terminal", "berth", "yard_block", "gate", "reader", "rail_station":
			if str(f, "port_area") == "" {
				t.Errorf("%s: no port_area", id)
			}
		}
	}
	for tm, n := range terminals {
		if n < 2 || n > 4 {
			t.Errorf("terminal %s has %d berths, want 2-4", tm, n)
		}
	}

	// Places lie in their port area (a cheap plausibility check on the
	// approximate shapes: a berth of Meishan is not drawn at Beilun).
	for _, f := range features {
		pa := str(f, "port_area")
		switch str(f, "kind") {
		case "port_area", "anchorage", "route", "":
			continue
		}
		area := positions(t, areas[pa])[0]
		for _, p := range positions(t, f)[0] {
			if !inRing(p, area) {
				t.Errorf("%s: %v is outside port area %s", str(f, "id"), p, pa)
			}
		}
	}

	// Facilities of the default RFID reader table map to places.
	facilities := map[string]bool{}
	for _, f := range features {
		if fa := str(f, "facility"); fa != "" && str(f, "kind") != "reader" {
			facilities[fa] = true
		}
	}
	for _, code := range []string{"BLCT", "CSCT", "MSCT"} {
		for _, place := range []string{"GATE", "QUAY", "INSPECTION"} {
			if fa := "CNNGB-" + code + "-" + place; !facilities[fa] {
				t.Errorf("no place with facility %s", fa)
			}
		}
	}
	if !facilities["CNNGB-BEILUN-RAIL"] {
		t.Error("no place with facility CNNGB-BEILUN-RAIL")
	}
}

// TestReaderFences checks the reader → place mapping that container location
// relies on: every reader names the fence it serves (fence), that fence lists
// it (readers) and has the reader's facility, and a reader is listed by one
// fence only. Yard blocks carry their block code.
func TestReaderFences(t *testing.T) {
	features := load(t)
	byID := map[string]feature{}
	for _, f := range features {
		byID[str(f, "id")] = f
	}
	listedBy := map[string]string{}
	for _, f := range features {
		id := str(f, "id")
		raw, ok := f.Properties["readers"]
		if !ok {
			continue
		}
		list, ok := raw.([]any)
		if !ok || len(list) == 0 {
			t.Errorf("%s: readers is not a non-empty list of reader ids", id)
			continue
		}
		switch str(f, "kind") {
		case "berth", "yard_block", "gate", "rail_station":
		default:
			t.Errorf("%s: a %s lists readers; only berths, yard blocks, gates and rail stations do", id, str(f, "kind"))
		}
		for _, r := range list {
			rs, _ := r.(string)
			if prev, dup := listedBy[rs]; dup {
				t.Errorf("reader %q listed by %s and %s", rs, prev, id)
			}
			listedBy[rs] = id
		}
	}
	for _, f := range features {
		id := str(f, "id")
		switch str(f, "kind") {
		case "reader":
			fence := str(f, "fence")
			g, ok := byID[fence]
			if !ok {
				t.Errorf("%s: fence %q is not a feature", id, fence)
				continue
			}
			if listedBy[str(f, "reader")] != fence {
				t.Errorf("%s: fence %s does not list reader %s in its readers", id, fence, str(f, "reader"))
			}
			if str(g, "facility") != str(f, "facility") {
				t.Errorf("%s: facility %q, its fence %s has %q", id, str(f, "facility"), fence, str(g, "facility"))
			}
		case "yard_block":
			if str(f, "block") == "" {
				t.Errorf("%s: a yard block has no block code", id)
			}
		}
	}
	for r, fence := range listedBy {
		found := false
		for _, f := range features {
			if str(f, "kind") == "reader" && str(f, "reader") == r {
				found = true
			}
		}
		if !found {
			t.Errorf("%s lists reader %s, which has no reader feature", fence, r)
		}
	}
}

func TestPolygonRings(t *testing.T) {
	for _, f := range load(t) {
		if f.Geometry.Type != "Polygon" {
			continue
		}
		id := str(f, "id")
		rings := positions(t, f)
		if len(rings) == 0 {
			t.Errorf("%s: polygon without rings", id)
		}
		for i, ring := range rings {
			if len(ring) < 4 {
				t.Errorf("%s: ring %d has %d positions, want >= 4", id, i, len(ring))
				continue
			}
			if ring[0] != ring[len(ring)-1] {
				t.Errorf("%s: ring %d is not closed: %v != %v", id, i, ring[0], ring[len(ring)-1])
				continue
			}
			a := signedArea(ring)
			if i == 0 && a <= 0 || i > 0 && a >= 0 {
				t.Errorf("%s: ring %d has signed area %g: exterior must be counter-clockwise, holes clockwise", id, i, a)
			}
			if s1, s2, ok := selfIntersection(ring); ok {
				t.Errorf("%s: ring %d: segments %d and %d intersect", id, i, s1, s2)
			}
		}
	}
}

// TestSourcedShapes pins the published geometry to DOMAIN.md §10.
func TestSourcedShapes(t *testing.T) {
	// Ningbo MSA notice 甬海航〔2015〕92号, as listed (clockwise): lat, lon.
	anchorage := [][2]float64{
		{29.97278, 121.90917}, {29.98444, 121.93278}, {29.97167, 121.93778}, {29.94500, 121.92222}, {29.95083, 121.90056},
	}
	found := 0
	for _, f := range load(t) {
		switch str(f, "id") {
		case "beilun-anchorage":
			found++
			if f.Properties["approximate"] != false {
				t.Error("beilun-anchorage is sourced: approximate must be false")
			}
			ring := positions(t, f)[0]
			ring = ring[:len(ring)-1]
			// Counter-clockwise is the listed order reversed, from any start.
			var want []position
			for i := range anchorage {
				p := anchorage[len(anchorage)-1-i]
				want = append(want, position{p[1], p[0]})
			}
			if !sameCycle(ring, want) {
				t.Errorf("beilun-anchorage ring %v, want the vertices %v in counter-clockwise order", ring, want)
			}
		case "xiazhimen-tss-separation-line":
			found++
			line := positions(t, f)[0]
			want := []position{{122.31889, 29.74694}, {122.23667, 29.80903}}
			if !slices.Equal(line, want) {
				t.Errorf("separation line %v, want %v", line, want)
			}
			if f.Properties["approximate"] != false {
				t.Error("the TSS separation line is sourced: approximate must be false")
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the 2 sourced features", found)
	}
}

func TestGeoJSONIsACopy(t *testing.T) {
	a := GeoJSON()
	a[0] = 'x'
	if b := GeoJSON(); b[0] != '{' {
		t.Fatal("GeoJSON returned the embedded bytes")
	}
}

func sameCycle(ring, want []position) bool {
	if len(ring) != len(want) {
		return false
	}
	for start := range ring {
		ok := true
		for i := range want {
			if ring[(start+i)%len(ring)] != want[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// signedArea is the shoelace area of a closed ring in degrees²; positive is
// counter-clockwise with x = lon, y = lat.
func signedArea(ring []position) float64 {
	var s float64
	for i := 0; i+1 < len(ring); i++ {
		s += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return s / 2
}

// selfIntersection reports the first pair of ring segments that touch, other
// than neighbours sharing their common vertex. O(n²), fine for these rings.
func selfIntersection(ring []position) (int, int, bool) {
	n := len(ring) - 1 // segments; ring is closed
	for i := range n {
		for j := i + 1; j < n; j++ {
			a, b, c, d := ring[i], ring[i+1], ring[j], ring[j+1]
			switch {
			case j == i+1: // share b == c
				if collinearOverlap(a, b, d) {
					return i, j, true
				}
			case i == 0 && j == n-1: // share a == d
				if collinearOverlap(b, a, c) {
					return i, j, true
				}
			default:
				if segmentsIntersect(a, b, c, d) {
					return i, j, true
				}
			}
		}
	}
	return 0, 0, false
}

func orient(a, b, c position) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// onSegment reports whether p, collinear with a-b, lies within its box.
func onSegment(a, b, p position) bool {
	return min(a[0], b[0]) <= p[0] && p[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= p[1] && p[1] <= max(a[1], b[1])
}

func segmentsIntersect(a, b, c, d position) bool {
	o1, o2 := sign(orient(a, b, c)), sign(orient(a, b, d))
	o3, o4 := sign(orient(c, d, a)), sign(orient(c, d, b))
	if o1 != o2 && o3 != o4 && o1*o2 <= 0 && o3*o4 <= 0 {
		return true
	}
	return o1 == 0 && onSegment(a, b, c) || o2 == 0 && onSegment(a, b, d) ||
		o3 == 0 && onSegment(c, d, a) || o4 == 0 && onSegment(c, d, b)
}

// collinearOverlap reports whether segments a-shared and shared-d fold back
// onto each other (a zero-width spike), or repeat a vertex.
func collinearOverlap(a, shared, d position) bool {
	if a == shared || shared == d {
		return true
	}
	if sign(orient(a, shared, d)) != 0 {
		return false
	}
	// Collinear: they overlap when d is on the a side of shared.
	return (a[0]-shared[0])*(d[0]-shared[0])+(a[1]-shared[1])*(d[1]-shared[1]) > 0
}

// inRing is an even-odd point-in-polygon test on a closed ring.
func inRing(p position, ring []position) bool {
	in := false
	for i := 0; i+1 < len(ring); i++ {
		a, b := ring[i], ring[i+1]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0]+(p[1]-a[1])/(b[1]-a[1])*(b[0]-a[0]) {
			in = !in
		}
	}
	return in
}

func TestSelfIntersection(t *testing.T) {
	for _, tc := range []struct {
		name string
		ring []position
		want bool
	}{
		{"square", []position{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}, false},
		{"bowtie", []position{{0, 0}, {1, 1}, {1, 0}, {0, 1}, {0, 0}}, true},
		{"spike", []position{{0, 0}, {2, 0}, {1, 0}, {1, 1}, {0, 0}}, true},
		{"touching vertex", []position{{0, 0}, {2, 0}, {2, 2}, {1, 0}, {0, 2}, {0, 0}}, true},
		{"repeated vertex", []position{{0, 0}, {1, 0}, {1, 0}, {0, 1}, {0, 0}}, true},
	} {
		if _, _, got := selfIntersection(tc.ring); got != tc.want {
			t.Errorf("%s: self-intersecting %v, want %v", tc.name, got, tc.want)
		}
	}
}
