package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ErrInvalidFence is wrapped by every error about a fence's GeoJSON or
// geometry; the message names the feature and the ring.
var ErrInvalidFence = errors.New("geo: invalid fence")

// errNotArea marks a feature with a valid GeoJSON geometry that encloses no
// area (a reader's Point, a route's LineString): not a fence, so a
// collection skips it, while ParseFeature rejects it.
var errNotArea = errors.New("not an area")

// Feature is a GeoJSON Feature whose geometry is a Polygon or MultiPolygon.
// It is plain data: build a Fence from it to test containment.
type Feature struct {
	// ID is the GeoJSON "id" (string or number), or else properties.id.
	ID string
	// Name is properties.name, if it is a string; it is only for messages.
	Name string
	// Properties is the feature's "properties" object as decoded by
	// encoding/json (numbers are float64). Read-only once in a Fence.
	Properties map[string]any
	// Polygons has one element for a Polygon, several for a MultiPolygon.
	// A MultiPolygon contains the union of its polygons.
	Polygons []Polygon
}

// Polygon is an outer ring with holes. Rings are stored open (the closing
// position that GeoJSON repeats is dropped) and without repeated
// consecutive positions. Edges are straight lines in longitude/latitude, as
// RFC 7946 §3.1.1 says and every GeoJSON tool draws, not great circles (a
// 5 km east-west edge at 30°N is 0.3 m off its great circle).
type Polygon struct {
	Outer []LatLng
	Holes [][]LatLng
}

// ParseFeatureCollection reads a GeoJSON FeatureCollection and returns its
// Polygon and MultiPolygon features, each validated (see Feature.Validate).
// Features with Point, MultiPoint, LineString or MultiLineString geometry
// are skipped, so the port model can keep reader positions and routes
// beside its fences; a null, unknown or malformed geometry is an error.
// IDs must be unique across the collection. The first problem is returned,
// naming the feature.
func ParseFeatureCollection(r io.Reader) ([]Feature, error) {
	var fc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("%w: decode FeatureCollection: %w", ErrInvalidFence, err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("%w: type %q, want FeatureCollection", ErrInvalidFence, fc.Type)
	}
	out := make([]Feature, 0, len(fc.Features))
	seen := make(map[string]int, len(fc.Features))
	for i, raw := range fc.Features {
		f, err := parseFeature(raw)
		notArea := errors.Is(err, errNotArea)
		if err != nil && !notArea {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidFence, label(i, f), err)
		}
		if f.ID != "" {
			if j, dup := seen[f.ID]; dup {
				return nil, fmt.Errorf("%w: %s: id already used by feature[%d]", ErrInvalidFence, label(i, f), j)
			}
			seen[f.ID] = i
		}
		if !notArea {
			out = append(out, f)
		}
	}
	return out, nil
}

// ParseFeature reads one GeoJSON Feature (what a user POSTs to add a fence)
// and validates it like ParseFeatureCollection does.
func ParseFeature(r io.Reader) (Feature, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return Feature{}, fmt.Errorf("%w: decode Feature: %w", ErrInvalidFence, err)
	}
	f, err := parseFeature(raw)
	if err != nil {
		return Feature{}, fmt.Errorf("%w: %s: %w", ErrInvalidFence, label(-1, f), err)
	}
	return f, nil
}

func label(i int, f Feature) string {
	s := "feature"
	if i >= 0 {
		s = fmt.Sprintf("feature[%d]", i)
	}
	if f.ID != "" {
		s += fmt.Sprintf(" id %q", f.ID)
	}
	if f.Name != "" {
		s += fmt.Sprintf(" name %q", f.Name)
	}
	return s
}

// parseFeature fills in ID and Name before anything can fail, so the
// caller's error names the feature.
func parseFeature(raw json.RawMessage) (Feature, error) {
	var rf struct {
		Type       string          `json:"type"`
		ID         json.RawMessage `json:"id"`
		Properties map[string]any  `json:"properties"`
		Geometry   *struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	}
	var f Feature
	if err := json.Unmarshal(raw, &rf); err != nil {
		return f, fmt.Errorf("decode: %w", err)
	}
	id, ok := idString(rf.ID)
	if !ok {
		return f, errors.New(`"id" must be a string or a number`)
	}
	if id == "" {
		switch v := rf.Properties["id"].(type) {
		case string:
			id = v
		case float64:
			id = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	f.ID = id
	if name, ok := rf.Properties["name"].(string); ok {
		f.Name = name
	}
	f.Properties = rf.Properties
	if rf.Type != "Feature" {
		return f, fmt.Errorf("type %q, want Feature", rf.Type)
	}
	if rf.Geometry == nil {
		return f, errors.New("no geometry")
	}
	switch rf.Geometry.Type {
	case "Point", "MultiPoint", "LineString", "MultiLineString":
		return f, fmt.Errorf("geometry type %q, want Polygon or MultiPolygon: %w", rf.Geometry.Type, errNotArea)
	}
	if f.ID == "" {
		return f, errors.New(`no "id" (or properties.id): a fence needs one`)
	}
	switch rf.Geometry.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(rf.Geometry.Coordinates, &rings); err != nil {
			return f, fmt.Errorf("Polygon coordinates: %w", err)
		}
		f.Polygons = make([]Polygon, 1)
		if err := f.Polygons[0].fromGeoJSON(rings); err != nil {
			return f, err
		}
	case "MultiPolygon":
		var polys [][][][]float64
		if err := json.Unmarshal(rf.Geometry.Coordinates, &polys); err != nil {
			return f, fmt.Errorf("MultiPolygon coordinates: %w", err)
		}
		if len(polys) == 0 {
			return f, errors.New("MultiPolygon has no polygons")
		}
		f.Polygons = make([]Polygon, len(polys))
		for i, rings := range polys {
			if err := f.Polygons[i].fromGeoJSON(rings); err != nil {
				return f, fmt.Errorf("polygon %d: %w", i, err)
			}
		}
	default:
		return f, fmt.Errorf("geometry type %q, want Polygon or MultiPolygon", rf.Geometry.Type)
	}
	return f, f.Validate()
}

// idString reads a GeoJSON id, a string or a number; a number keeps its
// JSON text, so 12345678901234567 does not round through float64.
func idString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// fromGeoJSON converts [ring][position][lng, lat, …] into p, checking what
// only the raw form shows: ring length, closure and coordinate ranges.
// Geometry (self-intersection, holes) is left to Validate.
func (p *Polygon) fromGeoJSON(rings [][][]float64) error {
	if len(rings) == 0 {
		return errors.New("polygon has no rings")
	}
	for ri, ring := range rings {
		what := ringName(ri)
		if len(ring) < 4 {
			return fmt.Errorf("%s has %d positions, want at least 4 (a closed triangle)", what, len(ring))
		}
		pts := make([]LatLng, 0, len(ring))
		for pi, pos := range ring {
			if len(pos) < 2 {
				return fmt.Errorf("%s position %d has %d numbers, want [lng, lat]", what, pi, len(pos))
			}
			q := LatLng{Lat: pos[1], Lng: pos[0]}
			if !q.Valid() {
				return fmt.Errorf("%s position %d: %w (GeoJSON order is [lng, lat])", what, pi, q.invalidErr())
			}
			pts = append(pts, q)
		}
		if first, last := pts[0], pts[len(pts)-1]; first != last {
			return fmt.Errorf("%s is not closed: first position %v, last %v", what, first, last)
		}
		pts = dedupe(pts[:len(pts)-1])
		if ri == 0 {
			p.Outer = pts
		} else {
			p.Holes = append(p.Holes, pts)
		}
	}
	return nil
}

func ringName(i int) string {
	if i == 0 {
		return "outer ring"
	}
	return fmt.Sprintf("hole %d", i)
}

// dedupe drops positions equal to their predecessor (digitisers repeat
// points); the ring is open, so the last is also compared with the first.
func dedupe(pts []LatLng) []LatLng {
	out := pts[:0]
	for i, q := range pts {
		if i > 0 && q == out[len(out)-1] {
			continue
		}
		out = append(out, q)
	}
	for len(out) > 1 && out[len(out)-1] == out[0] {
		out = out[:len(out)-1]
	}
	return out
}

// MaxFenceVertices bounds a fence's vertex count over all its rings, so the
// quadratic edge test stays under a second and a hostile upload cannot
// stall the API: a berth is 4-20 vertices, a traced anchorage a few
// hundred.
const MaxFenceVertices = 10000

// Validate checks the geometry of a feature built in code or parsed from
// JSON: every ring has three distinct vertices and encloses area, no ring
// crosses the antimeridian (RFC 7946 §3.1.9: split it), no two edges of a
// polygon's rings cross or touch except neighbours at their shared vertex,
// and every hole lies inside the outer ring and outside the other holes.
// The edge test is O(n²) in a polygon's vertex count, fine for berths and
// anchorages (tens to hundreds of vertices).
func (f Feature) Validate() error {
	if len(f.Polygons) == 0 {
		return errors.New("no polygons")
	}
	n := 0
	for _, p := range f.Polygons {
		for _, r := range p.rings() {
			n += len(r)
		}
	}
	if n > MaxFenceVertices {
		return fmt.Errorf("%d vertices, more than %d: simplify the outline", n, MaxFenceVertices)
	}
	for pi, p := range f.Polygons {
		prefix := ""
		if len(f.Polygons) > 1 {
			prefix = fmt.Sprintf("polygon %d: ", pi)
		}
		if err := p.validate(); err != nil {
			return fmt.Errorf("%s%w", prefix, err)
		}
	}
	return nil
}

func (p Polygon) rings() [][]LatLng {
	return append([][]LatLng{p.Outer}, p.Holes...)
}

func (p Polygon) validate() error {
	rings := p.rings()
	for ri, r := range rings {
		what := ringName(ri)
		if len(r) < 3 {
			return fmt.Errorf("%s has %d distinct positions, want at least 3", what, len(r))
		}
		for i, a := range r {
			if !a.Valid() {
				return fmt.Errorf("%s position %d: %w", what, i, a.invalidErr())
			}
			b := r[(i+1)%len(r)]
			if a == b {
				return fmt.Errorf("%s repeats position %d (%v): rings are stored open, without GeoJSON's closing position", what, i, a)
			}
			if math.Abs(b.Lng-a.Lng) > 180 {
				return fmt.Errorf("%s edge %d crosses the antimeridian (%v to %v): split the polygon there", what, i, a, b)
			}
		}
	}
	// Every pair of edges of every ring of the polygon.
	for ri, r := range rings {
		for i := range r {
			a1, a2 := r[i], r[(i+1)%len(r)]
			for rj := ri; rj < len(rings); rj++ {
				s := rings[rj]
				j0 := 0
				if rj == ri {
					j0 = i + 1
				}
				for j := j0; j < len(s); j++ {
					b1, b2 := s[j], s[(j+1)%len(s)]
					if rj == ri && j == i+1 { // neighbours share a2 == b1
						if foldsBack(a2, a1, b2) {
							return fmt.Errorf("%s edges %d and %d fold back on each other at %v", ringName(ri), i, j, a2)
						}
						continue
					}
					if rj == ri && i == 0 && j == len(r)-1 { // closing pair shares a1 == b2
						if foldsBack(a1, a2, b1) {
							return fmt.Errorf("%s edges %d and %d fold back on each other at %v", ringName(ri), j, i, a1)
						}
						continue
					}
					if segmentsTouch(a1, a2, b1, b2) {
						if ri == rj {
							return fmt.Errorf("%s self-intersects: edge %d (%v to %v) meets edge %d (%v to %v)", ringName(ri), i, a1, a2, j, b1, b2)
						}
						return fmt.Errorf("%s edge %d meets %s edge %d (%v to %v)", ringName(ri), i, ringName(rj), j, b1, b2)
					}
				}
			}
		}
	}
	// With no edge touching another, a ring of three distinct vertices
	// encloses area; keep the check as a net for rounding in orient.
	for ri, r := range rings {
		if ringArea2(r) == 0 {
			return fmt.Errorf("%s encloses no area", ringName(ri))
		}
	}
	// No edges meet, so each hole is wholly inside or outside the others:
	// one vertex decides.
	for hi, h := range p.Holes {
		if !ringContains(p.Outer, h[0]) {
			return fmt.Errorf("%s lies outside the outer ring", ringName(hi+1))
		}
		for hj, g := range p.Holes {
			if hj != hi && ringContains(g, h[0]) {
				return fmt.Errorf("%s lies inside %s", ringName(hi+1), ringName(hj+1))
			}
		}
	}
	return nil
}

// ringArea2 is twice the signed shoelace area in degree² (only its sign and
// whether it is zero matter).
func ringArea2(r []LatLng) float64 {
	var s float64
	for i, a := range r {
		b := r[(i+1)%len(r)]
		s += a.Lng*b.Lat - b.Lng*a.Lat
	}
	return s
}

// orient is the sign of the turn a→b→c in the lng/lat plane.
func orient(a, b, c LatLng) int {
	v := (b.Lng-a.Lng)*(c.Lat-a.Lat) - (b.Lat-a.Lat)*(c.Lng-a.Lng)
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// onSegment reports whether c, collinear with a-b, lies within its box.
func onSegment(a, b, c LatLng) bool {
	return min(a.Lng, b.Lng) <= c.Lng && c.Lng <= max(a.Lng, b.Lng) &&
		min(a.Lat, b.Lat) <= c.Lat && c.Lat <= max(a.Lat, b.Lat)
}

// segmentsTouch reports whether closed segments a1-a2 and b1-b2 share any
// point: a proper crossing, or an endpoint on the other segment.
func segmentsTouch(a1, a2, b1, b2 LatLng) bool {
	o1, o2 := orient(a1, a2, b1), orient(a1, a2, b2)
	o3, o4 := orient(b1, b2, a1), orient(b1, b2, a2)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return (o1 == 0 && onSegment(a1, a2, b1)) || (o2 == 0 && onSegment(a1, a2, b2)) ||
		(o3 == 0 && onSegment(b1, b2, a1)) || (o4 == 0 && onSegment(b1, b2, a2))
}

// foldsBack reports whether the edges v-x and v-y, neighbours meeting at v,
// run back along each other (a spike), which makes the ring touch itself.
func foldsBack(v, x, y LatLng) bool {
	if orient(v, x, y) != 0 {
		return false
	}
	return (x.Lng-v.Lng)*(y.Lng-v.Lng)+(x.Lat-v.Lat)*(y.Lat-v.Lat) > 0
}

// ringContains is the even-odd (crossing number) test in the lng/lat plane.
// A horizontal ray from q to the east counts edge crossings; the half-open
// rule (one endpoint strictly above) counts a vertex on the ray once.
// Points exactly on an edge may go either way, but always the same way.
func ringContains(r []LatLng, q LatLng) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a.Lat > q.Lat) != (b.Lat > q.Lat) &&
			q.Lng < (b.Lng-a.Lng)*(q.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lng {
			in = !in
		}
	}
	return in
}

// contains is the exact test: inside the outer ring and in no hole.
func (p Polygon) contains(q LatLng) bool {
	if !ringContains(p.Outer, q) {
		return false
	}
	for _, h := range p.Holes {
		if ringContains(h, q) {
			return false
		}
	}
	return true
}
