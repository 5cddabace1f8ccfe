package state

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/geo"
)

// The container location index (FORMAT.md, "Container places and dwell";
// its key prefixes are in keys.go).
const (
	placeEnd byte = 0x00 // terminates a place id in keys

	// dayNanos is the bucket width of the place history: a closed stay is
	// written once per UTC day it overlaps.
	dayNanos = int64(24 * time.Hour)
)

// stay is a time a container spent at one place: [since, until), until 0
// while it is still there.
type stay struct {
	place        string
	since, until int64
}

// locationRecord is what the index holds for one container: its stays,
// when its current stay in the terminal began (0: not in the terminal) and
// the place of its newest event ("" unknown).
type locationRecord struct {
	terminalSince int64
	lastPlace     string
	stays         []stay
	// loaded is the time of the newest event when it is a load (0
	// otherwise); vessel the MMSI of the ship that was at the berth then
	// (0: none found).
	loaded int64
	vessel uint32
	// last is the newest event the record was derived from (time, hash):
	// events after it continue the record without reading the history.
	last locEvent
}

// ship is the ship the box is on board: the record's vessel while its
// newest event is a load (records written before apply cleared vessel with
// loaded may keep a stale one).
func (r *locationRecord) ship() uint32 {
	if r.loaded == 0 {
		return 0
	}
	return r.vessel
}

// locEvent is a history event reduced to what location needs.
type locEvent struct {
	time  int64
	h     [8]byte // history key's id hash: the order of events at one time
	code  Code
	place string // "" when it names no place
}

func compareLocEvents(a, b locEvent) int {
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	return bytes.Compare(a.h[:], b.h[:])
}

// apply continues the record with events that sort after every event it
// was derived from, in history-key order; applied to an empty record, the
// whole history gives the container's record. The rules (FORMAT.md):
//   - an event that names a place and is not a departure (GTOT, LOAD) puts
//     the box there from its time on; later events at the same place
//     continue that stay;
//   - the next event elsewhere, at no known place, or a departure ends the
//     stay at its time; a stay of zero length is no stay;
//   - a gate-in or discharge starts a stay in the terminal unless one is
//     running; a gate-out or load ends it.
func (r *locationRecord) apply(evs []locEvent) {
	open := -1 // index in r.stays of the running stay
	if n := len(r.stays); n > 0 && r.stays[n-1].until == 0 {
		open = n - 1
	}
	for _, e := range evs {
		leaves := e.code == CodeGTOT || e.code == CodeLOAD
		if open >= 0 && (leaves || e.place != r.stays[open].place) {
			if e.time > r.stays[open].since {
				r.stays[open].until = e.time
			} else {
				r.stays = r.stays[:open]
			}
			open = -1
		}
		if !leaves && e.place != "" && open < 0 {
			r.stays = append(r.stays, stay{place: e.place, since: e.time})
			open = len(r.stays) - 1
		}
		switch e.code {
		case CodeGTIN, CodeDISC:
			if r.terminalSince == 0 {
				r.terminalSince = e.time
			}
		case CodeGTOT, CodeLOAD:
			r.terminalSince = 0
		}
		r.lastPlace = e.place
		r.loaded, r.vessel = 0, 0
		if e.code == CodeLOAD {
			r.loaded = e.time
		}
		r.last = e
	}
}

// deriveLocation computes a container's location record from its whole
// history in history-key order.
func deriveLocation(evs []locEvent) locationRecord {
	var r locationRecord
	r.apply(evs)
	return r
}

func appendLocationRecord(dst []byte, r *locationRecord) []byte {
	dst = append(dst, valueV1)
	dst = binary.AppendVarint(dst, r.terminalSince)
	dst = appendStr(dst, r.lastPlace)
	dst = binary.AppendUvarint(dst, uint64(len(r.stays)))
	for _, s := range r.stays {
		dst = appendStr(dst, s.place)
		dst = binary.AppendVarint(dst, s.since)
		dst = binary.AppendVarint(dst, s.until)
	}
	dst = binary.AppendVarint(dst, r.loaded)
	dst = binary.AppendUvarint(dst, uint64(r.vessel))
	dst = binary.AppendVarint(dst, r.last.time)
	return append(dst, r.last.h[:]...)
}

// decodeLocationRecord decodes b into r. Place ids known to the locator
// share its strings instead of allocating one per stay.
func (l *locator) decodeLocationRecord(b []byte, r *locationRecord) error {
	rd := reader{b: b}
	if rd.byte() != valueV1 {
		return errCorrupt
	}
	place := func() string {
		raw := rd.bytes()
		if p := l.byID[string(raw)]; p != nil {
			return p.ID
		}
		return string(raw)
	}
	r.terminalSince = rd.varint()
	r.lastPlace = place()
	n := rd.uvarint()
	if rd.err == nil && n > uint64(len(rd.b)) {
		return errCorrupt
	}
	r.stays = r.stays[:0]
	for i := uint64(0); i < n && rd.err == nil; i++ {
		r.stays = append(r.stays, stay{place: place(), since: rd.varint(), until: rd.varint()})
	}
	r.loaded = rd.varint()
	v := rd.uvarint()
	if v > math.MaxUint32 {
		return errCorrupt
	}
	r.vessel = uint32(v)
	r.last = locEvent{time: rd.varint()}
	if rd.err == nil && len(rd.b) < len(r.last.h) {
		return errCorrupt
	}
	if rd.err == nil {
		copy(r.last.h[:], rd.b)
		rd.b = rd.b[len(r.last.h):]
	}
	return rd.err
}

func locationKey(dst []byte, container string) []byte {
	return append(append(dst, prefixLocation), container...)
}

func placePrefix(dst []byte, prefix byte, place string) []byte {
	dst = append(dst, prefix)
	dst = append(dst, place...)
	return append(dst, placeEnd)
}

func placeNowKey(dst []byte, place, container string) []byte {
	return append(placePrefix(dst, prefixPlaceNow, place), container...)
}

func placeDayPrefix(dst []byte, place string, day int64) []byte {
	return binary.BigEndian.AppendUint64(placePrefix(dst, prefixPlaceHistory, place), sortableTime(day))
}

func placeHistoryKey(dst []byte, place string, day int64, container string, since int64) []byte {
	dst = append(placeDayPrefix(dst, place, day), container...)
	return binary.BigEndian.AppendUint64(dst, sortableTime(since))
}

func dwellKey(dst []byte, since int64, container string) []byte {
	dst = binary.BigEndian.AppendUint64(append(dst, prefixDwell), sortableTime(since))
	return append(dst, container...)
}

// dayOf is the start of the UTC day holding t (floor division).
func dayOf(t int64) int64 {
	d := t / dayNanos
	if t%dayNanos < 0 {
		d--
	}
	return d * dayNanos
}

// applyLocations keeps the location index (and the on-board index) of the
// containers that got new events in this batch and writes the difference
// to pb: a box whose new
// events all follow its record's newest event continues the record; any
// other is re-derived from its whole history (the committed events plus the
// batch's new ones), so late events land where they belong. Called by Apply
// under s.mu after the batch's events; stored is the set of ids stored
// before the batch (storedIDs).
func (s *Store) applyLocations(pb *pebble.Batch, events []Event, hashes [][32]byte, stored map[[32]byte]struct{}, res *ApplyResult) error {
	fresh := map[string][]locEvent{}
	seen := make(map[[32]byte]struct{}, len(events))
	for i := range events {
		h := hashes[i]
		if _, ok := stored[h]; ok {
			continue
		}
		if _, ok := seen[h]; ok {
			continue
		}
		seen[h] = struct{}{}
		e := &events[i]
		le := locEvent{time: e.Time, code: e.Code}
		copy(le.h[:], h[:8])
		if p := s.loc.place(e.ReadPoint, e.Location); p != nil {
			le.place = p.ID
		}
		fresh[e.Container] = append(fresh[e.Container], le)
	}
	ids := make([]string, 0, len(fresh))
	for id := range fresh {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	// Read the records in key order through one iterator (see storedIDs).
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLocation}, UpperBound: []byte{prefixLocation + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var key, val []byte
	var old locationRecord
	for _, id := range ids {
		evs := fresh[id]
		slices.SortFunc(evs, compareLocEvents)
		key = locationKey(key[:0], id)
		found := it.SeekPrefixGE(key) && bytes.Equal(it.Key(), key)
		if found {
			if err := s.loc.decodeLocationRecord(it.Value(), &old); err != nil {
				return fmt.Errorf("state: location of %s: %w", id, err)
			}
		} else {
			if err := it.Error(); err != nil {
				return err
			}
			old = locationRecord{stays: old.stays[:0]}
		}
		var nr locationRecord
		if found && compareLocEvents(evs[0], old.last) > 0 {
			// In order (the usual case): continue from the record.
			nr = old
			nr.stays = slices.Clone(old.stays)
			nr.apply(evs)
		} else {
			// A late event, or no record yet: derive from the whole history.
			all, err := s.locEvents(id, evs)
			if err != nil {
				return err
			}
			nr = deriveLocation(all)
		}
		if nr.loaded != 0 {
			if found && old.loaded == nr.loaded {
				nr.vessel = old.vessel
			} else if nr.vessel, err = s.vesselAtBerth(nr.lastPlace, nr.loaded); err != nil {
				return err
			}
		}
		if err := s.writeStayDiff(pb, id, old.stays, nr.stays); err != nil {
			return err
		}
		if err := s.writeOnBoard(pb, id, &old, &nr, res); err != nil {
			return err
		}
		if err := s.writePendingLoad(pb, id, &old, &nr); err != nil {
			return err
		}
		if nr.ship() != 0 {
			s.fence.onShip[id] = true
		}
		if !found || old.terminalSince != nr.terminalSince {
			if found && old.terminalSince != 0 {
				if err := pb.Delete(dwellKey(key[:0], old.terminalSince, id), nil); err != nil {
					return err
				}
			}
			if nr.terminalSince != 0 {
				if err := pb.Set(dwellKey(key[:0], nr.terminalSince, id), []byte{valueV1}, nil); err != nil {
					return err
				}
			}
		}
		val = appendLocationRecord(val[:0], &nr)
		if err := pb.Set(locationKey(key[:0], id), val, nil); err != nil {
			return err
		}
	}
	return nil
}

// locEvents returns the container's committed history merged with fresh
// events, in history-key order.
func (s *Store) locEvents(id string, fresh []locEvent) ([]locEvent, error) {
	prefix := append([]byte{prefixHistory}, id...)
	upper := append(bytes.Clone(prefix), 0xff)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var evs []locEvent
	var ev StoredEvent
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeHistory(it.Key(), it.Value(), &ev); err != nil {
			return nil, fmt.Errorf("state: history of %s: %w", id, err)
		}
		le := locEvent{time: ev.Time, code: ev.Code}
		copy(le.h[:], it.Key()[1+ContainerLen+8:])
		if p := s.loc.place(ev.ReadPoint, ev.Location); p != nil {
			le.place = p.ID
		}
		evs = append(evs, le)
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	evs = append(evs, fresh...)
	slices.SortFunc(evs, compareLocEvents)
	return evs, nil
}

// writeStayDiff removes the index entries of stays that are gone and adds
// those of new stays.
func (s *Store) writeStayDiff(pb *pebble.Batch, id string, old, cur []stay) error {
	// Stays are in time order and a change touches the end (a late event
	// some way back re-derives what follows it): skip the common prefix.
	p := 0
	for p < len(old) && p < len(cur) && old[p] == cur[p] {
		p++
	}
	old, cur = old[p:], cur[p:]
	for _, st := range old {
		if !slices.Contains(cur, st) {
			if err := s.stayKeys(st, id, func(k []byte) error { return pb.Delete(k, nil) }); err != nil {
				return err
			}
		}
	}
	var val []byte
	for _, st := range cur {
		if slices.Contains(old, st) {
			continue
		}
		val = append(val[:0], valueV1)
		if st.until == 0 {
			val = binary.AppendVarint(val, st.since)
		} else {
			val = binary.AppendVarint(val, st.until)
		}
		if err := s.stayKeys(st, id, func(k []byte) error { return pb.Set(k, val, nil) }); err != nil {
			return err
		}
	}
	return nil
}

// stayKeys calls fn with the index keys of a stay: the place's current
// entry while it runs, else one history entry per day it overlaps.
func (s *Store) stayKeys(st stay, id string, fn func([]byte) error) error {
	if st.until == 0 {
		return fn(placeNowKey(nil, st.place, id))
	}
	for d := dayOf(st.since); d <= dayOf(st.until-1); d += dayNanos {
		if err := fn(placeHistoryKey(nil, st.place, d, id, st.since)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) locationRecord(r pebble.Reader, id string, rec *locationRecord) (bool, error) {
	var kb [1 + ContainerLen]byte
	v, closer, err := r.Get(locationKey(kb[:0], id))
	if errors.Is(err, pebble.ErrNotFound) {
		*rec = locationRecord{stays: rec.stays[:0]}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if err := s.loc.decodeLocationRecord(v, rec); err != nil {
		return false, fmt.Errorf("state: location of %s: %w", id, err)
	}
	return true, nil
}

// ContainerLocation is where a container is, from its location record.
type ContainerLocation struct {
	// Place is the place of the newest event (HasPlace false when that
	// event names no place of the port model); Since is when the box came
	// there, 0 when it has left (a gate-out or load there).
	Place    Place
	HasPlace bool
	Since    int64
	// Vessel is the ship the box was loaded onto, while its newest event is
	// that load (0 otherwise); Loaded the load's time.
	Vessel uint32
	Loaded int64
}

// ContainerLocation reads the container's location record (one point
// read). A container without events has the zero location. When the
// record names no ship for a load at a berth (the ship's positions around
// the load were not applied yet when the load was: AIS and RFID are
// consumed apart, and a replay may run one topic ahead of the other), the
// ship is looked for again from the tracks as they are now; the answer is
// not written back (the box's next event rewrites the record).
func (s *Store) ContainerLocation(id string) (ContainerLocation, error) {
	return s.live().ContainerLocation(id)
}

// ContainerLocation is Store.ContainerLocation as the view sees it; the ship
// at a berth is looked for in the live vessel index (not part of the view).
func (vw *View) ContainerLocation(id string) (ContainerLocation, error) {
	var l ContainerLocation
	if len(id) != ContainerLen {
		return l, nil
	}
	var rec locationRecord
	found, err := vw.s.locationRecord(vw.r, id, &rec)
	if err != nil || !found {
		return l, err
	}
	if q := vw.s.loc.byID[rec.lastPlace]; q != nil && rec.lastPlace != "" {
		l.Place, l.HasPlace = *q, true
		if n := len(rec.stays); n > 0 && rec.stays[n-1].until == 0 && rec.stays[n-1].place == rec.lastPlace {
			l.Since = rec.stays[n-1].since
		}
	}
	if rec.loaded != 0 {
		l.Vessel, l.Loaded = rec.vessel, rec.loaded
		if l.Vessel == 0 {
			if l.Vessel, err = vw.vesselAtBerth(rec.lastPlace, rec.loaded); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

// PlaceStay is a container at a place: since when, and until when (0: it is
// still there).
type PlaceStay struct {
	Container    string
	Since, Until int64
}

// ListQuery pages a container list.
type ListQuery struct {
	Cursor string // from a previous page; "" starts at the beginning
	Limit  int    // items per page, > 0
	Count  bool   // also count every match (all pages)
	// Scope, when not nil, is a logistics caller's: only the containers
	// linked to it are listed, paged and counted (one read of the box's
	// links per candidate).
	Scope *Scope

	filter scopeFilter
}

// keep reports whether the list may show the container. rd must be the
// same reader for one list; the caller closes q.filter.
func (q *ListQuery) keep(rd pebble.Reader, id string) (bool, error) {
	if q.Scope == nil {
		return true, nil
	}
	return q.filter.visible(rd, id, q.Scope)
}

// ContainersAt calls fn with the containers at a place, in container
// order: now when at is 0, else at the time at, exactly from the stays
// derived from history. It returns the cursor of the next page ("" on the
// last) and, when q.Count, the number of matches over all pages.
//
// Now is one range scan of the place's current entries from the cursor on.
// At a time T it is the place's current entries that began at or before T
// (stays still running) plus the history entries of T's day bucket that
// cover T (stays that ended): no other container is read.
func (s *Store) ContainersAt(place string, at int64, q ListQuery, fn func(*PlaceStay) error) (next string, total int, err error) {
	if q.Limit <= 0 {
		return "", 0, errors.New("state: list limit must be positive")
	}
	var after string
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || CheckContainer(string(raw)) != nil {
			return "", 0, ErrBadCursor
		}
		after = string(raw)
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	defer q.filter.close()
	var hits []PlaceStay
	nowPrefix := placePrefix(nil, prefixPlaceNow, place)
	nowUpper := append(bytes.Clone(nowPrefix[:len(nowPrefix)-1]), placeEnd+1)
	// scanNow reads running stays from lower on, up to max of them that
	// began at or before at (0: any).
	scanNow := func(lower []byte, max int, fn func(PlaceStay)) error {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: nowUpper})
		if err != nil {
			return err
		}
		n := 0
		for ok := it.First(); ok && (max <= 0 || n < max); ok = it.Next() {
			k := it.Key()
			if len(k) != len(nowPrefix)+ContainerLen {
				it.Close()
				return fmt.Errorf("state: place key %x: %w", k, errCorrupt)
			}
			if keep, err := q.keep(snap, string(k[len(nowPrefix):])); err != nil || !keep {
				if err != nil {
					it.Close()
					return err
				}
				continue
			}
			rd := reader{b: it.Value()}
			if rd.byte() != valueV1 {
				rd.err = errCorrupt
			}
			since := rd.varint()
			if rd.err != nil {
				it.Close()
				return fmt.Errorf("state: place key %x: %w", k, rd.err)
			}
			if at != 0 && since > at {
				continue
			}
			fn(PlaceStay{Container: string(k[len(nowPrefix):]), Since: since})
			n++
		}
		return it.Close()
	}
	if at == 0 {
		if q.Count {
			if err := scanNow(nowPrefix, 0, func(PlaceStay) { total++ }); err != nil {
				return "", 0, err
			}
		}
		lower := nowPrefix
		if after != "" {
			lower = append(append(bytes.Clone(nowPrefix), after...), 0)
		}
		if err := scanNow(lower, q.Limit+1, func(p PlaceStay) { hits = append(hits, p) }); err != nil {
			return "", 0, err
		}
	} else {
		if err := scanNow(nowPrefix, 0, func(p PlaceStay) { hits = append(hits, p) }); err != nil {
			return "", 0, err
		}
		var kerr error
		if err := s.endedStaysAt(snap, place, at, func(p PlaceStay) {
			keep, err := q.keep(snap, p.Container)
			if err != nil {
				kerr = err
			} else if keep {
				hits = append(hits, p)
			}
		}); err != nil || kerr != nil {
			return "", 0, errors.Join(err, kerr)
		}
		slices.SortFunc(hits, func(a, b PlaceStay) int { return cmp.Compare(a.Container, b.Container) })
		total = len(hits)
		i, _ := slices.BinarySearchFunc(hits, after, func(p PlaceStay, c string) int {
			if p.Container <= c {
				return -1
			}
			return 1
		})
		hits = hits[i:]
	}
	for i := range hits {
		if i == q.Limit {
			return base64.RawURLEncoding.EncodeToString([]byte(hits[i-1].Container)), total, nil
		}
		if err := fn(&hits[i]); err != nil {
			return "", 0, err
		}
	}
	return "", total, nil
}

// endedStaysAt calls fn with the ended stays at place that cover at, from
// the history entries of at's day.
func (s *Store) endedStaysAt(snap *pebble.Snapshot, place string, at int64, fn func(PlaceStay)) error {
	prefix := placeDayPrefix(nil, place, dayOf(at))
	upper := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, ContainerLen+9)...)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+ContainerLen+8 {
			return fmt.Errorf("state: place history key %x: %w", k, errCorrupt)
		}
		since := unsortTime(binary.BigEndian.Uint64(k[len(prefix)+ContainerLen:]))
		rd := reader{b: it.Value()}
		if rd.byte() != valueV1 {
			rd.err = errCorrupt
		}
		until := rd.varint()
		if rd.err != nil {
			return fmt.Errorf("state: place history key %x: %w", k, rd.err)
		}
		if since <= at && at < until {
			fn(PlaceStay{Container: string(k[len(prefix) : len(prefix)+ContainerLen]), Since: since, Until: until})
		}
	}
	return it.Error()
}

// ContainersDwelling calls fn with the containers in the terminal (since a
// gate-in or discharge, not gated out or loaded since) whose stay began
// before the time before, longest first. Cursor, limit and count as for
// ContainersAt.
func (s *Store) ContainersDwelling(before int64, q ListQuery, fn func(id string, since int64) error) (next string, total int, err error) {
	if q.Limit <= 0 {
		return "", 0, errors.New("state: list limit must be positive")
	}
	lower := []byte{prefixDwell}
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(raw) != 8+ContainerLen {
			return "", 0, ErrBadCursor
		}
		lower = append(append([]byte{prefixDwell}, raw...), 0)
	}
	upper := dwellKey(nil, before, "")
	snap := s.db.NewSnapshot()
	defer snap.Close()
	defer q.filter.close()
	if q.Count {
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDwell}, UpperBound: upper})
		if err != nil {
			return "", 0, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) != 1+8+ContainerLen {
				it.Close()
				return "", 0, fmt.Errorf("state: dwell key %x: %w", k, errCorrupt)
			}
			if keep, err := q.keep(snap, string(k[9:])); err != nil {
				it.Close()
				return "", 0, err
			} else if keep {
				total++
			}
		}
		if err := it.Close(); err != nil {
			return "", 0, err
		}
	}
	if bytes.Compare(lower, upper) >= 0 {
		return "", total, nil
	}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return "", 0, err
	}
	defer it.Close()
	n := 0
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+8+ContainerLen {
			return "", 0, fmt.Errorf("state: dwell key %x: %w", k, errCorrupt)
		}
		if keep, err := q.keep(snap, string(k[9:])); err != nil {
			return "", 0, err
		} else if !keep {
			continue
		}
		if n == q.Limit {
			return base64.RawURLEncoding.EncodeToString(last[1:]), total, nil
		}
		if err := fn(string(k[9:]), unsortTime(binary.BigEndian.Uint64(k[1:9]))); err != nil {
			return "", 0, err
		}
		last = append(last[:0], k...)
		n++
	}
	return "", total, it.Error()
}

// Now is the store's clock (Options.Now): the "now" of dwell times, pinned
// by tests.
func (s *Store) Now() time.Time { return s.opts.Now() }

// vesselAtBerth returns the vessel that was inside the berth at time t:
// among the vessels now within a few kilometres of it, the first whose
// track places it in the berth's fence at t (its newest position at or
// before t). 0 when place is not a berth or no such vessel is found.
func (s *Store) vesselAtBerth(place string, t int64) (uint32, error) {
	return s.live().vesselAtBerth(place, t)
}

func (vw *View) vesselAtBerth(place string, t int64) (uint32, error) {
	p := vw.s.loc.byID[place]
	if p == nil || p.Kind != KindBerth {
		return 0, nil
	}
	fe, ok := vw.s.opts.PortModel.Fence(place)
	if !ok {
		return 0, nil
	}
	var found uint32
	var ferr error
	err := vw.VesselsNear(p.Lat, p.Lon, p.Radius+vesselSearchM, 0, func(v *Vessel, _ float64) bool {
		tp, err := vw.VesselAt(v.MMSI, t)
		if errors.Is(err, ErrNotFound) {
			return true
		}
		if err != nil {
			ferr = err
			return false
		}
		if fe.Contains(geo.LatLng{Lat: tp.Lat, Lng: tp.Lon}) {
			found = v.MMSI
			return false
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	return found, err
}

// vesselSearchM is how far from a berth a ship may have moved since the
// load for the load to find it.
const vesselSearchM = 20000

// backfillLocations builds the location index of a database written before
// it existed, or finishes a build that a crash interrupted: when the
// container of the last history key has no location record, every
// container's record and index entries are derived from its history, in
// key order and in batches (rewriting what an interrupted build wrote is
// idempotent). Called by Open before any Apply.
func (s *Store) backfillLocations() error {
	last, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHistory}, UpperBound: []byte{prefixHistory + 1}})
	if err != nil {
		return err
	}
	var lastID string
	if last.Last() {
		if k := last.Key(); len(k) == historyKeyLen {
			lastID = string(k[1 : 1+ContainerLen])
		}
	}
	if err := errors.Join(last.Error(), last.Close()); err != nil || lastID == "" {
		return err
	}
	var rec locationRecord
	if done, err := s.locationRecord(s.db, lastID, &rec); err != nil || done {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHistory}, UpperBound: []byte{prefixHistory + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	bb := s.newBackfill()
	defer bb.close()
	var ev StoredEvent
	var evs []locEvent
	cur := ""
	flush := func() error {
		if cur == "" {
			return nil
		}
		r := deriveLocation(evs)
		if err := s.writeStayDiff(bb.pb, cur, nil, r.stays); err != nil {
			return err
		}
		if r.terminalSince != 0 {
			if err := bb.pb.Set(dwellKey(nil, r.terminalSince, cur), []byte{valueV1}, nil); err != nil {
				return err
			}
		}
		if err := bb.pb.Set(locationKey(nil, cur), appendLocationRecord(nil, &r), nil); err != nil {
			return err
		}
		return bb.spill()
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeHistory(it.Key(), it.Value(), &ev); err != nil {
			return fmt.Errorf("state: history key %x: %w", it.Key(), err)
		}
		if ev.Container != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, evs = ev.Container, evs[:0]
		}
		le := locEvent{time: ev.Time, code: ev.Code}
		copy(le.h[:], it.Key()[1+ContainerLen+8:])
		if p := s.loc.place(ev.ReadPoint, ev.Location); p != nil {
			le.place = p.ID
		}
		evs = append(evs, le)
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return bb.commit()
}

// backfill writes what Open derives for a database written before a key
// family existed, in commits of about 4 MiB.
type backfill struct {
	s  *Store
	pb *pebble.Batch
}

func (s *Store) newBackfill() *backfill { return &backfill{s: s, pb: s.db.NewBatch()} }

// spill commits what the batch holds once it passes 4 MiB and starts a new
// one.
func (b *backfill) spill() error {
	if b.pb.Len() <= 4<<20 {
		return nil
	}
	if err := b.pb.Commit(b.s.writeO); err != nil {
		return err
	}
	b.pb.Close()
	b.pb = b.s.db.NewBatch()
	return nil
}

func (b *backfill) commit() error { return b.pb.Commit(b.s.writeO) }

func (b *backfill) close() { b.pb.Close() }
