package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func onBoardKey(dst []byte, mmsi uint32, box string) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, prefixOnBoard), mmsi)
	return append(dst, box...)
}

// onBoardRange bounds the boxes on board of one ship.
func onBoardRange(mmsi uint32) (lo, hi []byte) {
	lo = onBoardKey(nil, mmsi, "")
	return lo, onBoardKey(nil, mmsi+1, "") // mmsi+1 wraps only for 2^32-1, not a valid MMSI
}

// OnBoard is a box on board a ship: the location record of Container names
// the ship for its newest event, a load at Loaded.
type OnBoard struct {
	Container string
	Loaded    int64
}

// scanOnBoard calls fn with the boxes on board of mmsi read from r, in
// container order, until fn returns false.
func scanOnBoard(r pebble.Reader, mmsi uint32, fn func(OnBoard) bool) error {
	lo, hi := onBoardRange(mmsi)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		rd := reader{b: it.Value()}
		if len(k) != len(lo)+ContainerLen || rd.byte() != valueV1 {
			return fmt.Errorf("state: on-board key %x: %w", k, errCorrupt)
		}
		loaded := rd.varint()
		if rd.err != nil {
			return fmt.Errorf("state: on-board key %x: %w", k, rd.err)
		}
		if !fn(OnBoard{Container: string(k[len(lo):]), Loaded: loaded}) {
			return nil
		}
	}
	return it.Error()
}

// BoxesOnBoard calls fn with the boxes on board of the ship mmsi, in
// container order, until fn returns false: one range scan.
func (s *Store) BoxesOnBoard(mmsi uint32, fn func(OnBoard) bool) error {
	return scanOnBoard(s.db, mmsi, fn)
}

// writeOnBoard keeps the on-board index of one box from the difference
// between its old and new location records (old is the zero record when
// the box had none), and, while user fences exist, hands the box's fence
// membership over to the ship it boards or back from the ship it leaves.
// Called by applyLocations under s.mu.
func (s *Store) writeOnBoard(pb *pebble.Batch, box string, old, nr *locationRecord, res *ApplyResult) error {
	was, now := old.ship(), nr.ship()
	if was == now && (now == 0 || old.loaded == nr.loaded) {
		return nil
	}
	fs := &s.fence
	fences := fs.reg.idx.Len() > 0
	if was != 0 && was != now {
		if err := pb.Delete(onBoardKey(nil, was, box), nil); err != nil {
			return err
		}
		fs.boardChange(was, box, OnBoard{})
		if fences {
			if err := s.leaveShip(pb, box, was, old.loaded); err != nil {
				return err
			}
		}
	}
	if now != 0 {
		val := binary.AppendVarint([]byte{valueV1}, nr.loaded)
		if err := pb.Set(onBoardKey(nil, now, box), val, nil); err != nil {
			return err
		}
		fs.boardChange(now, box, OnBoard{Container: box, Loaded: nr.loaded})
		if fences && was != now {
			if err := s.boardShip(pb, box, now, nr.loaded, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// boardChange notes a change of the on-board index in the current batch
// (b.Container "" for a removal): the batch is not readable before its
// commit, and a ship's transition later in the same batch must see it.
func (fs *fenceState) boardChange(mmsi uint32, box string, b OnBoard) {
	m := fs.board[mmsi]
	if m == nil {
		m = map[string]OnBoard{}
		fs.board[mmsi] = m
	}
	m[box] = b
}

// boxesOnBoardInBatch returns the boxes on board of mmsi as the current
// batch leaves them: the committed index with the batch's changes, in
// container order.
func (s *Store) boxesOnBoardInBatch(mmsi uint32) ([]OnBoard, error) {
	var out []OnBoard
	changes := s.fence.board[mmsi]
	err := scanOnBoard(s.db, mmsi, func(b OnBoard) bool {
		if _, ok := changes[b.Container]; !ok {
			out = append(out, b)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, b := range changes {
		if b.Container != "" {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b OnBoard) int { return strings.Compare(a.Container, b.Container) })
	return out, nil
}

// memberships returns the object's fence memberships as the current batch
// leaves them (read only).
func (fs *fenceState) memberships(obj string) map[string]*membership {
	if ms, ok := fs.work[obj]; ok {
		return ms
	}
	return fs.members[obj]
}

// workMemberships returns the object's memberships copied into the batch's
// work, to be changed.
func (fs *fenceState) workMemberships(obj string) map[string]*membership {
	if ms, ok := fs.work[obj]; ok {
		return ms
	}
	ms := fs.members[obj]
	cp := make(map[string]*membership, len(ms))
	for k, m := range ms {
		c := *m
		cp[k] = &c
	}
	fs.work[obj] = cp
	return cp
}

func vesselObj(mmsi uint32) string {
	return string(ObjVessel) + fmt.Sprint(mmsi)
}

// boardSince is when a box on board entered a fence its ship is inside:
// the ship's enter, or the load when the box boarded later.
func boardSince(shipSince, loaded int64) int64 {
	return max(shipSince, loaded)
}

// boardShip hands a box's fence membership over to the ship it was loaded
// onto at loaded: from now on the box is inside exactly the fences its
// ship is inside, so its own memberships (from readers and trucks) are
// deleted. Where the two differ the box's membership changes at the load:
// an enter for a fence the ship is inside and the box was not (a box
// loaded onto a ship already inside a fence enters it at the load), an
// exit for a fence the box was inside and the ship is not. Pending
// transitions of the box are dropped. Cost: the box's and the ship's
// memberships (in memory), and one track read for the alerts' position
// when something changes.
func (s *Store) boardShip(pb *pebble.Batch, box string, mmsi uint32, loaded int64, res *ApplyResult) error {
	fs := &s.fence
	obj := string(ObjContainer) + box
	ship := fs.memberships(vesselObj(mmsi))
	own := fs.workMemberships(obj)
	var keys []string
	for fk, m := range ship {
		if m.inside {
			keys = append(keys, fk)
		}
	}
	for fk := range own {
		if _, ok := ship[fk]; !ok || !ship[fk].inside {
			keys = append(keys, fk)
		}
	}
	slices.Sort(keys)
	var lat, lon float64
	posAt := int64(math.MinInt64)
	for _, fk := range keys {
		shipIn := ship[fk] != nil && ship[fk].inside
		m := own[fk]
		boxIn := m != nil && m.inside
		if m != nil {
			delete(own, fk)
			if err := pb.Delete(memberKey(nil, fk, obj), nil); err != nil {
				return err
			}
		}
		if shipIn == boxIn {
			continue
		}
		// At the load; an enter of a fence the ship entered after the
		// load (a load whose ship was found late) at the ship's enter.
		at := loaded
		if shipIn {
			at = boardSince(ship[fk].since, loaded)
		}
		if at != posAt {
			posAt, lat, lon = at, 0, 0
			if tp, err := s.VesselAt(mmsi, at); err == nil {
				lat, lon = tp.Lat, tp.Lon
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		ev, dwell := "enter", int64(0)
		if !shipIn {
			ev, dwell = "exit", max(loaded-m.since, 0)
			fs.exits.Add(1)
		} else {
			fs.enters.Add(1)
		}
		if err := s.fenceAlert(pb, fk, ObjContainer, box, "", ev, at, lat, lon, time.Duration(dwell), res); err != nil {
			return err
		}
	}
	return nil
}

// leaveShip hands a box's fence membership back from the ship it left
// (discharged, or seen anywhere else): the box is now inside the fences
// its ship is inside, as its own memberships, without events (it has not
// moved); its next reader or truck position goes on from there as for any
// box. Cost: the ship's memberships (in memory), one write per fence the
// ship is inside.
func (s *Store) leaveShip(pb *pebble.Batch, box string, mmsi uint32, loaded int64) error {
	fs := &s.fence
	obj := string(ObjContainer) + box
	ship := fs.memberships(vesselObj(mmsi))
	if len(ship) == 0 {
		return nil
	}
	own := fs.workMemberships(obj)
	keys := make([]string, 0, len(ship))
	for fk, m := range ship {
		if m.inside {
			keys = append(keys, fk)
		}
	}
	slices.Sort(keys)
	for _, fk := range keys {
		m := &membership{inside: true, since: boardSince(ship[fk].since, loaded)}
		own[fk] = m
		if err := pb.Set(memberKey(nil, fk, obj), appendMembership(nil, m), nil); err != nil {
			return err
		}
	}
	return nil
}

// fanOutToBoard publishes a ship's confirmed transition in fence fk for
// every box on board (the box's membership is its ship's; no box is
// observed at AIS positions). Cost: one range scan of the ship's on-board
// entries and one alert (plus, for a logistics owner, one link read) per
// box, and only at a ship's transition, a few times per port call and
// fence; never per AIS report. shipSince is when the ship entered the
// fence (for an exit's dwell).
func (s *Store) fanOutToBoard(pb *pebble.Batch, fk string, mmsi uint32, ev string, at int64, lat, lon float64, dwell int64, shipSince int64, res *ApplyResult) error {
	boxes, err := s.boxesOnBoardInBatch(mmsi)
	if err != nil {
		return err
	}
	for _, b := range boxes {
		t, d := max(at, b.Loaded), dwell
		if ev == "exit" {
			d = max(t-boardSince(shipSince, b.Loaded), 0)
			s.fence.exits.Add(1)
		} else {
			s.fence.enters.Add(1)
		}
		s.fence.fanned.Add(1)
		if err := s.fenceAlert(pb, fk, ObjContainer, b.Container, "", ev, t, lat, lon, time.Duration(d), res); err != nil {
			return err
		}
	}
	return nil
}

// backfillOnBoard builds the on-board index from the location records when
// its marker is missing (a database written before the family existed).
// Called by Open after backfillLocations, before any Apply.
func (s *Store) backfillOnBoard() error {
	marker := []byte{prefixOnBoard}
	_, closer, err := s.db.Get(marker)
	if err == nil {
		return closer.Close()
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	return s.backfillFromLocations(marker, []byte{valueV1}, func(bb *backfill, box string, rec *locationRecord) error {
		if rec.ship() == 0 {
			return nil
		}
		if err := bb.pb.Set(onBoardKey(nil, rec.ship(), box), binary.AppendVarint([]byte{valueV1}, rec.loaded), nil); err != nil {
			return err
		}
		// A box on board has no membership of its own (it is inside what
		// its ship is inside): one kept from before the family existed
		// would list it twice under /inside. Dropped without alerts.
		obj := string(ObjContainer) + box
		for fk := range s.fence.members[obj] {
			if err := bb.pb.Delete(memberKey(nil, fk, obj), nil); err != nil {
				return err
			}
		}
		delete(s.fence.members, obj)
		return nil
	})
}

// backfillFromLocations writes a family derived from the location records:
// fn adds each record's entries to bb; the marker, written last, says the
// family is built (a crash before it runs the whole build again at the
// next Open, so fn must only write what it would write again).
func (s *Store) backfillFromLocations(marker, markerValue []byte, fn func(bb *backfill, box string, rec *locationRecord) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLocation}, UpperBound: []byte{prefixLocation + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	bb := s.newBackfill()
	defer bb.close()
	var rec locationRecord
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+ContainerLen {
			return fmt.Errorf("state: location key %x: %w", k, errCorrupt)
		}
		if err := s.loc.decodeLocationRecord(it.Value(), &rec); err != nil {
			return fmt.Errorf("state: location %x: %w", k, err)
		}
		if err := fn(bb, string(k[1:]), &rec); err != nil {
			return err
		}
		if err := bb.spill(); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if err := bb.pb.Set(marker, markerValue, nil); err != nil {
		return err
	}
	return bb.commit()
}
