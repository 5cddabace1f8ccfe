package geo

import (
	"fmt"
	"math"
)

// PointIndex is Index specialised for dense uint32 IDs, the row numbers of a
// table that owns the objects (state's truck table): where each ID is lives
// in a slice indexed by the ID instead of a map, and cells are numbered, so
// an indexed point costs about 30 bytes (its position and ID in its cell's
// bucket, its bucket and slot) instead of the 100 or so of a map entry.
// Queries and their answers are Index's: the same ring walk, the same exact
// distances, ties by ID.
//
// Like Index it is not safe for concurrent use: Set, SetCell and Delete need
// exclusive access; Get, Len, Nearby and KNearest may run concurrently.
type PointIndex struct {
	res     Resolution
	n       int
	where   []pointLoc
	cellNo  map[Cell]uint32
	buckets []pointBucket
	free    []uint32 // numbers of emptied buckets, reused before new ones
}

// pointLoc is where an ID is: bucket number + 1 (0: not indexed) and slot.
type pointLoc struct{ bucket, slot uint32 }

type pointBucket struct {
	cell Cell
	ids  []uint32
	pts  []LatLng
}

// NewPointIndex returns an empty index bucketing points at res.
func NewPointIndex(res Resolution) (*PointIndex, error) {
	if err := res.check(); err != nil {
		return nil, err
	}
	return &PointIndex{res: res, cellNo: make(map[Cell]uint32)}, nil
}

// Resolution is the resolution the index buckets points at.
func (x *PointIndex) Resolution() Resolution { return x.res }

// Len is the number of IDs in the index.
func (x *PointIndex) Len() int { return x.n }

// Get returns the position stored for id.
func (x *PointIndex) Get(id uint32) (LatLng, bool) {
	if int(id) >= len(x.where) || x.where[id].bucket == 0 {
		return LatLng{}, false
	}
	l := x.where[id]
	return x.buckets[l.bucket-1].pts[l.slot], true
}

// Set stores or moves id to p. It costs one cgo call (the cell of p); a
// caller that must not hold a lock across it computes the cell first with
// CellOf and calls SetCell.
func (x *PointIndex) Set(id uint32, p LatLng) error {
	if !p.Valid() {
		return p.invalidErr()
	}
	return x.SetCell(id, p, cellOf(p, x.res))
}

// SetCell is Set with the cell of p at the index's resolution given
// (CellOf(p, x.Resolution())). A cell of another resolution is an error; a
// cell that does not hold p gives wrong answers.
func (x *PointIndex) SetCell(id uint32, p LatLng, c Cell) error {
	if !p.Valid() {
		return p.invalidErr()
	}
	if c.Resolution() != x.res {
		return fmt.Errorf("geo: cell %v is not of resolution %d", c, x.res)
	}
	if id == math.MaxUint32 {
		return fmt.Errorf("geo: point ID %d out of range", id)
	}
	for int(id) >= len(x.where) {
		x.where = append(x.where, pointLoc{})
	}
	if l := x.where[id]; l.bucket != 0 {
		b := &x.buckets[l.bucket-1]
		if b.cell == c {
			b.pts[l.slot] = p
			return nil
		}
		x.unlink(id, l)
		x.n--
	}
	bn, ok := x.cellNo[c]
	if !ok {
		if k := len(x.free); k > 0 {
			bn = x.free[k-1]
			x.free = x.free[:k-1]
			x.buckets[bn].cell = c
		} else {
			bn = uint32(len(x.buckets))
			x.buckets = append(x.buckets, pointBucket{cell: c})
		}
		x.cellNo[c] = bn
	}
	b := &x.buckets[bn]
	x.where[id] = pointLoc{bucket: bn + 1, slot: uint32(len(b.ids))}
	b.ids = append(b.ids, id)
	b.pts = append(b.pts, p)
	x.n++
	return nil
}

// Delete removes id and reports whether it was present.
func (x *PointIndex) Delete(id uint32) bool {
	if int(id) >= len(x.where) || x.where[id].bucket == 0 {
		return false
	}
	x.unlink(id, x.where[id])
	x.n--
	return true
}

// unlink swap-removes id from its bucket, fixing the slot of the ID moved
// into the hole; an emptied bucket leaves the cell map and is reused.
func (x *PointIndex) unlink(id uint32, l pointLoc) {
	bn := l.bucket - 1
	b := &x.buckets[bn]
	last := uint32(len(b.ids) - 1)
	if l.slot != last {
		moved := b.ids[last]
		b.ids[l.slot], b.pts[l.slot] = moved, b.pts[last]
		x.where[moved].slot = l.slot
	}
	b.ids, b.pts = b.ids[:last], b.pts[:last]
	x.where[id] = pointLoc{}
	if last == 0 {
		delete(x.cellNo, b.cell)
		b.cell = 0
		x.free = append(x.free, bn)
	}
}

// Nearby is Index.Nearby.
func (x *PointIndex) Nearby(center LatLng, radiusM float64, limit int, fn func(id uint32, p LatLng, distM float64) bool) error {
	if !center.Valid() {
		return center.invalidErr()
	}
	if !(radiusM >= 0) {
		return fmt.Errorf("%w: %v m", ErrInvalidRadius, radiusM)
	}
	if limit <= 0 {
		limit = math.MaxInt
	}
	searchRings[uint32](pointCells{x}, x.res, center, radiusM, limit).emit(fn)
	return nil
}

// KNearest is Index.KNearest.
func (x *PointIndex) KNearest(center LatLng, k int, fn func(id uint32, p LatLng, distM float64) bool) error {
	if !center.Valid() {
		return center.invalidErr()
	}
	if k <= 0 {
		return nil
	}
	searchRings[uint32](pointCells{x}, x.res, center, math.Inf(1), k).emit(fn)
	return nil
}

type pointCells struct{ x *PointIndex }

func (s pointCells) cell(c Cell) ([]uint32, []LatLng) {
	if bn, ok := s.x.cellNo[c]; ok {
		b := &s.x.buckets[bn]
		return b.ids, b.pts
	}
	return nil, nil
}

func (s pointCells) size() int { return s.x.n }

func (s pointCells) each(fn func(uint32, LatLng)) {
	for i := range s.x.buckets {
		b := &s.x.buckets[i]
		for j, id := range b.ids {
			fn(id, b.pts[j])
		}
	}
}
