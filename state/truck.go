package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/cockroachdb/pebble/v2"
)

// plateEnd terminates a plate in keys (the truck key prefixes are in
// keys.go).
const plateEnd byte = 0x00

// MaxTruckSpeedKmh bounds TruckReport.SpeedKmh: above it a GNSS speed is a
// unit error or a glitch.
const MaxTruckSpeedKmh = 400

// TruckReport is one GNSS position of a truck (BeiDou/GPS), in porttrack's
// terms. Ingest builds it from port.transport records.
type TruckReport struct {
	Plate    string  // canonical (ParsePlate)
	Time     int64   // observation time, Unix ns
	Lat, Lon float64 // degrees
	SpeedKmh float64 // km/h, UnknownFloat
	Heading  int     // degrees 0-359, UnknownInt
	// Container is the box the truck reports carrying (canonical ISO 6346),
	// "" when it carries none: a report without a container after one with
	// it means the truck dropped the box.
	Container string
}

// Validate checks the invariants the store relies on.
func (r *TruckReport) Validate() error {
	switch {
	case CheckPlate(r.Plate) != nil:
		return fmt.Errorf("plate %.64q: %w", r.Plate, ErrPlateFormat)
	case r.Time == 0:
		return errors.New("truck report has no time")
	case math.IsNaN(r.Lat) || math.IsNaN(r.Lon) || r.Lat < -90 || r.Lat > 90 || r.Lon < -180 || r.Lon > 180:
		return fmt.Errorf("position %v,%v out of range", r.Lat, r.Lon)
	case r.SpeedKmh != UnknownFloat && !(r.SpeedKmh >= 0 && r.SpeedKmh <= MaxTruckSpeedKmh):
		return fmt.Errorf("speed %v km/h out of range [0, %d]", r.SpeedKmh, MaxTruckSpeedKmh)
	case r.Heading != UnknownInt && (r.Heading < 0 || r.Heading > 359):
		return fmt.Errorf("heading %d out of range [0, 359]", r.Heading)
	}
	if r.Container != "" {
		if err := CheckContainer(r.Container); err != nil {
			return fmt.Errorf("container %.64q: %w", r.Container, err)
		}
	}
	return nil
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
	dst = append(dst, prefixTruck)
	dst = append(dst, plate...)
	return append(dst, plateEnd)
}

func truckTrackPrefix(dst []byte, plate string) []byte {
	dst = append(dst, prefixTruckTrack)
	dst = append(dst, plate...)
	return append(dst, plateEnd)
}

func truckTrackKey(dst []byte, plate string, t int64) []byte {
	return binary.BigEndian.AppendUint64(truckTrackPrefix(dst, plate), sortableTime(t))
}

func containerTruckKey(dst []byte, container string) []byte {
	dst = append(dst, prefixContainerTruck)
	return append(dst, container...)
}

func appendTruck(dst []byte, t *Truck) []byte {
	dst = append(dst, valueV1)
	dst = appendF64(dst, t.Lat)
	dst = appendF64(dst, t.Lon)
	dst = appendF64(dst, t.SpeedKmh)
	dst = binary.AppendVarint(dst, int64(t.Heading))
	dst = binary.AppendVarint(dst, t.Time)
	dst = appendStr(dst, t.Container)
	dst = binary.AppendVarint(dst, t.ContainerSince)
	dst = binary.AppendVarint(dst, t.LastSeen)
	return binary.AppendUvarint(dst, t.Reports)
}

func decodeTruck(plate string, b []byte, t *Truck) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	*t = Truck{Plate: plate}
	t.Lat, t.Lon, t.SpeedKmh = r.f64(), r.f64(), r.f64()
	t.Heading = r.int()
	t.Time = r.varint()
	t.Container = r.str()
	t.ContainerSince = r.varint()
	t.LastSeen = r.varint()
	t.Reports = r.uvarint()
	return r.err
}

func appendTruckPoint(dst []byte, r *TruckReport) []byte {
	dst = append(dst, valueV1)
	dst = appendF64(dst, r.Lat)
	dst = appendF64(dst, r.Lon)
	dst = appendF64(dst, r.SpeedKmh)
	dst = binary.AppendVarint(dst, int64(r.Heading))
	return appendStr(dst, r.Container)
}

// decodeTruckPoint decodes a track value; the key's time is read by the
// caller, which knows the plate's length.
func decodeTruckPoint(t int64, b []byte, p *TruckPoint) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	p.Time = t
	p.Lat, p.Lon, p.SpeedKmh = r.f64(), r.f64(), r.f64()
	p.Heading = r.int()
	p.Container = r.str()
	return r.err
}

// truckLink is the value of a container → truck key.
type truckLink struct {
	Plate       string
	Time, Since int64
}

func appendTruckLink(dst []byte, l *truckLink) []byte {
	dst = append(dst, valueV1)
	dst = appendStr(dst, l.Plate)
	dst = binary.AppendVarint(dst, l.Time)
	return binary.AppendVarint(dst, l.Since)
}

func decodeTruckLink(b []byte, l *truckLink) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	l.Plate = r.str()
	l.Time = r.varint()
	l.Since = r.varint()
	return r.err
}

// samePoint reports whether a report repeats a stored point of its time.
func samePoint(r *TruckReport, p *TruckPoint) bool {
	return r.Lat == p.Lat && r.Lon == p.Lon && r.SpeedKmh == p.SpeedKmh && r.Heading == p.Heading && r.Container == p.Container
}

// scratchMapMax is the size beyond which Apply's per-batch maps are made
// anew rather than cleared.
const scratchMapMax = 1024

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

// applyTrucks adds the truck reports of a batch to pb. Called by Apply
// under s.mu.
func (s *Store) applyTrucks(pb *pebble.Batch, reports []TruckReport, res *ApplyResult) error {
	sc := &s.mu.scratch
	// clear costs a map's capacity, not its length: after a large batch
	// (loading, catching up) the maps are made anew, or every small batch
	// after it would clear thousands of empty slots.
	if len(sc.truckPts) > scratchMapMax || sc.trucks == nil {
		sc.trucks = make(map[string]*truckWork)
		sc.links = make(map[string]*linkWork)
		sc.truckPts = make(map[truckPointKey]TruckPoint)
	}
	clear(sc.trucks)
	clear(sc.links)
	sc.rides = sc.rides[:0]
	clear(sc.truckPts)
	for i := range reports {
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
		r := &reports[i]
		w, err := s.truckForApply(sc, r.Plate)
		if err != nil {
			return err
		}
		dup, err := s.truckDuplicate(sc, w, r)
		if err != nil {
			return err
		}
		if dup {
			res.TruckDuplicates++
			continue
		}
		p := TruckPoint{Time: r.Time, Lat: r.Lat, Lon: r.Lon, SpeedKmh: r.SpeedKmh, Heading: r.Heading, Container: r.Container}
		sc.truckPts[truckPointKey{r.Plate, r.Time}] = p
		// One key per (truck, time): a report at a stored time replaces
		// the point.
		sc.key = truckTrackKey(sc.key[:0], r.Plate, r.Time)
		sc.val = appendTruckPoint(sc.val[:0], r)
		if err := pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
		t := &w.t
		if !w.found || r.Time >= t.Time {
			// Out-of-order positions never move a truck back in time, nor
			// change what it carries: they go to the track only.
			if err := s.rideForApply(sc, t, r); err != nil {
				return err
			}
			t.Lat, t.Lon, t.SpeedKmh, t.Heading, t.Time = r.Lat, r.Lon, r.SpeedKmh, r.Heading, r.Time
			if err := s.observeTruckFences(pb, r, res); err != nil {
				return err
			}
		}
		w.found, w.dirty = true, true
		t.LastSeen = max(t.LastSeen, r.Time)
		t.Reports++
		res.TruckReports++
	}
	for plate, w := range sc.trucks {
		if !w.dirty {
			continue // duplicates only
		}
		if ret := s.opts.TrackRetention; ret > 0 && trimDue(w.stored, w.prev, w.t.Time, ret) {
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
func (s *Store) truckDuplicate(sc *applyScratch, w *truckWork, r *TruckReport) (bool, error) {
	if p, ok := sc.truckPts[truckPointKey{r.Plate, r.Time}]; ok {
		return samePoint(r, &p), nil
	}
	if !w.found || r.Time > w.t.Time {
		return false, nil
	}
	t := &w.t
	if r.Time == t.Time {
		p := TruckPoint{Lat: t.Lat, Lon: t.Lon, SpeedKmh: t.SpeedKmh, Heading: t.Heading, Container: t.Container}
		return samePoint(r, &p), nil
	}
	sc.key = truckTrackKey(sc.key[:0], r.Plate, r.Time)
	v, closer, err := s.db.Get(sc.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	var p TruckPoint
	if err := decodeTruckPoint(r.Time, v, &p); err != nil {
		return false, fmt.Errorf("state: track of truck %s: %w", r.Plate, err)
	}
	return samePoint(r, &p), nil
}

// rideForApply updates what truck t carries for its newer report r: a new
// box starts a ride, the same box extends it, another box or none ends it.
func (s *Store) rideForApply(sc *applyScratch, t *Truck, r *TruckReport) error {
	if t.Container != "" && t.Container != r.Container {
		lw, err := s.linkForApply(sc, t.Container)
		if err != nil {
			return err
		}
		// Another truck may have taken the box since: its link stays.
		if lw.exists && lw.l.Plate == t.Plate {
			lw.exists, lw.changed = false, true
		}
		sc.rides = append(sc.rides, rideChange{container: t.Container, plate: t.Plate, time: r.Time})
		t.Container, t.ContainerSince = "", 0
	}
	if r.Container == "" {
		return nil
	}
	if t.Container != r.Container {
		t.Container, t.ContainerSince = r.Container, r.Time
		sc.rides = append(sc.rides, rideChange{container: r.Container, plate: t.Plate, time: r.Time, start: true})
	}
	lw, err := s.linkForApply(sc, r.Container)
	if err != nil {
		return err
	}
	// When two trucks name one box, the newer report wins.
	if !lw.exists || lw.l.Plate == t.Plate || r.Time >= lw.l.Time {
		lw.l = truckLink{Plate: t.Plate, Time: r.Time, Since: t.ContainerSince}
		lw.exists, lw.changed = true, true
	}
	return nil
}

func (s *Store) truckForApply(sc *applyScratch, plate string) (*truckWork, error) {
	if w, ok := sc.trucks[plate]; ok {
		return w, nil
	}
	w := &truckWork{}
	if s.trucks.get(plate, &w.t) {
		w.found, w.stored, w.prev = true, true, w.t.Time
	} else {
		w.t = Truck{Plate: plate, SpeedKmh: UnknownFloat, Heading: UnknownInt}
	}
	sc.trucks[plate] = w
	return w, nil
}

func (s *Store) linkForApply(sc *applyScratch, container string) (*linkWork, error) {
	if lw, ok := sc.links[container]; ok {
		return lw, nil
	}
	lw := &linkWork{}
	l, found, err := s.truckLink(s.db, container)
	if err != nil {
		return nil, err
	}
	lw.l, lw.exists = l, found
	sc.links[container] = lw
	return lw, nil
}

func (s *Store) truckLink(r pebble.Reader, container string) (truckLink, bool, error) {
	var l truckLink
	var kb [1 + ContainerLen]byte
	v, closer, err := r.Get(containerTruckKey(kb[:0], container))
	if errors.Is(err, pebble.ErrNotFound) {
		return l, false, nil
	}
	if err != nil {
		return l, false, err
	}
	defer closer.Close()
	if err := decodeTruckLink(v, &l); err != nil {
		return l, false, fmt.Errorf("state: truck of container %s: %w", container, err)
	}
	return l, true, nil
}

func getTruck(r pebble.Reader, plate string) (Truck, error) {
	var t Truck
	if CheckPlate(plate) != nil {
		return t, ErrNotFound
	}
	var kb [2 + MaxPlateRunes*4]byte
	b, closer, err := r.Get(truckKey(kb[:0], plate))
	if errors.Is(err, pebble.ErrNotFound) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	defer closer.Close()
	if err := decodeTruck(plate, b, &t); err != nil {
		return t, fmt.Errorf("state: truck %s: %w", plate, err)
	}
	return t, nil
}

// Truck returns the current state of a truck by canonical plate (see
// ParsePlate), or ErrNotFound.
// It answers from memory (truck_index.go).
func (s *Store) Truck(plate string) (Truck, error) {
	var t Truck
	if !s.trucks.get(plate, &t) {
		return t, ErrNotFound
	}
	return t, nil
}

// TruckTrack calls fn for the truck's positions with time in [from, to) (0:
// no bound), in time order, at most limit of them. The point is valid only
// during the call.
func (s *Store) TruckTrack(plate string, from, to int64, limit int, fn func(*TruckPoint) error) error {
	prefix := truckTrackPrefix(nil, plate)
	lower := prefix
	if from != 0 {
		lower = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), sortableTime(from))
	}
	var upper []byte
	if to != 0 {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), sortableTime(to))
	} else {
		upper = append([]byte(nil), prefix...)
		upper[len(upper)-1] = plateEnd + 1
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var p TruckPoint
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("state: track key %x of truck %s: %w", k, plate, errCorrupt)
		}
		if err := decodeTruckPoint(unsortTime(binary.BigEndian.Uint64(k[len(prefix):])), it.Value(), &p); err != nil {
			return fmt.Errorf("state: track of truck %s: %w", plate, err)
		}
		if err := fn(&p); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// EachTruck calls fn for every truck in plate (byte) order.
func (s *Store) EachTruck(fn func(*Truck) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixTruck}, UpperBound: []byte{prefixTruck + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var t Truck
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 3 || k[len(k)-1] != plateEnd {
			return fmt.Errorf("state: truck key %x: %w", k, errCorrupt)
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

// ContainerPosition returns where a container is while it rides on a truck:
// the position of the truck that last reported carrying it, with source
// "truck:<plate>" and the time of that position. ok is false when no truck
// carries the box, or when the box's newest container event (gate-in,
// discharge, ...) is not older than the truck's report: a later event ends
// the ride even before the truck reports again. The answer comes from one
// consistent snapshot; read errors are logged and give ok false.
func (s *Store) ContainerPosition(id string) (lat, lon float64, source string, t int64, ok bool) {
	vw := s.View()
	defer vw.Close()
	return vw.ContainerPosition(id)
}

// ContainerPosition is Store.ContainerPosition as the view sees it.
func (vw *View) ContainerPosition(id string) (lat, lon float64, source string, t int64, ok bool) {
	if len(id) != ContainerLen {
		return 0, 0, "", 0, false
	}
	fail := func(err error) (float64, float64, string, int64, bool) {
		vw.s.opts.Logger.Error("state: container position", "container", id, "err", err)
		return 0, 0, "", 0, false
	}
	link, found, err := vw.s.truckLink(vw.r, id)
	if err != nil {
		return fail(err)
	}
	if !found {
		return 0, 0, "", 0, false
	}
	var kb [1 + ContainerLen]byte
	v, closer, err := vw.r.Get(currentKey(kb[:0], id))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fail(err)
	default:
		var c Container
		err = decodeCurrent(id, v, &c)
		closer.Close()
		if err != nil {
			return fail(fmt.Errorf("current state: %w", err))
		}
		if c.Count > 0 && c.Last.Time >= link.Time {
			return 0, 0, "", 0, false
		}
	}
	tr, err := getTruck(vw.r, link.Plate)
	if err != nil {
		return fail(err)
	}
	if tr.Container != id {
		// The link and the truck are written in one batch: they agree.
		return fail(fmt.Errorf("truck %s carries %q, link says %s: %w", tr.Plate, tr.Container, id, errCorrupt))
	}
	return tr.Lat, tr.Lon, "truck:" + tr.Plate, tr.Time, true
}
