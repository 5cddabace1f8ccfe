package geo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/uber/h3-go/v4"
)

// Fence is a validated Feature plus its H3 cover at one resolution, for an
// exact Contains. Every cell the fence touches is in the cover, marked
// interior (the whole cell is inside: no polygon test needed) or boundary
// (a polygon edge passes near it: test the point). A point whose cell is not
// in the cover is outside. A Fence is immutable and safe for concurrent use;
// the embedded Feature is read-only (NewFence copied the polygons).
type Fence struct {
	Feature
	res   Resolution
	box   box
	boxes []box // one per polygon, to skip polygon tests quickly
	cells []coverCell
	cover map[Cell]bool // cell → interior
	verts int           // vertices over all rings
}

type coverCell struct {
	c        Cell
	interior bool
}

// box is a lat/lng bounding box; fences never cross the antimeridian.
type box struct{ minLat, minLng, maxLat, maxLng float64 }

func emptyBox() box { return box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)} }

func (b box) has(p LatLng) bool {
	return p.Lat >= b.minLat && p.Lat <= b.maxLat && p.Lng >= b.minLng && p.Lng <= b.maxLng
}

func (b box) union(o box) box {
	return box{min(b.minLat, o.minLat), min(b.minLng, o.minLng), max(b.maxLat, o.maxLat), max(b.maxLng, o.maxLng)}
}

func ringBox(r []LatLng) box {
	b := emptyBox()
	for _, p := range r {
		b = b.union(box{p.Lat, p.Lng, p.Lat, p.Lng})
	}
	return b
}

// maxCoverCells bounds one fence's cover. An anchorage at ResArea is about a
// thousand cells and the whole Ningbo-Zhoushan port area under a million;
// past that the resolution is wrong for the fence, and H3 would allocate
// its worst-case buffer before saying so.
const maxCoverCells = 1 << 20

// NewFence validates f and computes its cover at res (normally ResArea).
// The cost is one H3 polygon fill plus a few cgo calls per boundary cell,
// milliseconds for port fences; do it when fences change, not per point.
func NewFence(f Feature, res Resolution) (*Fence, error) {
	if err := res.check(); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidFence, label(-1, f), err)
	}
	f.Polygons = clonePolygons(f.Polygons) // the caller keeps its slices
	fe := &Fence{Feature: f, res: res, box: emptyBox()}
	for _, p := range f.Polygons {
		b := ringBox(p.Outer)
		fe.boxes = append(fe.boxes, b)
		fe.box = fe.box.union(b)
		for _, r := range p.rings() {
			fe.verts += len(r)
		}
	}
	cellArea, _ := h3.HexagonAreaAvgM2(int(res))
	corner := LatLng{Lat: fe.box.minLat, Lng: fe.box.minLng}
	w := DistanceMeters(corner, LatLng{Lat: fe.box.minLat, Lng: fe.box.maxLng})
	h := DistanceMeters(corner, LatLng{Lat: fe.box.maxLat, Lng: fe.box.minLng})
	if est := w * h / cellArea; est > maxCoverCells {
		return nil, fmt.Errorf("%w: %s: about %.0f cells at resolution %d, more than %d: use a coarser resolution",
			ErrInvalidFence, label(-1, f), est, res, maxCoverCells)
	}
	if err := fe.buildCover(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidFence, label(-1, f), err)
	}
	return fe, nil
}

func clonePolygons(ps []Polygon) []Polygon {
	out := make([]Polygon, len(ps))
	for i, p := range ps {
		out[i].Outer = slices.Clone(p.Outer)
		for _, h := range p.Holes {
			out[i].Holes = append(out[i].Holes, slices.Clone(h))
		}
	}
	return out
}

// Resolution is the resolution of the cover.
func (f *Fence) Resolution() Resolution { return f.res }

// Cover calls fn for each cell of the cover in ascending cell order, with
// whether the cell lies wholly inside the fence, until fn returns false.
// Cells are at the fence's resolution; a point's own cell at that
// resolution (CellOf), not a parent of a finer cell, is what the cover
// answers for, since H3 children do not tile their parent exactly.
func (f *Fence) Cover(fn func(c Cell, interior bool) bool) {
	for _, cc := range f.cells {
		if !fn(cc.c, cc.interior) {
			return
		}
	}
}

// directTestMaxVertices is where the cover starts to pay for a single
// fence. Finding the point's cell is a cgo call into H3's latLngToCell,
// ~0.95 µs; the polygon test costs ~1.3 ns a vertex (13 ns for the
// five-vertex Beilun anchorage, 2.5 µs for a 2,000-vertex outline;
// BenchmarkContaining). Below several hundred vertices testing the polygon
// is simply cheaper. FenceIndex always uses the covers: there one cell
// lookup replaces testing every fence.
const directTestMaxVertices = 512

// Contains reports whether p is inside the fence: inside some polygon's
// outer ring and in none of its holes, edges being straight in lng/lat.
// It is exact. A fence with many vertices answers from its cover: interior
// cells without a polygon test, boundary cells with one; a small fence is
// tested directly (see directTestMaxVertices).
func (f *Fence) Contains(p LatLng) bool {
	if !p.Valid() || !f.box.has(p) {
		return false
	}
	if f.verts <= directTestMaxVertices {
		return f.containsExact(p)
	}
	return f.coverContains(p)
}

// coverContains answers from the cover; the cover only decides for cells
// wholly inside or wholly outside, anywhere near an edge the polygon itself
// is tested, so it always equals containsExact.
func (f *Fence) coverContains(p LatLng) bool {
	interior, ok := f.cover[cellOf(p, f.res)]
	return ok && (interior || f.containsExact(p))
}

// containsExact is the polygon test alone, the definition Contains must
// agree with.
func (f *Fence) containsExact(p LatLng) bool {
	for i, poly := range f.Polygons {
		if f.boxes[i].has(p) && poly.contains(p) {
			return true
		}
	}
	return false
}

// buildCover finds every cell that can hold a point of the fence and marks
// the ones wholly inside. A cell holding a point of the fence either lies
// wholly inside it or contains a point of an edge, so two sets suffice:
//
// Fill: the cells whose centre H3's polygonToCells (centre mode) finds
// inside. This includes every cell wholly inside the fence.
//
// Edge cells: H3 has no exact "cells a line passes through", so each edge
// is sampled, as the straight lng/lat line GeoJSON means, at spacing
// s ≤ ringBound(1, e), e the shortest cell edge at either end. Every point
// of the edge is within s/2 of a sample, and everything within
// ringBound(1) of a sample lies in ring 1 of the sample's cell, so ring 1
// around the sample cells (the near set) contains every cell an edge passes
// through, with a factor two to spare for cells along the edge being
// smaller than those at its ends.
//
// A filled cell outside the near set contains no edge point, so it is
// wholly inside: interior, with no further work. A near cell is classified
// against the edges that can come close to it (classify).
func (f *Fence) buildCover() error {
	type edge struct {
		a, b LatLng
		n    int // samples
	}
	var edges []edge
	fill := make(map[Cell]struct{})
	total := 0
	for _, p := range f.Polygons {
		cells, err := h3.PolygonToCells(toGeoPolygon(p), int(f.res))
		if err != nil {
			return fmt.Errorf("H3 polygon fill: %w", err)
		}
		for _, c := range cells {
			fill[Cell(c)] = struct{}{}
		}
		for _, r := range p.rings() {
			for i, a := range r {
				b := r[(i+1)%len(r)]
				e := min(minEdgeM(cellOf(a, f.res)), minEdgeM(cellOf(b, f.res)))
				n := max(1, int(math.Ceil(lineLengthM(a, b)/ringBound(1, e))))
				edges = append(edges, edge{a, b, n})
				total += n
			}
		}
	}
	if total+len(fill) > maxCoverCells { // also catches long thin fences
		return fmt.Errorf("%d cells and %d edge samples at resolution %d: use a coarser resolution", len(fill), total, f.res)
	}
	// Each sample cell with the edges sampled in it.
	sampled := make(map[Cell][]int32)
	var samples []LatLng
	var sampleCells []Cell
	for ei, e := range edges {
		samples = samples[:0]
		for j := range e.n {
			t := float64(j) / float64(e.n)
			samples = append(samples, LatLng{Lat: e.a.Lat + t*(e.b.Lat-e.a.Lat), Lng: e.a.Lng + t*(e.b.Lng-e.a.Lng)})
		}
		sampleCells, _ = CellsOf(sampleCells[:0], samples, f.res) // vertices were validated
		for _, c := range sampleCells {
			if l := sampled[c]; len(l) == 0 || l[len(l)-1] != int32(ei) {
				sampled[c] = append(l, int32(ei))
			}
		}
	}
	// near: ring 1 of the sample cells. nearby: the edges sampled within
	// ring 2 of each near cell, which are all the edges that can come
	// within a cell's circumradius (plus margin) of its centre: such an
	// edge has a point within that distance, a sample within s/2 of the
	// point, and s/2 + margin < ringBound(2) puts the sample's cell in the
	// near cell's ring 2.
	near := make(map[Cell]struct{})
	nearby := make(map[Cell][]int32)
	var disk []Cell
	for sc, es := range sampled {
		disk = gridDisk(disk[:0], sc, 2)
		for _, c := range disk {
			nearby[c] = append(nearby[c], es...)
		}
		for _, c := range gridDisk(disk[:0], sc, 1) {
			near[c] = struct{}{}
		}
	}
	f.cover = make(map[Cell]bool, len(fill)+len(near))
	for c := range fill {
		if _, ok := near[c]; !ok {
			f.cover[c] = true
		}
	}
	segs := make([][2]LatLng, len(edges))
	for i, e := range edges {
		segs[i] = [2]LatLng{e.a, e.b}
	}
	for c := range near {
		_, filled := fill[c]
		es := nearby[c]
		slices.Sort(es)
		if interior, keep := classify(c, filled, segs, slices.Compact(es)); keep {
			f.cover[c] = interior
		}
	}
	f.cells = make([]coverCell, 0, len(f.cover))
	for c, in := range f.cover {
		f.cells = append(f.cells, coverCell{c, in})
	}
	slices.SortFunc(f.cells, func(a, b coverCell) int { return cmp.Compare(a.c, b.c) })
	return nil
}

func toGeoPolygon(p Polygon) h3.GeoPolygon {
	loop := func(r []LatLng) h3.GeoLoop {
		l := make(h3.GeoLoop, len(r))
		for i, q := range r {
			l[i] = h3.LatLng{Lat: q.Lat, Lng: q.Lng}
		}
		return l
	}
	g := h3.GeoPolygon{GeoLoop: loop(p.Outer)}
	for _, h := range p.Holes {
		g.Holes = append(g.Holes, loop(h))
	}
	return g
}

// classify decides a near cell. The work is in a plane centred on the
// cell: x = lng·cos(lat of the centre), y = lat, scaled to metres, so
// distances near the cell are true to well under 1%. It is an affine image
// of lng/lat, so polygon edges stay straight and inside/outside is
// unchanged. H3 cell edges are great-circle arcs, curved in this plane, so
// r, the reach of the cell from its centre, is taken over the vertices and
// the arcs' midpoints, and the 2% margin covers the rest of the bow.
//
// If every edge that can come near (nearby) is farther than r plus the
// margin, the whole cell is on one side, and its centre is far enough from
// every edge for H3's centre test (filled) to be trusted: interior if
// filled, dropped if not. Otherwise the cell is kept as a boundary cell and
// the point is tested.
func classify(c Cell, filled bool, segs [][2]LatLng, nearby []int32) (interior, keep bool) {
	center := c.Center()
	pl := newPlane(center)
	var buf [10]LatLng
	b := c.Boundary(buf[:0])
	r := 0.0
	for i, v := range b {
		w := b[(i+1)%len(b)]
		va, vb := toVec3(v), toVec3(w)
		mid := fromVec3(vec3{va[0] + vb[0], va[1] + vb[1], va[2] + vb[2]})
		r = max(r, pl.project(v).norm(), pl.project(mid).norm())
	}
	for _, ei := range nearby {
		if distToSegment(pl.project(segs[ei][0]), pl.project(segs[ei][1])) <= 1.02*r {
			return false, true
		}
	}
	return filled, filled
}

// lineLengthM bounds the length of the straight lng/lat line from a to b:
// its speed in metres is k·√(dlat² + (dlng·cos lat)²), and cos lat is at
// most its value at the latitude nearest the equator on the line.
func lineLengthM(a, b LatLng) float64 {
	const k = EarthRadiusM * math.Pi / 180
	nearest := min(math.Abs(a.Lat), math.Abs(b.Lat))
	if (a.Lat < 0) != (b.Lat < 0) {
		nearest = 0
	}
	return k * math.Hypot(b.Lat-a.Lat, (b.Lng-a.Lng)*math.Cos(nearest*math.Pi/180))
}

type vec3 [3]float64

func toVec3(p LatLng) vec3 {
	la, lo := p.Lat*math.Pi/180, p.Lng*math.Pi/180
	return vec3{math.Cos(la) * math.Cos(lo), math.Cos(la) * math.Sin(lo), math.Sin(la)}
}

func fromVec3(v vec3) LatLng {
	return LatLng{Lat: math.Atan2(v[2], math.Hypot(v[0], v[1])) * 180 / math.Pi, Lng: math.Atan2(v[1], v[0]) * 180 / math.Pi}
}

type vec2 struct{ x, y float64 }

func (a vec2) norm() float64 { return math.Hypot(a.x, a.y) }

// distToSegment is the distance from the origin to the segment a-b.
func distToSegment(a, b vec2) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return a.norm()
	}
	t := max(0, min(1, -(a.x*dx+a.y*dy)/l2))
	return vec2{a.x + t*dx, a.y + t*dy}.norm()
}

// plane is an equirectangular projection around an origin, in metres.
type plane struct {
	origin LatLng
	kx, ky float64
}

func newPlane(o LatLng) plane {
	ky := EarthRadiusM * math.Pi / 180
	return plane{origin: o, kx: ky * math.Cos(o.Lat*math.Pi/180), ky: ky}
}

// project maps p into the plane. Longitudes are taken the short way round
// from the origin, so a cell or edge next to the antimeridian stays whole.
func (pl plane) project(p LatLng) vec2 {
	return vec2{math.Remainder(p.Lng-pl.origin.Lng, 360) * pl.kx, (p.Lat - pl.origin.Lat) * pl.ky}
}

// FenceIndex answers "which fences contain this point" for many fences at
// one resolution: one cgo call for the point's cell, one map probe, then a
// polygon test only for fences whose edge runs through that cell.
//
// Like Index it is not safe for concurrent use: Add and Remove need
// exclusive access; Containing, Get and Len may run concurrently.
type FenceIndex struct {
	res    Resolution
	box    box // union of all fences: points outside skip the cgo call
	fences map[string]*Fence
	cells  map[Cell][]fenceRef // sorted by fence ID, so answers are ordered
}

type fenceRef struct {
	f        *Fence
	interior bool
}

// NewFenceIndex returns an empty index for fences covered at res.
func NewFenceIndex(res Resolution) (*FenceIndex, error) {
	if err := res.check(); err != nil {
		return nil, err
	}
	return &FenceIndex{res: res, box: emptyBox(), fences: make(map[string]*Fence), cells: make(map[Cell][]fenceRef)}, nil
}

// Len is the number of fences.
func (x *FenceIndex) Len() int { return len(x.fences) }

// Get returns the fence with the given ID.
func (x *FenceIndex) Get(id string) (*Fence, bool) {
	f, ok := x.fences[id]
	return f, ok
}

// Add inserts f, replacing any fence with the same ID (an edit over the API
// is a replace). f must be covered at the index's resolution.
func (x *FenceIndex) Add(f *Fence) error {
	if f.ID == "" {
		return fmt.Errorf("%w: a fence in an index needs an ID", ErrInvalidFence)
	}
	if f.res != x.res {
		return fmt.Errorf("%w: fence %q covered at resolution %d, index is at %d", ErrInvalidResolution, f.ID, f.res, x.res)
	}
	x.Remove(f.ID)
	x.fences[f.ID] = f
	x.box = x.box.union(f.box)
	for _, cc := range f.cells {
		refs := x.cells[cc.c]
		i, _ := slices.BinarySearchFunc(refs, f.ID, func(r fenceRef, id string) int { return cmp.Compare(r.f.ID, id) })
		x.cells[cc.c] = slices.Insert(refs, i, fenceRef{f: f, interior: cc.interior})
	}
	return nil
}

// Remove deletes the fence with the given ID and reports whether it existed.
func (x *FenceIndex) Remove(id string) bool {
	f, ok := x.fences[id]
	if !ok {
		return false
	}
	delete(x.fences, id)
	for _, cc := range f.cells {
		refs := x.cells[cc.c]
		i, found := slices.BinarySearchFunc(refs, id, func(r fenceRef, id string) int { return cmp.Compare(r.f.ID, id) })
		if !found {
			panic(fmt.Sprintf("geo: fence %q missing from cell %v", id, cc.c))
		}
		refs = slices.Delete(refs, i, i+1) // zeroes the freed tail slot
		if len(refs) == 0 {
			delete(x.cells, cc.c)
		} else {
			x.cells[cc.c] = refs
		}
	}
	x.box = emptyBox()
	for _, g := range x.fences {
		x.box = x.box.union(g.box)
	}
	return true
}

// Containing calls fn with the ID of each fence containing p, in ID order,
// until fn returns false. It agrees exactly with Fence.Contains.
func (x *FenceIndex) Containing(p LatLng, fn func(fenceID string) bool) error {
	if !p.Valid() {
		return p.invalidErr()
	}
	if !x.box.has(p) {
		return nil
	}
	for _, r := range x.cells[cellOf(p, x.res)] {
		if (r.interior || r.f.containsExact(p)) && !fn(r.f.ID) {
			return nil
		}
	}
	return nil
}
