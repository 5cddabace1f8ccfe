package truck

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state"
)

// truckIndexRes is the resolution at which truck positions are bucketed. At
// port density (a million trucks over 3,900 km², about 27 per resolution-9
// cell) the 50 nearest of a point lie within two or three rings of it:
// BenchmarkPointIndexNearby in geo measures resolution 9 at about half the
// cost of 11, the finest that still pays for its cgo ring walks.
const truckIndexRes geo.Resolution = 9

// truckTable is every truck's current state in memory, beside its durable
// copy in Pebble: point lookups and radius queries answer from it without a
// Pebble read, and Apply reads a truck's state from it instead of a Get.
//
// The layout is dense because a port tracks a million moving objects: a row
// of fixed fields of one cache line (64 bytes) holding the plate too when it
// fits (a Chinese plate is 9 or 10 bytes), longer plates in an append-only
// arena, an open-addressing table from plate to row (uint32 slots), and a
// geo.PointIndex keyed by row number holding the position. About 100 bytes a
// truck in all, against about 250 for a map of structs and a map-keyed
// index; a radius answer reads one cache line per truck it lists.
//
// Apply is the only writer: it upserts the trucks of a batch after the
// batch commits (readers never see a state that is not durable), holding
// the write lock only for the in-memory updates; cells are computed before.
type truckTable struct {
	mu     sync.RWMutex
	rows   geo.Pages[truckRow]
	plates []byte   // arena of plates longer than rowPlateBytes, never rewritten
	slots  []uint32 // row+1 at the plate's hash, linear probing; 0 empty
	seed   maphash.Seed
	idx    *geo.PointIndex
}

// truckRow is a truck's state but its position: 64 bytes.
type truckRow struct {
	time, containerSince, lastSeen int64
	speed                          float64
	reports                        uint32 // saturates at MaxUint32
	heading                        int16
	plateLen                       uint8
	container                      [state.ContainerLen]byte // zero: none
	// plate holds the plate when it fits, else its offset in the arena
	// (little-endian uint32). Never rewritten once the row exists.
	plate [rowPlateBytes]byte
}

// rowPlateBytes is the room for a plate inside its row.
const rowPlateBytes = 14

func newTruckTable() (*truckTable, error) {
	idx, err := geo.NewPointIndex(truckIndexRes)
	if err != nil {
		return nil, err
	}
	return &truckTable{seed: maphash.MakeSeed(), idx: idx, slots: make([]uint32, 1024)}, nil
}

// plateOf returns a row's plate. The string shares the row's (or the
// arena's) bytes, which are never rewritten, so it stays valid after the
// rows or the arena grow.
func (tt *truckTable) plateOf(r *truckRow) string {
	if r.plateLen <= rowPlateBytes {
		return unsafe.String(&r.plate[0], int(r.plateLen))
	}
	return unsafe.String(&tt.plates[binary.LittleEndian.Uint32(r.plate[:4])], int(r.plateLen))
}

// find returns the row of plate; the caller holds mu.
func (tt *truckTable) find(plate string) (uint32, bool) {
	mask := uint64(len(tt.slots) - 1)
	for i := maphash.String(tt.seed, plate) & mask; ; i = (i + 1) & mask {
		s := tt.slots[i]
		if s == 0 {
			return 0, false
		}
		if r := tt.rows.At(s - 1); int(r.plateLen) == len(plate) && tt.plateOf(r) == plate {
			return s - 1, true
		}
	}
}

// insert adds a row for plate; the caller holds mu for writing and knows
// the plate is absent.
func (tt *truckTable) insert(plate string) (uint32, error) {
	if tt.rows.Len() >= math.MaxUint32-1 || len(tt.plates)+len(plate) > math.MaxUint32 || len(plate) > math.MaxUint8 {
		return 0, fmt.Errorf("state: truck table full or plate %q too long", plate)
	}
	if 4*(tt.rows.Len()+1) > 3*len(tt.slots) {
		tt.grow()
	}
	r := truckRow{plateLen: uint8(len(plate))}
	if len(plate) <= rowPlateBytes {
		copy(r.plate[:], plate)
	} else {
		binary.LittleEndian.PutUint32(r.plate[:4], uint32(len(tt.plates)))
		tt.plates = append(tt.plates, plate...)
	}
	row := tt.rows.Append(r)
	tt.place(plate, row)
	return row, nil
}

func (tt *truckTable) place(plate string, row uint32) {
	mask := uint64(len(tt.slots) - 1)
	i := maphash.String(tt.seed, plate) & mask
	for tt.slots[i] != 0 {
		i = (i + 1) & mask
	}
	tt.slots[i] = row + 1
}

func (tt *truckTable) grow() {
	tt.slots = make([]uint32, 2*len(tt.slots))
	for row := range uint32(tt.rows.Len()) {
		tt.place(tt.plateOf(tt.rows.At(row)), row)
	}
}

// fill sets t from row and its position p.
func (tt *truckTable) fill(row uint32, p geo.LatLng, t *Truck) {
	r := tt.rows.At(row)
	*t = Truck{
		Plate: tt.plateOf(r), Lat: p.Lat, Lon: p.Lng, SpeedKmh: r.speed, Heading: int(r.heading), Time: r.time,
		ContainerSince: r.containerSince, LastSeen: r.lastSeen, Reports: uint64(r.reports),
	}
	if r.container != [state.ContainerLen]byte{} {
		t.Container = string(r.container[:])
	}
}

// get returns the current state of plate.
func (tt *truckTable) get(plate string, t *Truck) bool {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	row, ok := tt.find(plate)
	if ok {
		p, _ := tt.idx.Get(row)
		tt.fill(row, p, t)
	}
	return ok
}

// truckUpdate is one truck's new state for upsert, with the cell of its
// position at truckIndexRes.
type truckUpdate struct {
	t    *Truck
	cell geo.Cell
}

// upsertChunk bounds how many trucks upsert updates under one hold of the
// write lock (a few tens of microseconds), so that a large batch never
// stalls queries for milliseconds. Each truck's state changes atomically;
// a query may see some trucks of a batch moved and others not yet.
const upsertChunk = 128

// upsert stores the new states of a committed batch.
func (tt *truckTable) upsert(us []truckUpdate) error {
	for len(us) > 0 {
		n := min(len(us), upsertChunk)
		if err := tt.upsertLocked(us[:n]); err != nil {
			return err
		}
		us = us[n:]
		if len(us) > 0 {
			runtime.Gosched()
		}
	}
	return nil
}

func (tt *truckTable) upsertLocked(us []truckUpdate) error {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, u := range us {
		t := u.t
		row, ok := tt.find(t.Plate)
		if !ok {
			var err error
			if row, err = tt.insert(t.Plate); err != nil {
				return err
			}
		}
		r := tt.rows.At(row)
		r.time, r.containerSince, r.lastSeen, r.speed = t.Time, t.ContainerSince, t.LastSeen, t.SpeedKmh
		r.reports = uint32(min(t.Reports, math.MaxUint32))
		r.heading = int16(t.Heading)
		r.container = [state.ContainerLen]byte{}
		copy(r.container[:], t.Container)
		if err := tt.idx.SetCell(row, geo.LatLng{Lat: t.Lat, Lng: t.Lon}, u.cell); err != nil {
			return fmt.Errorf("state: indexing truck %s: %w", t.Plate, err)
		}
	}
	return nil
}

func (t *Trucks) loadTruckIndex() error {
	tt, err := newTruckTable()
	if err != nil {
		return err
	}
	var us []truckUpdate
	flush := func() error {
		err := tt.upsert(us)
		us = us[:0]
		return err
	}
	err = eachTruck(t.s.Live(), func(t *Truck) error {
		c, err := geo.CellOf(geo.LatLng{Lat: t.Lat, Lng: t.Lon}, truckIndexRes)
		if err != nil {
			return fmt.Errorf("truck %s: %w", t.Plate, err)
		}
		tc := *t
		us = append(us, truckUpdate{t: &tc, cell: c})
		if len(us) == 4096 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("state: rebuilding the truck table: %w", err)
	}
	t.table = tt
	return nil
}

// truckUpdates collects the trucks a batch changed, with the cells of their
// positions: called by Apply under the store's Apply lock before the
// commit, so the cgo cell computations happen outside the table's lock.
func (t *Trucks) truckUpdates() error {
	sc := &t.sc
	sc.ups = sc.ups[:0]
	for _, w := range sc.trucks {
		if !w.dirty {
			continue
		}
		c, err := geo.CellOf(geo.LatLng{Lat: w.t.Lat, Lng: w.t.Lon}, truckIndexRes)
		if err != nil {
			return fmt.Errorf("state: truck %s: %w", w.t.Plate, err)
		}
		sc.ups = append(sc.ups, truckUpdate{t: &w.t, cell: c})
	}
	return nil
}

type truckHit struct {
	t Truck
	d float64
}

// nearHitsPool recycles the answer buffers of Near.
var nearHitsPool = sync.Pool{New: func() any { return new([]truckHit) }}

// Near calls fn with the trucks within radiusM metres of (lat, lon),
// nearest first, at most limit of them (limit <= 0: no limit), until fn
// returns false. Distances are exact great-circle metres. The answer is one
// consistent state of the table, copied out before fn runs, so a slow
// caller never holds up ingest. fn must not keep t after it returns.
func (t *Trucks) Near(lat, lon, radiusM float64, limit int, fn func(t *Truck, distM float64) bool) error {
	center, err := geo.NewLatLng(lat, lon)
	if err != nil {
		return err
	}
	hp := nearHitsPool.Get().(*[]truckHit)
	hits := (*hp)[:0]
	defer func() {
		clear(hits) // drop the container strings
		*hp = hits[:0]
		nearHitsPool.Put(hp)
	}()
	tt := t.table
	tt.mu.RLock()
	err = tt.idx.Nearby(center, radiusM, limit, func(row uint32, p geo.LatLng, d float64) bool {
		hits = append(hits, truckHit{d: d})
		tt.fill(row, p, &hits[len(hits)-1].t)
		return true
	})
	tt.mu.RUnlock()
	if err != nil {
		return err
	}
	for i := range hits {
		if !fn(&hits[i].t, hits[i].d) {
			return nil
		}
	}
	return nil
}

// Within counts the trucks whose current position is within radiusM
// metres of (lat, lon), from the position index alone.
func (t *Trucks) Within(lat, lon, radiusM float64) (int, error) {
	center, err := geo.NewLatLng(lat, lon)
	if err != nil {
		return 0, err
	}
	n := 0
	tt := t.table
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	err = tt.idx.Nearby(center, radiusM, 0, func(uint32, geo.LatLng, float64) bool { n++; return true })
	return n, err
}
