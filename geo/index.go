package geo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Index maps IDs (MMSI, container number, truck plate) to positions and
// answers radius and k-nearest queries with exact great-circle distances.
// Points are bucketed by their cell at the index resolution; a query walks
// H3 grid rings outward from the centre's cell and stops as soon as no point
// in an unvisited cell can change the answer (see ringBound).
//
// An Index is not safe for concurrent use: Set and Delete need exclusive
// access, while Get, Len, Nearby and KNearest may run concurrently with each
// other (they only read the maps and keep their scratch on the stack of the
// call). The owner (state) serialises writers.
type Index[ID cmp.Ordered] struct {
	res   Resolution
	items map[ID]item
	cells map[Cell]*bucket[ID]
}

// item is where an ID is: its position, its cell, and its slot in that
// cell's bucket, so Delete and moves are O(1) even in a yard cell that holds
// a thousand stacked boxes.
type item struct {
	p    LatLng
	cell Cell
	slot int
}

// bucket keeps the positions next to the IDs so a query reads them without a
// second map probe per candidate.
type bucket[ID cmp.Ordered] struct {
	ids []ID
	pts []LatLng
}

// ErrInvalidRadius is returned for a negative or NaN radius.
var ErrInvalidRadius = errors.New("geo: invalid radius")

// NewIndex returns an empty index bucketing points at res (normally
// ResPoint; the resolution changes speed, never answers).
func NewIndex[ID cmp.Ordered](res Resolution) (*Index[ID], error) {
	if err := res.check(); err != nil {
		return nil, err
	}
	return &Index[ID]{res: res, items: make(map[ID]item), cells: make(map[Cell]*bucket[ID])}, nil
}

// Resolution is the resolution the index buckets points at.
func (x *Index[ID]) Resolution() Resolution { return x.res }

// Len is the number of IDs in the index.
func (x *Index[ID]) Len() int { return len(x.items) }

// Get returns the position stored for id.
func (x *Index[ID]) Get(id ID) (LatLng, bool) {
	it, ok := x.items[id]
	return it.p, ok
}

// Set stores or moves id to p. It costs one cgo call (the cell of p).
func (x *Index[ID]) Set(id ID, p LatLng) error {
	if !p.Valid() {
		return p.invalidErr()
	}
	c := cellOf(p, x.res)
	if it, ok := x.items[id]; ok {
		if it.cell == c {
			x.cells[c].pts[it.slot] = p
			it.p = p
			x.items[id] = it
			return nil
		}
		x.unlink(it)
	}
	b := x.cells[c]
	if b == nil {
		b = &bucket[ID]{}
		x.cells[c] = b
	}
	x.items[id] = item{p: p, cell: c, slot: len(b.ids)}
	b.ids = append(b.ids, id)
	b.pts = append(b.pts, p)
	return nil
}

// Delete removes id and reports whether it was present.
func (x *Index[ID]) Delete(id ID) bool {
	it, ok := x.items[id]
	if !ok {
		return false
	}
	x.unlink(it)
	delete(x.items, id)
	return true
}

// unlink swap-removes it from its bucket, fixing the slot of the ID moved
// into the hole, and drops the bucket when it empties so the cell map does
// not grow with every cell a vessel ever passed through.
func (x *Index[ID]) unlink(it item) {
	b := x.cells[it.cell]
	last := len(b.ids) - 1
	if it.slot != last {
		moved := b.ids[last]
		b.ids[it.slot], b.pts[it.slot] = moved, b.pts[last]
		m := x.items[moved]
		m.slot = it.slot
		x.items[moved] = m
	}
	var zero ID
	b.ids[last] = zero // let a string ID be collected
	b.ids, b.pts = b.ids[:last], b.pts[:last]
	if last == 0 {
		delete(x.cells, it.cell)
	}
}

// Nearby calls fn for the points within radiusM metres of center, nearest
// first (ties by ID), at most limit of them (limit <= 0: no limit), until fn
// returns false. Distances are great-circle (DistanceMeters), exact: the
// answer equals sorting every point by distance, without doing that.
//
// The search visits ring 0 (the centre's cell), ring 1, ring 2, … and
// after ring k knows that every point not yet seen is at least
// ringBound(k) away. It stops when that bound exceeds radiusM, or when it
// already holds limit points and the farthest of them is nearer than the
// bound. Rings grow by six cells each, so when the cells walked would
// outnumber the points in the index, or the bound passes maxRingSearchM, it
// scans every point instead: also exact, and cheaper from there on.
func (x *Index[ID]) Nearby(center LatLng, radiusM float64, limit int, fn func(id ID, p LatLng, distM float64) bool) error {
	if !center.Valid() {
		return center.invalidErr()
	}
	if !(radiusM >= 0) {
		return fmt.Errorf("%w: %v m", ErrInvalidRadius, radiusM)
	}
	if limit <= 0 {
		limit = math.MaxInt
	}
	x.search(center, radiusM, limit).emit(fn)
	return nil
}

// KNearest calls fn for the k points nearest center, nearest first (ties by
// ID), until fn returns false; k <= 0 yields nothing. There is no radius: the
// ring walk is capped as in Nearby and falls back to a scan, so a sparse
// index costs at most one pass over its points.
func (x *Index[ID]) KNearest(center LatLng, k int, fn func(id ID, p LatLng, distM float64) bool) error {
	if !center.Valid() {
		return center.invalidErr()
	}
	if k <= 0 {
		return nil
	}
	x.search(center, math.Inf(1), k).emit(fn)
	return nil
}

// maxRingSearchM caps the distance the ring walk covers. ringBound scales
// the centre cell's edge, and H3 cells change size slowly with distance
// (a few per cent per 100 km at most), so within this distance the drift
// stays well inside the gap between ringBoundSafety and the minimum that
// TestRingBound measures; beyond it a scan is cheaper anyway.
const maxRingSearchM = 100_000

func (x *Index[ID]) search(center LatLng, radiusM float64, limit int) *topK[ID] {
	return searchRings[ID](indexCells[ID]{x}, x.res, center, radiusM, limit)
}

// cellSource is what the ring search needs of an index: the points of a
// cell (handed to fn in one or more runs), the number of points, and a scan
// of all of them.
type cellSource[ID cmp.Ordered] interface {
	eachIn(c Cell, fn func(ids []ID, pts []LatLng))
	size() int
	each(fn func(id ID, p LatLng))
}

type indexCells[ID cmp.Ordered] struct{ x *Index[ID] }

func (s indexCells[ID]) eachIn(c Cell, fn func([]ID, []LatLng)) {
	if b := s.x.cells[c]; b != nil {
		fn(b.ids, b.pts)
	}
}

func (s indexCells[ID]) size() int { return len(s.x.items) }

func (s indexCells[ID]) each(fn func(ID, LatLng)) {
	for id, it := range s.x.items {
		fn(id, it.p)
	}
}

// searchRings is the ring walk of Nearby and KNearest over any index whose
// points are bucketed by their cell at res.
func searchRings[ID cmp.Ordered](src cellSource[ID], res Resolution, center LatLng, radiusM float64, limit int) *topK[ID] {
	top := &topK[ID]{limit: limit}
	if limit <= 1024 {
		top.h = make([]candidate[ID], 0, limit) // one allocation, not a doubling series
	}
	n := src.size()
	if n == 0 {
		return top
	}
	near := newDistanceFrom(center)
	c0 := cellOf(center, res)
	edge := minEdgeM(c0)
	var ring []Cell
	walked := 0
	cut := newCutoff(center, radiusM)
	visit := func(ids []ID, pts []LatLng) {
		for i, p := range pts {
			// Cheap rejections first: the coordinate differences, then the
			// haversine term before its arcsine.
			if cut.outside(center, p) {
				continue
			}
			h := near.hav(p)
			if h > cut.h {
				continue
			}
			if d := distanceOfHav(h); d <= radiusM {
				top.offer(ids[i], p, d)
				if top.full() {
					cut.tighten(top.worst())
				}
			}
		}
	}
	for k := 0; ; k++ {
		ring = gridRing(ring[:0], c0, k)
		walked += len(ring)
		top.rings++
		for _, c := range ring {
			src.eachIn(c, visit)
		}
		g := ringBound(k, edge)
		if g > radiusM || (top.full() && top.worst() < g) {
			return top
		}
		if g > maxRingSearchM || walked+6*(k+1) > n {
			break
		}
	}
	// Scan: cheaper than more rings from here. Start over so the result
	// does not depend on which points the rings had already offered.
	top.reset()
	top.scanned = true
	src.each(func(id ID, p LatLng) {
		if d := near.meters(p); d <= radiusM {
			top.offer(id, p, d)
		}
	})
	return top
}

// cutoff holds conservative rejection thresholds for points farther than a
// distance from the query point: a latitude difference, a longitude
// difference and a haversine term. They only skip work: a point that passes
// is still measured exactly, and the slack makes sure rounding never
// rejects a point at exactly the distance (ties by ID).
type cutoff struct {
	lat, cosLat float64 // the query point's latitude and its cosine
	m           float64 // metres
	dLat        float64 // degrees: |Δlat| beyond this is farther than m
	dLng        float64 // degrees: |Δlng| (the short way) beyond this is farther than m
	h           float64 // haversine term beyond this is farther than m
}

func newCutoff(center LatLng, m float64) cutoff {
	c := cutoff{lat: center.Lat, cosLat: math.Cos(center.Lat * math.Pi / 180)}
	c.set(m)
	return c
}

func (c *cutoff) set(m float64) {
	c.m = m
	if math.IsInf(m, 1) || m >= math.Pi*EarthRadiusM/2 {
		c.dLat, c.dLng, c.h = math.Inf(1), math.Inf(1), math.Inf(1)
		return
	}
	const slack = 1 + 1e-9
	m = m*slack + 1e-6
	// Moving |Δlat| degrees north or south takes at least that arc.
	c.dLat = m / EarthRadiusM * 180 / math.Pi
	s := math.Sin(min(m/(2*EarthRadiusM), math.Pi/2))
	c.h = s * s * slack
	// hav(d) = hav(Δlat) + cos φ1 cos φ2 hav(Δlng) ≥ cos φ1 cos φ2 hav(Δlng),
	// and a point that passed the latitude test has |φ2| ≤ |φ1| + dLat.
	c.dLng = math.Inf(1)
	if far := math.Abs(c.lat) + c.dLat; far < 89 {
		den := c.cosLat * math.Cos(far*math.Pi/180)
		if q := c.h / den; q < 1 {
			c.dLng = 2*math.Asin(math.Sqrt(q))*180/math.Pi*slack + 1e-12
		}
	}
}

// tighten lowers the cutoff to m when m is nearer.
func (c *cutoff) tighten(m float64) {
	if m < c.m {
		c.set(m)
	}
}

// outside reports whether p is surely farther than the cutoff by the
// latitude and longitude differences alone.
func (c *cutoff) outside(center, p LatLng) bool {
	if math.Abs(p.Lat-center.Lat) > c.dLat {
		return true
	}
	dl := math.Abs(p.Lng - center.Lng)
	if dl > 180 {
		dl = 360 - dl
	}
	return dl > c.dLng
}

// ringBoundSafety is the share of the ideal planar bound that ringBound
// claims. TestRingBound measures the true minimum over the globe: about
// 0.97 of the ideal away from pentagons (anisotropy of the gnomonic
// projection and cell-size drift over 20 rings) and 0.83 on a pentagon.
// Three quarters leaves a margin under both.
const ringBoundSafety = 0.75

// ringBound is the distance in metres that every point outside grid rings
// 0..k of the centre cell is guaranteed to be from the query point, which
// may be anywhere in the centre cell. edgeM is the centre cell's shortest
// edge.
//
// Why (3k-1)/2 edges: on a regular hexagon grid of edge e (inradius
// ρ = e·√3/2), the union of rings 0..k is a hexagonal blob; the centres of
// ring k lie on a hexagon whose sides are √3·k·ρ from the centre, and the
// blob's boundary is a zig-zag of cell edges outside each side whose inner
// (concave) corners are e/2 further out. So the blob contains the hexagon
// with sides at √3·k·ρ + e/2 = (3k+1)·e/2. The query point can sit on a
// vertex of the centre cell, which is e nearer one of those sides, leaving
// (3k-1)·e/2: e after ring 1 (a vertex of the centre cell is one edge from
// the notch between two neighbours), 2.5e after ring 2, then 1.5e a ring.
// Any path to an unseen point leaves the blob, so it is at least that long.
//
// H3 is a regular hexagon grid only on each icosahedron face's gnomonic
// plane. On the sphere cells shrink away from the face centre and are
// squashed radially (at most cos 37.4° ≈ 0.79 near face corners); taking the
// centre cell's *shortest* edge absorbs most of the squash, the 100 km cap
// bounds the drift, and ringBoundSafety covers the rest and the pentagons,
// whose rings are five-sided. For k = 0 nothing is guaranteed: a point in
// the next cell can be a millimetre away.
func ringBound(k int, edgeM float64) float64 {
	if k == 0 {
		return 0
	}
	return ringBoundSafety * float64(3*k-1) / 2 * edgeM
}

// minEdgeM is the shortest boundary segment of c in metres. A cell split by
// an icosahedron edge reports extra vertices; the shorter pieces only make
// the bound more conservative.
func minEdgeM(c Cell) float64 {
	var buf [10]LatLng
	b := c.Boundary(buf[:0])
	m := math.Inf(1)
	for i := range b {
		m = min(m, DistanceMeters(b[i], b[(i+1)%len(b)]))
	}
	return m
}

// candidate is one point offered to a topK.
type candidate[ID cmp.Ordered] struct {
	id ID
	p  LatLng
	d  float64
}

// less orders by distance, then ID, so answers do not depend on map order.
func (a candidate[ID]) less(b candidate[ID]) bool {
	if a.d != b.d {
		return a.d < b.d
	}
	return a.id < b.id
}

// topK keeps the limit best candidates in a max-heap (worst at the root), so
// offering a point costs O(log limit) and memory stays O(limit) however many
// points the rings hold. With no limit it is a plain slice sorted at the end.
type topK[ID cmp.Ordered] struct {
	limit int
	h     []candidate[ID]
	// How the answer was found, for tests and benchmarks.
	rings   int  // rings walked, including ring 0
	scanned bool // fell back to scanning every point
}

func (t *topK[ID]) full() bool { return len(t.h) >= t.limit }

func (t *topK[ID]) worst() float64 { return t.h[0].d }

func (t *topK[ID]) reset() { t.h = t.h[:0] }

func (t *topK[ID]) offer(id ID, p LatLng, d float64) {
	c := candidate[ID]{id: id, p: p, d: d}
	if t.limit == math.MaxInt { // unbounded: sort once in emit
		t.h = append(t.h, c)
		return
	}
	if len(t.h) < t.limit {
		t.h = append(t.h, c)
		t.up(len(t.h) - 1)
		return
	}
	if c.less(t.h[0]) {
		t.h[0] = c
		t.down(0)
	}
}

func (t *topK[ID]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !t.h[parent].less(t.h[i]) {
			return
		}
		t.h[parent], t.h[i] = t.h[i], t.h[parent]
		i = parent
	}
}

func (t *topK[ID]) down(i int) {
	n := len(t.h)
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < n && t.h[worst].less(t.h[l]) {
			worst = l
		}
		if r < n && t.h[worst].less(t.h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		t.h[i], t.h[worst] = t.h[worst], t.h[i]
		i = worst
	}
}

// emit sorts the kept candidates nearest first and hands them to fn.
func (t *topK[ID]) emit(fn func(id ID, p LatLng, distM float64) bool) {
	slices.SortFunc(t.h, func(a, b candidate[ID]) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	for _, c := range t.h {
		if !fn(c.id, c.p, c.d) {
			return
		}
	}
}
