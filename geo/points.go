package geo

import (
	"fmt"
	"math"
)

// PointIndex is Index specialised for dense uint32 IDs, the row numbers of a
// table that owns the objects (state's truck table): where each ID is lives
// in a slice indexed by the ID instead of a map, cells are numbered, and a
// cell's points sit in fixed-size chunks of one shared slab (a chain per
// cell) instead of a slice per cell that grows by reallocation. An indexed
// point costs about 30 bytes: its position and ID in a chunk, the chunks'
// unused tail slots, and where it sits. Growth never leaves freed arrays
// behind: emptied chunks go to a free list and are reused.
//
// Queries and their answers are Index's: the same ring walk, the same exact
// distances, ties by ID.
//
// Like Index it is not safe for concurrent use: Set, SetCell and Delete need
// exclusive access; Get, Len, Nearby and KNearest may run concurrently.
type PointIndex struct {
	res     Resolution
	n       int
	where   Pages[pointLoc]
	dir     map[Cell]uint32 // cell -> bucket number
	buckets []pointBucket
	free    []uint32 // numbers of emptied buckets, reused before new ones
	chunks  Pages[pointChunk]
	freeCh  []uint32 // numbers of emptied chunks
}

// chunkLen is the points per chunk: a cell at port density holds about 27
// trucks, so four chunks; an emptier cell wastes at most chunkLen-1 slots.
const chunkLen = 8

// pointChunk holds up to chunkLen points of one cell; a cell's chunks are a
// doubly linked chain (numbers + 1, 0 ends it), all but the last full.
type pointChunk struct {
	ids        [chunkLen]uint32
	pts        [chunkLen]LatLng
	next, prev uint32
}

// pointLoc is where an ID is: chunk number + 1 (0: not indexed), the slot
// in it, and the bucket (cell) number.
type pointLoc struct {
	chunk  uint32
	bucket uint32
}

type pointBucket struct {
	cell        Cell
	first, last uint32 // chunk numbers + 1
	n           uint32 // points
}

// slotOf is where a point sits in its chunk: the IDs of a chunk are in
// slots 0..k-1, and where[] keeps the slot in the chunk field's top bits.
const slotBits = 3 // log2(chunkLen)

func packChunk(chunk uint32, slot int) uint32 { return chunk<<slotBits | uint32(slot) }
func unpackChunk(v uint32) (chunk uint32, slot int) {
	return v >> slotBits, int(v & (1<<slotBits - 1))
}

// NewPointIndex returns an empty index bucketing points at res.
func NewPointIndex(res Resolution) (*PointIndex, error) {
	if err := res.check(); err != nil {
		return nil, err
	}
	return &PointIndex{res: res, dir: make(map[Cell]uint32)}, nil
}

// Resolution is the resolution the index buckets points at.
func (x *PointIndex) Resolution() Resolution { return x.res }

// Len is the number of IDs in the index.
func (x *PointIndex) Len() int { return x.n }

// Get returns the position stored for id.
func (x *PointIndex) Get(id uint32) (LatLng, bool) {
	if int(id) >= x.where.Len() || x.where.At(id).chunk == 0 {
		return LatLng{}, false
	}
	c, slot := unpackChunk(x.where.At(id).chunk)
	return x.chunks.At(c - 1).pts[slot], true
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

// maxChunks bounds the chunk numbers so that a number + 1, shifted by
// slotBits, fits a uint32.
const maxChunks = 1<<(32-slotBits) - 2

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
	x.where.Grow(int(id) + 1)
	if l := *x.where.At(id); l.chunk != 0 {
		if x.buckets[l.bucket].cell == c {
			ch, slot := unpackChunk(l.chunk)
			x.chunks.At(ch - 1).pts[slot] = p
			return nil
		}
		x.unlink(id, l)
		x.n--
	}
	bn, ok := x.dir[c]
	if !ok {
		if k := len(x.free); k > 0 {
			bn = x.free[k-1]
			x.free = x.free[:k-1]
			x.buckets[bn] = pointBucket{cell: c}
		} else {
			bn = uint32(len(x.buckets))
			x.buckets = append(x.buckets, pointBucket{cell: c})
		}
		x.dir[c] = bn
	}
	b := &x.buckets[bn]
	slot := int(b.n % chunkLen)
	if slot == 0 { // the last chunk is full (or there is none): chain a new one
		ch, err := x.newChunk()
		if err != nil {
			return err
		}
		x.chunks.At(ch - 1).prev = b.last
		if b.last != 0 {
			x.chunks.At(b.last - 1).next = ch
		} else {
			b.first = ch
		}
		b.last = ch
	}
	ck := x.chunks.At(b.last - 1)
	ck.ids[slot], ck.pts[slot] = id, p
	b.n++
	*x.where.At(id) = pointLoc{chunk: packChunk(b.last, slot), bucket: bn}
	x.n++
	return nil
}

func (x *PointIndex) newChunk() (uint32, error) {
	if k := len(x.freeCh); k > 0 {
		ch := x.freeCh[k-1]
		x.freeCh = x.freeCh[:k-1]
		*x.chunks.At(ch - 1) = pointChunk{}
		return ch, nil
	}
	if x.chunks.Len() >= maxChunks {
		return 0, fmt.Errorf("geo: point index full (%d chunks)", x.chunks.Len())
	}
	return x.chunks.Append(pointChunk{}) + 1, nil
}

// Delete removes id and reports whether it was present.
func (x *PointIndex) Delete(id uint32) bool {
	if int(id) >= x.where.Len() || x.where.At(id).chunk == 0 {
		return false
	}
	x.unlink(id, *x.where.At(id))
	x.n--
	return true
}

// unlink moves the bucket's last point into id's slot, fixing where the
// moved ID is; an emptied last chunk goes to the free list, an emptied
// bucket leaves the cell map and is reused.
func (x *PointIndex) unlink(id uint32, l pointLoc) {
	b := &x.buckets[l.bucket]
	ch, slot := unpackChunk(l.chunk)
	lastSlot := int((b.n - 1) % chunkLen)
	lc := x.chunks.At(b.last - 1)
	if ch != b.last || slot != lastSlot {
		moved := lc.ids[lastSlot]
		hole := x.chunks.At(ch - 1)
		hole.ids[slot], hole.pts[slot] = moved, lc.pts[lastSlot]
		x.where.At(moved).chunk = packChunk(ch, slot)
	}
	lc.ids[lastSlot], lc.pts[lastSlot] = 0, LatLng{}
	b.n--
	*x.where.At(id) = pointLoc{}
	if lastSlot == 0 { // the last chunk emptied
		empty := b.last
		b.last = lc.prev
		if b.last != 0 {
			x.chunks.At(b.last - 1).next = 0
		} else {
			b.first = 0
		}
		x.freeCh = append(x.freeCh, empty)
	}
	if b.n == 0 {
		delete(x.dir, b.cell)
		*b = pointBucket{}
		x.free = append(x.free, l.bucket)
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

func (s pointCells) size() int { return s.x.n }

// eachIn calls fn with the points of cell c, a chunk at a time.
func (s pointCells) eachIn(c Cell, fn func(ids []uint32, pts []LatLng)) {
	bn, ok := s.x.dir[c]
	if !ok {
		return
	}
	b := &s.x.buckets[bn]
	left := int(b.n)
	for ch := b.first; ch != 0 && left > 0; {
		k := s.x.chunks.At(ch - 1)
		m := min(left, chunkLen)
		fn(k.ids[:m], k.pts[:m])
		left -= m
		ch = k.next
	}
}

func (s pointCells) each(fn func(uint32, LatLng)) {
	for c := range s.x.dir {
		s.eachIn(c, func(ids []uint32, pts []LatLng) {
			for i, id := range ids {
				fn(id, pts[i])
			}
		})
	}
}
