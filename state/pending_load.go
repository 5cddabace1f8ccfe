package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/geo"
)

// pendingLoadMaxAge is how long after a load its ship may still be found:
// a load whose ship's AIS positions have not placed it at the berth by then
// (a ship without AIS, a feed down for days) stops being looked for.
const pendingLoadMaxAge = int64(48 * time.Hour)

func pendingLoadKey(dst []byte, berth string, loaded int64, box string) []byte {
	dst = binary.BigEndian.AppendUint64(placePrefix(dst, prefixPendingLoad, berth), sortableTime(loaded))
	return append(dst, box...)
}

// pendingLoads is the store's view of the loads waiting for their ship,
// kept by Apply under Store.mu.
type pendingLoads struct {
	// count is the committed number of pending loads per berth; delta this
	// batch's changes to it.
	count, delta map[string]int
	// due are berths where committed AIS positions placed ships (their
	// MMSI → newest position time): their pending loads are looked at by
	// the next Apply, which reads those positions. next collects this
	// batch's. all (after Open) looks at every berth's pending loads with
	// any ship near it.
	due, next map[string]map[uint32]int64
	all       bool
	// touched are the boxes whose location records this batch rewrote
	// (applyLocations): their entries wait for the next batch.
	touched map[string]bool
	// found counts this batch's resolutions; resolved and pending are
	// published after the commit.
	found    int
	resolved atomic.Uint64
	pending  atomic.Int64
}

// pendingBerth is the berth of a load that found no ship, "" for any
// other record.
func (s *Store) pendingBerth(r *locationRecord) string {
	if r.loaded == 0 || r.vessel != 0 {
		return ""
	}
	if p := s.loc.byID[r.lastPlace]; p != nil && p.Kind == KindBerth {
		return p.ID
	}
	return ""
}

// writePendingLoad keeps the pending-load entry of one box from the
// difference between its old and new location records. Called by
// applyLocations under s.mu.
func (s *Store) writePendingLoad(pb *pebble.Batch, box string, old, nr *locationRecord) error {
	if ld := &s.loads; len(ld.due) > 0 || ld.all {
		ld.touched[box] = true // resolveLoads runs in this batch
	}
	ob, nb := s.pendingBerth(old), s.pendingBerth(nr)
	if ob == nb && (ob == "" || old.loaded == nr.loaded) {
		return nil
	}
	ld := &s.loads
	if ob != "" {
		// The entry may be gone while the record still looks like it
		// waits: resolveLoad drops a load too old to wait, and leaves the
		// record as it is.
		key := pendingLoadKey(nil, ob, old.loaded, box)
		_, closer, err := s.db.Get(key)
		switch {
		case err == nil:
			closer.Close()
			if err := pb.Delete(key, nil); err != nil {
				return err
			}
			ld.delta[ob]--
		case !errors.Is(err, pebble.ErrNotFound):
			return err
		}
	}
	if nb != "" {
		if err := pb.Set(pendingLoadKey(nil, nb, nr.loaded, box), []byte{valueV1}, nil); err != nil {
			return err
		}
		ld.delta[nb]++
	}
	return nil
}

// berthFence returns the port model's outline of a berth, nil when the
// model has none.
func (s *Store) berthFence(berth string) *geo.Fence {
	f, _ := s.opts.PortModel.Fence(berth)
	return f
}

// observePendingBerths notes a ship's position inside a berth with loads
// waiting for their ship. Cost: nothing while no load waits; otherwise one
// point-in-polygon test per berth with waiting loads. Called by
// applyVessels under s.mu.
func (s *Store) observePendingBerths(r *VesselReport) {
	ld := &s.loads
	if len(ld.count) == 0 && len(ld.delta) == 0 {
		return
	}
	p := geo.LatLng{Lat: r.Lat, Lng: r.Lon}
	check := func(berth string, n int) {
		if n <= 0 {
			return
		}
		f := s.berthFence(berth)
		if f == nil || !f.Contains(p) {
			return
		}
		m := ld.next[berth]
		if m == nil {
			m = map[uint32]int64{}
			ld.next[berth] = m
		}
		m[r.MMSI] = max(m[r.MMSI], r.Time)
	}
	for berth, n := range ld.count {
		check(berth, n+ld.delta[berth])
	}
	for berth, n := range ld.delta {
		if _, ok := ld.count[berth]; !ok {
			check(berth, n)
		}
	}
}

// resolveLoads looks again for the ship of the loads waiting at the berths
// where earlier batches placed ships, reading those ships' committed
// tracks as the load does (vesselAtBerth: the ship whose newest position
// at or before the load lies inside the berth). A load that finds its ship
// now gets it in its location record, enters the on-board index and takes
// the ship's fence memberships (boardShip: an enter, at the load time, for
// each fence the ship is inside, as the ship's memberships stand before
// this batch's positions, which applyVessels then hands on to the box). A
// load none of the ships places is dropped when it is older than
// pendingLoadMaxAge before the newest of their positions (after Open:
// before the store's clock). Boxes whose records this batch rewrote are
// left to the next batch. Called by Apply under s.mu, after the batch's
// events (applyLocations) and before its positions (applyVessels).
func (s *Store) resolveLoads(pb *pebble.Batch, res *ApplyResult) error {
	ld := &s.loads
	if len(ld.due) == 0 && !ld.all {
		return nil
	}
	if len(ld.count) == 0 {
		return nil
	}
	berths := slices.Sorted(maps.Keys(ld.due))
	if ld.all {
		berths = slices.Sorted(maps.Keys(ld.count))
	}
	var rec locationRecord
	for _, berth := range berths {
		f := s.berthFence(berth)
		if f == nil {
			continue
		}
		ships := slices.Sorted(maps.Keys(ld.due[berth]))
		var newest int64
		for _, t := range ld.due[berth] {
			newest = max(newest, t)
		}
		lo := placePrefix(nil, prefixPendingLoad, berth)
		hi := append(bytes.Clone(lo[:len(lo)-1]), placeEnd+1)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) != len(lo)+8+ContainerLen {
				it.Close()
				return fmt.Errorf("state: pending load key %x: %w", k, errCorrupt)
			}
			loaded := unsortTime(binary.BigEndian.Uint64(k[len(lo):]))
			box := string(k[len(lo)+8:])
			if ld.touched[box] {
				// Its record is this batch's: look again in the next.
				ld.requeue(berth, ld.due[berth])
				continue
			}
			mmsi, err := s.shipForLoad(berth, f, loaded, ships)
			if err != nil {
				it.Close()
				return err
			}
			if mmsi == 0 {
				horizon := newest
				if len(ships) == 0 {
					horizon = s.opts.Now().UnixNano()
				}
				if horizon-loaded <= pendingLoadMaxAge {
					continue // wait for a ship
				}
			}
			if err := s.resolveLoad(pb, berth, loaded, box, mmsi, &rec, res); err != nil {
				it.Close()
				return err
			}
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// shipForLoad returns the ship among ships whose newest position at or
// before loaded lies inside the berth, 0 when none does. With no ships
// (after Open), any ship near the berth, as the load looks (vesselAtBerth).
func (s *Store) shipForLoad(berth string, f *geo.Fence, loaded int64, ships []uint32) (uint32, error) {
	if len(ships) == 0 {
		return s.vesselAtBerth(berth, loaded)
	}
	for _, mmsi := range ships {
		tp, err := s.VesselAt(mmsi, loaded)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if f.Contains(geo.LatLng{Lat: tp.Lat, Lng: tp.Lon}) {
			return mmsi, nil
		}
	}
	return 0, nil
}

// requeue has the next batch look at berth again with ships.
func (ld *pendingLoads) requeue(berth string, ships map[uint32]int64) {
	m := ld.next[berth]
	if m == nil {
		m = map[uint32]int64{}
		ld.next[berth] = m
	}
	for mmsi, t := range ships {
		m[mmsi] = max(m[mmsi], t)
	}
}

// resolveLoad gives the pending load (berth, loaded, box) its ship mmsi, or
// drops it when mmsi is 0 (too old): the entry goes, and the record, the
// on-board index and the memberships change when the box's record still
// holds that load.
func (s *Store) resolveLoad(pb *pebble.Batch, berth string, loaded int64, box string, mmsi uint32, rec *locationRecord, res *ApplyResult) error {
	ld := &s.loads
	drop := func() error {
		ld.delta[berth]--
		return pb.Delete(pendingLoadKey(nil, berth, loaded, box), nil)
	}
	key := locationKey(nil, box)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return drop()
	}
	if err != nil {
		return err
	}
	err = s.loc.decodeLocationRecord(v, rec)
	closer.Close()
	if err != nil {
		return fmt.Errorf("state: location of %s: %w", box, err)
	}
	if s.pendingBerth(rec) != berth || rec.loaded != loaded {
		return drop() // stale: the record moved on
	}
	if mmsi == 0 {
		return drop() // its ship was not found in time
	}
	old := *rec
	nr := old // only vessel changes: the stays are shared, not written
	nr.vessel = mmsi
	if err := pb.Set(key, appendLocationRecord(nil, &nr), nil); err != nil {
		return err
	}
	if err := drop(); err != nil {
		return err
	}
	ld.found++
	return s.writeOnBoard(pb, box, &old, &nr, res)
}

// loadsCommitted publishes the committed batch's changes. Called by Apply
// under s.mu after the commit.
func (s *Store) loadsCommitted() {
	ld := &s.loads
	for berth, d := range ld.delta {
		if n := ld.count[berth] + d; n > 0 {
			ld.count[berth] = n
		} else {
			delete(ld.count, berth)
		}
		ld.pending.Add(int64(d))
	}
	clear(ld.delta)
	ld.resolved.Add(uint64(ld.found))
	ld.found = 0
	clear(ld.due)
	ld.all = false
	for berth, m := range ld.next {
		ld.due[berth] = m
	}
	clear(ld.next)
	clear(ld.touched)
}

// loadsBegin forgets what a failed batch left. Called by Apply under s.mu.
func (s *Store) loadsBegin() {
	ld := &s.loads
	clear(ld.delta)
	clear(ld.next)
	clear(ld.touched)
	ld.found = 0
}

// loadPendingLoads counts the pending loads per berth at Open, writing the
// entries first for a database written before the family existed (every
// location record that is a load with no ship at a berth), and has the
// first Apply look for the ships of all of them.
func (s *Store) loadPendingLoads() error {
	ld := &s.loads
	ld.count, ld.delta = map[string]int{}, map[string]int{}
	ld.due, ld.next = map[string]map[uint32]int64{}, map[string]map[uint32]int64{}
	ld.touched = map[string]bool{}
	// The marker holds a digest of the port model's berths: the family is
	// built anew when they changed (a record's pendingness depends on them).
	marker := []byte{prefixPendingLoad}
	want := s.berthDigest()
	v, closer, err := s.db.Get(marker)
	switch {
	case err == nil:
		same := bytes.Equal(v, want)
		closer.Close()
		if !same {
			if err := s.db.DeleteRange(marker, []byte{prefixPendingLoad + 1}, s.writeO); err != nil {
				return err
			}
			if err := s.backfillPendingLoads(marker, want); err != nil {
				return err
			}
		}
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.backfillPendingLoads(marker, want); err != nil {
			return err
		}
	default:
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPendingLoad, 0}, UpperBound: []byte{prefixPendingLoad + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[1:]
		i := bytes.IndexByte(k, placeEnd)
		if i < 0 {
			return fmt.Errorf("state: pending load key %x: %w", it.Key(), errCorrupt)
		}
		ld.count[string(k[:i])]++
		n++
	}
	ld.pending.Store(n)
	ld.all = n > 0
	return it.Error()
}

// berthDigest is the marker value of the family: the version byte and a
// hash of the port model's berth ids.
func (s *Store) berthDigest() []byte {
	var ids []string
	for id, p := range s.loc.byID {
		if p.Kind == KindBerth && p.ID == id {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return h.Sum([]byte{valueV1})
}

func (s *Store) backfillPendingLoads(marker, digest []byte) error {
	return s.backfillFromLocations(marker, digest, func(bb *backfill, box string, rec *locationRecord) error {
		berth := s.pendingBerth(rec)
		if berth == "" {
			return nil
		}
		return bb.pb.Set(pendingLoadKey(nil, berth, rec.loaded, box), []byte{valueV1}, nil)
	})
}
