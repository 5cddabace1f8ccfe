// Package truck is the trucks domain of porttrack's state: each truck's
// current state and track from its GNSS positions (state.TruckReport), the
// box a truck carries (container → truck links, and so where a box is while
// it rides), and every truck's position in an in-memory H3 table for point
// lookups and radius searches. It owns the key families 0x40–0x42
// (FORMAT.md, "Trucks") and Apply's "trucks" stage (state/doc.go, "Apply
// stages").
//
// What it needs of other domains is declared here (Fences, Boxes) and wired
// by state/portstate; what other code needs of it, it offers as methods of
// Trucks (Carries, EachBatchRide, ContainerRide for the kernel's
// state.TruckDomain).
package truck

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// plateEnd terminates a plate in keys (the truck key prefixes are in the
// kernel's table, state/keys.go).
const plateEnd byte = 0x00

// Fences is what trucks need of the geofences: observing a truck at its
// newer position, and the box it carries there, in the transaction.
type Fences interface {
	ObserveTruckFences(tx *state.Tx, r *state.TruckReport) error
}

// Boxes is what trucks need of the containers: the time of a box's newest
// event as a view sees it (ok false: the box has none). A later event of a
// box ends its ride on a truck.
type Boxes interface {
	NewestEventTime(vw *state.View, id string) (t int64, ok bool, err error)
}

// Trucks is the trucks domain of one opened state: construct it with New,
// list its Stage in Apply's stages; the kernel calls its Load at Open.
type Trucks struct {
	fences Fences
	boxes  Boxes
	s      *state.Store // set by Load
	log    func(msg string, args ...any)
	ret    time.Duration // track retention; 0 keeps every point
	table  *truckTable
	// sc is the per-batch memory of the stage, used under the store's
	// Apply lock only.
	sc scratch
}

// New returns the trucks domain, observing fences through fences and
// judging rides against boxes' events through boxes.
func New(fences Fences, boxes Boxes) *Trucks {
	return &Trucks{fences: fences, boxes: boxes}
}

// Truck is the current state of one truck: its newest position and the box
// it carries.
type Truck struct {
	Plate    string
	Lat, Lon float64
	SpeedKmh float64 // UnknownFloat
	Heading  int     // UnknownInt
	Time     int64   // observation time of the position
	// Container is the box named by the newest report, "" none;
	// ContainerSince the time of the first report of this ride.
	Container      string
	ContainerSince int64
	LastSeen       int64  // newest observation time of any report
	Reports        uint64 // reports applied (after dedupe)
}

// TruckPoint is one stored position of a truck.
type TruckPoint struct {
	Time      int64
	Lat, Lon  float64
	SpeedKmh  float64
	Heading   int
	Container string
}

func truckKey(dst []byte, plate string) []byte {
	dst = append(dst, state.PrefixTruck)
	dst = append(dst, plate...)
	return append(dst, plateEnd)
}

func truckTrackPrefix(dst []byte, plate string) []byte {
	dst = append(dst, state.PrefixTruckTrack)
	dst = append(dst, plate...)
	return append(dst, plateEnd)
}

func truckTrackKey(dst []byte, plate string, t int64) []byte {
	return binary.BigEndian.AppendUint64(truckTrackPrefix(dst, plate), state.SortableTime(t))
}

func containerTruckKey(dst []byte, container string) []byte {
	dst = append(dst, state.PrefixContainerTruck)
	return append(dst, container...)
}

func appendTruck(dst []byte, t *Truck) []byte {
	dst = append(dst, state.ValueV1)
	dst = state.AppendF64(dst, t.Lat)
	dst = state.AppendF64(dst, t.Lon)
	dst = state.AppendF64(dst, t.SpeedKmh)
	dst = binary.AppendVarint(dst, int64(t.Heading))
	dst = binary.AppendVarint(dst, t.Time)
	dst = state.AppendStr(dst, t.Container)
	dst = binary.AppendVarint(dst, t.ContainerSince)
	dst = binary.AppendVarint(dst, t.LastSeen)
	return binary.AppendUvarint(dst, t.Reports)
}

func decodeTruck(plate string, b []byte, t *Truck) error {
	r := state.NewReader(b)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	*t = Truck{Plate: plate}
	t.Lat, t.Lon, t.SpeedKmh = r.F64(), r.F64(), r.F64()
	t.Heading = r.Int()
	t.Time = r.Varint()
	t.Container = r.Str()
	t.ContainerSince = r.Varint()
	t.LastSeen = r.Varint()
	t.Reports = r.Uvarint()
	return r.Err()
}

func appendTruckPoint(dst []byte, r *state.TruckReport) []byte {
	dst = append(dst, state.ValueV1)
	dst = state.AppendF64(dst, r.Lat)
	dst = state.AppendF64(dst, r.Lon)
	dst = state.AppendF64(dst, r.SpeedKmh)
	dst = binary.AppendVarint(dst, int64(r.Heading))
	return state.AppendStr(dst, r.Container)
}

// decodeTruckPoint decodes a track value; the key's time is read by the
// caller, which knows the plate's length.
func decodeTruckPoint(t int64, b []byte, p *TruckPoint) error {
	r := state.NewReader(b)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	p.Time = t
	p.Lat, p.Lon, p.SpeedKmh = r.F64(), r.F64(), r.F64()
	p.Heading = r.Int()
	p.Container = r.Str()
	return r.Err()
}

// truckLink is the value of a container → truck key.
type truckLink struct {
	Plate       string
	Time, Since int64
}

func appendTruckLink(dst []byte, l *truckLink) []byte {
	dst = append(dst, state.ValueV1)
	dst = state.AppendStr(dst, l.Plate)
	dst = binary.AppendVarint(dst, l.Time)
	return binary.AppendVarint(dst, l.Since)
}

func decodeTruckLink(b []byte, l *truckLink) error {
	r := state.NewReader(b)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	l.Plate = r.Str()
	l.Time = r.Varint()
	l.Since = r.Varint()
	return r.Err()
}

// samePoint reports whether a report repeats a stored point of its time.
func samePoint(r *state.TruckReport, p *TruckPoint) bool {
	return r.Lat == p.Lat && r.Lon == p.Lon && r.SpeedKmh == p.SpeedKmh && r.Heading == p.Heading && r.Container == p.Container
}

// scratch is the stage's memory of one batch.
type scratch struct {
	key, val []byte
	trucks   map[string]*truckWork
	links    map[string]*linkWork // by container
	pts      map[truckPointKey]TruckPoint
	ups      []truckUpdate
	rides    []rideChange
	// live reads the stored state (not the batch being built).
	live *state.View
}

type truckWork struct {
	t      Truck
	found  bool  // stored before this batch or applied in it
	dirty  bool  // changed in this batch (write the current state)
	stored bool  // stored before this batch
	prev   int64 // the position time stored before this batch
}

// rideChange is a truck picking up (start) or dropping a box, for the
// DCSA events of truck legs.
type rideChange struct {
	container, plate string
	time             int64
	start            bool
}

type linkWork struct {
	l       truckLink
	exists  bool // the key holds a link (after this batch's changes so far)
	changed bool
}

type truckPointKey struct {
	plate string
	t     int64
}

// stage is the trucks stage of Apply: truck positions, tracks, the boxes a
// truck carries, fence observations.
type stage struct{ t *Trucks }

// Stage returns Apply's "trucks" stage of this domain.
func (t *Trucks) Stage() state.StageLoader { return stage{t} }

func (stage) Name() string { return "trucks" }

// Begin forgets what a failed batch left: the rides and the updates.
func (st stage) Begin(*state.Tx) {
	sc := &st.t.sc
	sc.rides = sc.rides[:0]
	sc.ups = sc.ups[:0]
}

func (st stage) Load(s *state.Store) error { return st.t.load(s) }

func (st stage) Apply(tx *state.Tx) error {
	t := st.t
	if len(tx.Input().Trucks) == 0 {
		return nil
	}
	if err := t.applyTrucks(tx, tx.Input().Trucks); err != nil {
		return err
	}
	// The cells of the new positions, computed before the commit so that
	// the cgo calls stay outside the truck table's lock.
	return t.truckUpdates()
}

func (st stage) Committed(*state.Tx) error {
	if len(st.t.sc.ups) == 0 {
		return nil
	}
	// The batch is durable; the table is rebuilt from it at the next
	// Open. Answers would be stale until then: fail loudly.
	return st.t.table.upsert(st.t.sc.ups)
}

// load keeps the store and rebuilds the in-memory table at Open.
func (t *Trucks) load(s *state.Store) error {
	opts := s.Options()
	t.s = s
	t.log = opts.Logger.Error
	t.ret = opts.TrackRetention
	t.sc.live = s.Live()
	return t.loadTruckIndex()
}

// applyTrucks adds the truck reports of a batch to the transaction. Called
// by Apply under the store's Apply lock.
func (t *Trucks) applyTrucks(tx *state.Tx, reports []state.TruckReport) error {
	sc := &t.sc
	pb, res := tx.Writes(), tx.Result()
	// clear costs a map's capacity, not its length: after a large batch
	// (loading, catching up) the maps are made anew, or every small batch
	// after it would clear thousands of empty slots.
	if len(sc.pts) > state.ScratchMapMax || sc.trucks == nil {
		sc.trucks = make(map[string]*truckWork)
		sc.links = make(map[string]*linkWork)
		sc.pts = make(map[truckPointKey]TruckPoint)
	}
	clear(sc.trucks)
	clear(sc.links)
	sc.rides = sc.rides[:0]
	clear(sc.pts)
	for i := range reports {
		if i%state.YieldEvery == state.YieldEvery-1 {
			runtime.Gosched()
		}
		r := &reports[i]
		w := t.truckForApply(r.Plate)
		dup, err := t.truckDuplicate(w, r)
		if err != nil {
			return err
		}
		if dup {
			res.TruckDuplicates++
			continue
		}
		p := TruckPoint{Time: r.Time, Lat: r.Lat, Lon: r.Lon, SpeedKmh: r.SpeedKmh, Heading: r.Heading, Container: r.Container}
		sc.pts[truckPointKey{r.Plate, r.Time}] = p
		// One key per (truck, time): a report at a stored time replaces
		// the point.
		sc.key = truckTrackKey(sc.key[:0], r.Plate, r.Time)
		sc.val = appendTruckPoint(sc.val[:0], r)
		if err := pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
		tr := &w.t
		if !w.found || r.Time >= tr.Time {
			// Out-of-order positions never move a truck back in time, nor
			// change what it carries: they go to the track only.
			if err := t.rideForApply(tr, r); err != nil {
				return err
			}
			tr.Lat, tr.Lon, tr.SpeedKmh, tr.Heading, tr.Time = r.Lat, r.Lon, r.SpeedKmh, r.Heading, r.Time
			if err := t.fences.ObserveTruckFences(tx, r); err != nil {
				return err
			}
		}
		w.found, w.dirty = true, true
		tr.LastSeen = max(tr.LastSeen, r.Time)
		tr.Reports++
		res.TruckReports++
	}
	for plate, w := range sc.trucks {
		if !w.dirty {
			continue // duplicates only
		}
		if ret := t.ret; ret > 0 && state.TrimDue(w.stored, w.prev, w.t.Time, ret) {
			// Range tombstone over the points older than the retention.
			if err := pb.DeleteRange(truckTrackKey(nil, plate, math.MinInt64), truckTrackKey(nil, plate, w.t.Time-int64(ret)), nil); err != nil {
				return err
			}
		}
		sc.key = truckKey(sc.key[:0], plate)
		sc.val = appendTruck(sc.val[:0], &w.t)
		if err := pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
	}
	for container, lw := range sc.links {
		if !lw.changed {
			continue
		}
		sc.key = containerTruckKey(sc.key[:0], container)
		if !lw.exists {
			if err := pb.Delete(sc.key, nil); err != nil {
				return err
			}
			continue
		}
		sc.val = appendTruckLink(sc.val[:0], &lw.l)
		if err := pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
	}
	return nil
}

// truckDuplicate reports whether r repeats the stored point of its
// (plate, time): the current position, a point of this batch, or an older
// track point.
func (t *Trucks) truckDuplicate(w *truckWork, r *state.TruckReport) (bool, error) {
	sc := &t.sc
	if p, ok := sc.pts[truckPointKey{r.Plate, r.Time}]; ok {
		return samePoint(r, &p), nil
	}
	if !w.found || r.Time > w.t.Time {
		return false, nil
	}
	tr := &w.t
	if r.Time == tr.Time {
		p := TruckPoint{Lat: tr.Lat, Lon: tr.Lon, SpeedKmh: tr.SpeedKmh, Heading: tr.Heading, Container: tr.Container}
		return samePoint(r, &p), nil
	}
	sc.key = truckTrackKey(sc.key[:0], r.Plate, r.Time)
	var p TruckPoint
	found, err := sc.live.Lookup(sc.key, func(v []byte) error { return decodeTruckPoint(r.Time, v, &p) })
	if err != nil {
		return false, fmt.Errorf("state: track of truck %s: %w", r.Plate, err)
	}
	return found && samePoint(r, &p), nil
}

// rideForApply updates what truck tr carries for its newer report r: a new
// box starts a ride, the same box extends it, another box or none ends it.
func (t *Trucks) rideForApply(tr *Truck, r *state.TruckReport) error {
	sc := &t.sc
	if tr.Container != "" && tr.Container != r.Container {
		lw, err := t.linkForApply(tr.Container)
		if err != nil {
			return err
		}
		// Another truck may have taken the box since: its link stays.
		if lw.exists && lw.l.Plate == tr.Plate {
			lw.exists, lw.changed = false, true
		}
		sc.rides = append(sc.rides, rideChange{container: tr.Container, plate: tr.Plate, time: r.Time})
		tr.Container, tr.ContainerSince = "", 0
	}
	if r.Container == "" {
		return nil
	}
	if tr.Container != r.Container {
		tr.Container, tr.ContainerSince = r.Container, r.Time
		sc.rides = append(sc.rides, rideChange{container: r.Container, plate: tr.Plate, time: r.Time, start: true})
	}
	lw, err := t.linkForApply(r.Container)
	if err != nil {
		return err
	}
	// When two trucks name one box, the newer report wins.
	if !lw.exists || lw.l.Plate == tr.Plate || r.Time >= lw.l.Time {
		lw.l = truckLink{Plate: tr.Plate, Time: r.Time, Since: tr.ContainerSince}
		lw.exists, lw.changed = true, true
	}
	return nil
}

func (t *Trucks) truckForApply(plate string) *truckWork {
	sc := &t.sc
	if w, ok := sc.trucks[plate]; ok {
		return w
	}
	w := &truckWork{}
	if t.table.get(plate, &w.t) {
		w.found, w.stored, w.prev = true, true, w.t.Time
	} else {
		w.t = Truck{Plate: plate, SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt}
	}
	sc.trucks[plate] = w
	return w
}

func (t *Trucks) linkForApply(container string) (*linkWork, error) {
	sc := &t.sc
	if lw, ok := sc.links[container]; ok {
		return lw, nil
	}
	lw := &linkWork{}
	l, found, err := truckLinkOf(sc.live, container)
	if err != nil {
		return nil, err
	}
	lw.l, lw.exists = l, found
	sc.links[container] = lw
	return lw, nil
}

// truckLinkOf reads the truck link of container through vw.
func truckLinkOf(vw *state.View, container string) (truckLink, bool, error) {
	var l truckLink
	var kb [1 + state.ContainerLen]byte
	found, err := vw.Lookup(containerTruckKey(kb[:0], container), func(v []byte) error { return decodeTruckLink(v, &l) })
	if err != nil {
		return l, false, fmt.Errorf("state: truck of container %s: %w", container, err)
	}
	return l, found, nil
}

func getTruck(vw *state.View, plate string) (Truck, error) {
	var t Truck
	if state.CheckPlate(plate) != nil {
		return t, state.ErrNotFound
	}
	var kb [2 + state.MaxPlateRunes*4]byte
	found, err := vw.Lookup(truckKey(kb[:0], plate), func(v []byte) error { return decodeTruck(plate, v, &t) })
	if err != nil {
		return t, fmt.Errorf("state: truck %s: %w", plate, err)
	}
	if !found {
		return t, state.ErrNotFound
	}
	return t, nil
}

// Truck returns the current state of a truck by canonical plate (see
// state.ParsePlate), or state.ErrNotFound.
// It answers from memory (index.go).
func (t *Trucks) Truck(plate string) (Truck, error) {
	var tr Truck
	if !t.table.get(plate, &tr) {
		return tr, state.ErrNotFound
	}
	return tr, nil
}

// Track calls fn for the truck's positions with time in [from, to) (0:
// no bound), in time order, at most limit of them. The point is valid only
// during the call.
func (t *Trucks) Track(plate string, from, to int64, limit int, fn func(*TruckPoint) error) error {
	prefix := truckTrackPrefix(nil, plate)
	lower := prefix
	if from != 0 {
		lower = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), state.SortableTime(from))
	}
	var upper []byte
	if to != 0 {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), state.SortableTime(to))
	} else {
		upper = append([]byte(nil), prefix...)
		upper[len(upper)-1] = plateEnd + 1
	}
	it, err := t.s.Live().NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var p TruckPoint
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("state: track key %x of truck %s: %w", k, plate, state.ErrCorrupt)
		}
		if err := decodeTruckPoint(state.UnsortTime(binary.BigEndian.Uint64(k[len(prefix):])), it.Value(), &p); err != nil {
			return fmt.Errorf("state: track of truck %s: %w", plate, err)
		}
		if err := fn(&p); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// Each calls fn for every truck in plate (byte) order.
func (t *Trucks) Each(fn func(*Truck) error) error {
	return eachTruck(t.s.Live(), fn)
}

func eachTruck(vw *state.View, fn func(*Truck) error) error {
	it, err := vw.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixTruck}, UpperBound: []byte{state.PrefixTruck + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var t Truck
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 3 || k[len(k)-1] != plateEnd {
			return fmt.Errorf("state: truck key %x: %w", k, state.ErrCorrupt)
		}
		if err := decodeTruck(string(k[1:len(k)-1]), it.Value(), &t); err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
	}
	return it.Error()
}

// At returns where the truck was at time at: its newest track point at
// or before at. state.ErrNotFound when the track has none (the truck was
// not seen yet, or the point is older than the track retention).
func (t *Trucks) At(plate string, at int64) (TruckPoint, error) {
	var p TruckPoint
	if state.CheckPlate(plate) != nil {
		return p, state.ErrNotFound
	}
	prefix := truckTrackPrefix(nil, plate)
	var upper []byte
	if at == math.MaxInt64 {
		upper = append(append([]byte(nil), prefix...), 0xff)
	} else {
		upper = truckTrackKey(nil, plate, at+1)
	}
	it, err := t.s.Live().NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return p, err
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return p, err
		}
		return p, state.ErrNotFound
	}
	k := it.Key()
	if len(k) != len(prefix)+8 {
		return p, fmt.Errorf("state: track key %x of truck %s: %w", k, plate, state.ErrCorrupt)
	}
	if err := decodeTruckPoint(state.UnsortTime(binary.BigEndian.Uint64(k[len(prefix):])), it.Value(), &p); err != nil {
		return p, fmt.Errorf("state: track of truck %s: %w", plate, err)
	}
	return p, nil
}

// ContainerPosition returns where a container is while it rides on a truck:
// the position of the truck that last reported carrying it, with source
// "truck:<plate>" and the time of that position. ok is false when no truck
// carries the box, or when the box's newest container event (gate-in,
// discharge, ...) is not older than the truck's report: a later event ends
// the ride even before the truck reports again. The answer comes from one
// consistent snapshot; read errors are logged and give ok false.
func (t *Trucks) ContainerPosition(id string) (lat, lon float64, source string, tm int64, ok bool) {
	vw := t.s.View()
	defer vw.Close()
	return t.ViewContainerPosition(vw, id)
}

// ViewContainerPosition is ContainerPosition as the view vw sees it.
func (t *Trucks) ViewContainerPosition(vw *state.View, id string) (lat, lon float64, source string, tm int64, ok bool) {
	if len(id) != state.ContainerLen {
		return 0, 0, "", 0, false
	}
	fail := func(err error) (float64, float64, string, int64, bool) {
		t.log("state: container position", "container", id, "err", err)
		return 0, 0, "", 0, false
	}
	link, found, err := truckLinkOf(vw, id)
	if err != nil {
		return fail(err)
	}
	if !found {
		return 0, 0, "", 0, false
	}
	last, known, err := t.boxes.NewestEventTime(vw, id)
	if err != nil {
		return fail(fmt.Errorf("current state: %w", err))
	}
	if known && last >= link.Time {
		return 0, 0, "", 0, false
	}
	tr, err := getTruck(vw, link.Plate)
	if err != nil {
		return fail(err)
	}
	if tr.Container != id {
		// The link and the truck are written in one batch: they agree.
		return fail(fmt.Errorf("truck %s carries %q, link says %s: %w", tr.Plate, tr.Container, id, state.ErrCorrupt))
	}
	return tr.Lat, tr.Lon, "truck:" + tr.Plate, tr.Time, true
}

// Carries returns the box the truck carries now ("" none) and whether the
// truck is known, from memory (state.TruckDomain).
func (t *Trucks) Carries(plate string) (container string, ok bool) {
	var tr Truck
	if !t.table.get(plate, &tr) {
		return "", false
	}
	return tr.Container, true
}

// EachBatchRide calls fn, in order, with the rides the trucks stage
// recorded in the batch being applied: a truck picking a box up (start) or
// dropping it, at time tm (state.TruckDomain). Called under the store's
// Apply lock, by a later stage of the same batch.
func (t *Trucks) EachBatchRide(fn func(container, plate string, tm int64, start bool) error) error {
	for _, rc := range t.sc.rides {
		if err := fn(rc.container, rc.plate, rc.time, rc.start); err != nil {
			return err
		}
	}
	return nil
}

// ContainerRide returns the truck ride of a container as vw sees it: the
// plate of the truck that last reported carrying it, that report's time
// and the ride's start (state.TruckDomain). ok is false when no truck
// carries the box.
func (t *Trucks) ContainerRide(vw *state.View, id string) (plate string, tm, since int64, ok bool, err error) {
	l, found, err := truckLinkOf(vw, id)
	if err != nil || !found {
		return "", 0, 0, false, err
	}
	return l.Plate, l.Time, l.Since, true, nil
}

var _ state.TruckDomain = (*Trucks)(nil)
