package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo/portmodel"
)

// Fences around BLCT berth 1 (and its quay cranes' readers) and out on the
// approach, away from every berth.
const (
	quayFence     = `{"type":"Feature","id":"quay","properties":{},"geometry":{"type":"Polygon","coordinates":[[[121.86,29.935],[121.87,29.935],[121.87,29.945],[121.86,29.945],[121.86,29.935]]]}}`
	approachFence = `{"type":"Feature","id":"approach","properties":{},"geometry":{"type":"Polygon","coordinates":[[[121.90,29.95],[121.95,29.95],[121.95,30.00],[121.90,30.00],[121.90,29.95]]]}}`
)

var (
	berth1   = [2]float64{29.9396, 121.8646} // inside nbct-berth-1
	approach = [2]float64{29.97, 121.92}
)

func openOnBoardStore(t *testing.T, fs vfs.FS, dwell time.Duration) *Store {
	t.Helper()
	readers, err := readerPositions(portmodel.GeoJSON())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Dir: "db", FS: fs, PortModel: loadPortModel(t),
		Fences: FenceConfig{MinDwell: dwell, AlertTopic: alertTopic, MaxPerTenant: 10, Readers: readers}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func shipAt(mmsi uint32, t int64, p [2]float64) VesselReport {
	return VesselReport{MMSI: mmsi, Time: t, MsgType: 1, HasPosition: true, Lat: p[0], Lon: p[1],
		Speed: 0.1, Course: UnknownFloat, Heading: UnknownInt, Status: 5, Turn: UnknownTurn, ShipType: UnknownInt,
		ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
}

// applyOn applies one batch to topic at its next offset.
func applyOn(t *testing.T, s *Store, topic string, b Batch) {
	t.Helper()
	next, _, err := s.NextOffset(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Topic, b.Next = topic, next+1
	if _, err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
}

func onBoard(t *testing.T, s *Store, mmsi uint32) []string {
	t.Helper()
	var got []string
	if err := s.BoxesOnBoard(mmsi, func(b OnBoard) bool {
		got = append(got, fmt.Sprintf("%s@%ds", b.Container, (b.Loaded-fenceT0)/int64(time.Second)))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestOnBoardFollowsShip: a box loaded onto a ship at its berth is inside
// the fences its ship is inside: it enters a fence the ship is already in
// at the load, enters and exits with the ship's transitions (no box is
// observed at AIS positions), is listed by /inside with the ship, and
// takes the ship's memberships back as its own when discharged.
func TestOnBoardFollowsShip(t *testing.T) {
	const ship = 412000001
	const box = "MSKU9070323"
	s := openOnBoardStore(t, vfs.NewMem(), 30*time.Second)
	for _, f := range []string{quayFence, approachFence} {
		id := "quay"
		if strings.Contains(f, `"approach"`) {
			id = "approach"
		}
		if _, err := s.PutFence("acme", id, portOwner, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	ships := func(ps ...VesselReport) { t.Helper(); applyOn(t, s, "port.ais", Batch{Vessels: ps}) }
	event := func(id string, code Code, ts int, reader string) {
		t.Helper()
		applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: id, Container: box, Code: code, Time: sec(ts),
			ReadPoint: reader, Location: "CNNGB-BLCT-QUAY", Source: "test"}}})
	}
	step := func(name string, wantAlerts []string, wantInside map[string][]string) {
		t.Helper()
		if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(wantAlerts, "\n") {
			t.Errorf("%s: alerts:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(wantAlerts, "\n"))
		}
		for _, f := range []string{"quay", "approach"} {
			if got := inside(t, s, "acme", f); strings.Join(got, " ") != strings.Join(wantInside[f], " ") {
				t.Errorf("%s: inside %s %v, want %v", name, f, got, wantInside[f])
			}
		}
	}

	ships(shipAt(ship, sec(0), berth1))
	ships(shipAt(ship, sec(60), berth1))
	step("ship at the berth", []string{"enter acme/quay vessel:412000001 0s 60s 29.940,121.865"},
		map[string][]string{"quay": {"vessel:412000001@0s"}})

	// Loaded onto a ship that is inside the quay fence: the box enters it
	// at the load, at the ship's position (its own reading at the crane
	// would have waited for the minimum dwell).
	event("load", CodeLOAD, 120, "BLCT-QC01-LOAD")
	if loc, err := s.ContainerLocation(box); err != nil || loc.Vessel != ship {
		t.Fatalf("location %+v %v: not on board %d", loc, err, ship)
	}
	if got := onBoard(t, s, ship); !slices.Equal(got, []string{box + "@120s"}) {
		t.Fatalf("on board %v", got)
	}
	step("loaded", []string{"enter acme/quay container:MSKU9070323 120s 0s 29.940,121.865"},
		map[string][]string{"quay": {"vessel:412000001@0s", "container:MSKU9070323@120s"}})

	// The ship sails to the approach: its transitions are the box's.
	ships(shipAt(ship, sec(3600), approach))
	ships(shipAt(ship, sec(3660), approach))
	step("sailed", []string{
		"enter acme/approach vessel:412000001 3600s 60s 29.970,121.920",
		"enter acme/approach container:MSKU9070323 3600s 60s 29.970,121.920",
		"exit acme/quay vessel:412000001 3600s 3600s 29.970,121.920",
		"exit acme/quay container:MSKU9070323 3600s 3480s 29.970,121.920",
	}, map[string][]string{"approach": {"vessel:412000001@3600s", "container:MSKU9070323@3600s"}})

	ships(shipAt(ship, sec(7000), berth1), shipAt(ship, sec(7060), berth1))
	step("back at the berth", []string{
		"exit acme/approach vessel:412000001 7000s 3400s 29.940,121.865",
		"exit acme/approach container:MSKU9070323 7000s 3400s 29.940,121.865",
		"enter acme/quay vessel:412000001 7000s 60s 29.940,121.865",
		"enter acme/quay container:MSKU9070323 7000s 60s 29.940,121.865",
	}, map[string][]string{"quay": {"vessel:412000001@7000s", "container:MSKU9070323@7000s"}})

	// Discharged: off the index; the box keeps the quay membership as its
	// own (no event: it has not moved) and no longer follows the ship.
	event("disc", CodeDISC, 7200, "BLCT-QC01-DISC")
	if got := onBoard(t, s, ship); len(got) != 0 {
		t.Fatalf("on board after the discharge: %v", got)
	}
	step("discharged", nil, map[string][]string{"quay": {"container:MSKU9070323@7000s", "vessel:412000001@7000s"}})
	ships(shipAt(ship, sec(9000), approach), shipAt(ship, sec(9060), approach))
	step("ship gone", []string{
		"enter acme/approach vessel:412000001 9000s 60s 29.970,121.920",
		"exit acme/quay vessel:412000001 9000s 2000s 29.970,121.920",
	}, map[string][]string{"quay": {"container:MSKU9070323@7000s"}, "approach": {"vessel:412000001@9000s"}})
	if m := s.FenceMetrics(); m.OnBoard != 4 {
		t.Errorf("on-board transitions %d, want 4", m.OnBoard)
	}
}

// TestOnBoardLogisticsOwner: a logistics owner's fence publishes the
// transitions of the boxes on board it may see, and /inside lists them by
// the caller's scope.
func TestOnBoardLogisticsOwner(t *testing.T) {
	const ship = 412000002
	mine, theirs := genBoxes(2)[0], genBoxes(2)[1]
	s := openOnBoardStore(t, vfs.NewMem(), 0)
	owner := FenceOwner{Role: RoleLogistics, Scope: Scope{Bookings: []string{"BKG-A"}}}
	if _, err := s.PutFence("acme", "approach", owner, []byte(approachFence)); err != nil {
		t.Fatal(err)
	}
	applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1)}})
	applyOn(t, s, "port.rfid", Batch{Events: []Event{
		{ID: "l1", Container: mine, Code: CodeLOAD, Time: sec(100), ReadPoint: "BLCT-QC01-LOAD", Source: "test", Refs: []Ref{{Kind: LinkBooking, Value: "BKG-A"}}},
		{ID: "l2", Container: theirs, Code: CodeLOAD, Time: sec(110), ReadPoint: "BLCT-QC01-LOAD", Source: "test", Refs: []Ref{{Kind: LinkBooking, Value: "BKG-B"}}},
	}})
	applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(1000), approach)}})
	want := []string{
		"enter acme/approach vessel:412000002 1000s 0s 29.970,121.920",
		"enter acme/approach container:" + mine + " 1000s 0s 29.970,121.920",
	}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := s.FenceMetrics(); m.Hidden != 1 {
		t.Errorf("hidden %d, want 1", m.Hidden)
	}
	if got, want := insideScoped(t, s, "acme", "approach", &owner.Scope), []string{"vessel:412000002@1000s", "container:" + mine + "@1000s"}; !slices.Equal(got, want) {
		t.Errorf("inside, scoped: %v, want %v", got, want)
	}
	if got := inside(t, s, "acme", "approach"); len(got) != 3 {
		t.Errorf("inside: %v, want the ship and both boxes", got)
	}
}

// TestOnBoardIndexExact applies random container histories — loads at
// berths where a ship lies and where none does, discharges, gate moves,
// readings elsewhere — in random order (late events re-derive the location
// record) with duplicates, and checks after every batch that the on-board
// index holds exactly one entry per location record naming a ship, and at
// the end that it names the ship a brute force derives from each box's
// newest event. The index built at Open from the records is the same.
func TestOnBoardIndexExact(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testOnBoardExact(t, seed) })
	}
}

func testOnBoardExact(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 17))
	mem := vfs.NewMem()
	s := openOnBoardStore(t, mem, 0)
	// A user fence makes every load and discharge hand memberships over.
	if _, err := s.PutFence("acme", "quay", portOwner, []byte(quayFence)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	// Ships lie at berths 1, 2 and 4 for the whole test; berth 3 is empty.
	berthShips := map[string]uint32{"nbct-berth-1": 412000011, "nbct-berth-2": 412000012, "nbct-berth-4": 412000014}
	berthPos := map[string][2]float64{"nbct-berth-1": berth1, "nbct-berth-2": {29.9399, 121.8739}, "nbct-berth-4": {29.9404, 121.8924}}
	var ps []VesselReport
	for b, m := range berthShips {
		ps = append(ps, shipAt(m, t0-int64(time.Hour), berthPos[b]))
	}
	applyOn(t, s, "port.ais", Batch{Vessels: ps})

	boxes := genBoxes(15)
	where := []struct {
		code   Code
		reader string
	}{
		{CodeLOAD, "BLCT-QC01-LOAD"}, {CodeLOAD, "BLCT-QC02-LOAD"}, {CodeLOAD, "BLCT-QC04-LOAD"}, {CodeLOAD, "BLCT-QC05-LOAD"},
		{CodeLOAD, "BLCT-QC01-LOAD"}, {CodeLOAD, "BLCT-QC05-LOAD"},
		{CodeDISC, "BLCT-QC01-DISC"}, {CodeDISC, "BLCT-QC06-DISC"},
		{CodeGTIN, "BLCT-GATE-L1"}, {CodeGTOT, "BLCT-GATE-L3"}, {CodeINSP, "YS-01"}, {CodeLOAD, "NOPE-1"},
	}
	var all []Event
	for i := range 400 {
		w := where[rng.IntN(len(where))]
		all = append(all, Event{ID: fmt.Sprintf("e%d", i), Container: boxes[rng.IntN(len(boxes))], Code: w.code,
			Time: t0 + rng.Int64N(72)*int64(time.Hour), ReadPoint: w.reader, Location: "CNNGB-BLCT-QUAY", Source: "test"})
	}
	// brute derives the index from the events applied so far: a box whose
	// newest event (history order) is a load at a berth where a ship lies
	// is on board that ship.
	brute := func(applied []Event) (want []string, loads int) {
		hist := bruteHistory(applied)
		for _, id := range boxes {
			evs := hist[id]
			if len(evs) == 0 || evs[len(evs)-1].Code != CodeLOAD {
				continue
			}
			e := evs[len(evs)-1]
			loads++
			if p, ok := s.PlaceOf(e.ReadPoint, e.Location); ok && berthShips[p.ID] != 0 {
				want = append(want, fmt.Sprintf("%d/%s@%d", berthShips[p.ID], id, e.Time))
			}
		}
		slices.Sort(want)
		return want, loads
	}
	all2 := func() []string {
		var got []string
		for _, m := range berthShips {
			if err := s.BoxesOnBoard(m, func(b OnBoard) bool {
				got = append(got, fmt.Sprintf("%d/%s@%d", m, b.Container, b.Loaded))
				return true
			}); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(got)
		return got
	}
	var applied []Event
	check := func(when string) {
		t.Helper()
		if got, want := all2(), func() []string { w, _ := brute(applied); return w }(); !slices.Equal(got, want) {
			t.Fatalf("%s: on board:\n got %v\nwant %v", when, got, want)
		}
		want := map[string]bool{}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLocation}, UpperBound: []byte{prefixLocation + 1}})
		if err != nil {
			t.Fatal(err)
		}
		var rec locationRecord
		for ok := it.First(); ok; ok = it.Next() {
			if err := s.loc.decodeLocationRecord(it.Value(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.ship() != 0 {
				want[fmt.Sprintf("%d/%s@%d", rec.ship(), it.Key()[1:], rec.loaded)] = true
			}
		}
		it.Close()
		got := map[string]bool{}
		for _, m := range berthShips {
			if err := s.BoxesOnBoard(m, func(b OnBoard) bool {
				got[fmt.Sprintf("%d/%s@%d", m, b.Container, b.Loaded)] = true
				return true
			}); err != nil {
				t.Fatal(err)
			}
		}
		// Nothing else in the family but the marker.
		it, _ = s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixOnBoard}, UpperBound: []byte{prefixOnBoard + 1}})
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			if !bytes.Equal(it.Key(), []byte{prefixOnBoard}) {
				n++
			}
		}
		it.Close()
		if len(got) != len(want) || n != len(want) {
			t.Fatalf("%s: index %v (%d keys), records %v", when, got, n, want)
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("%s: index %v, records %v", when, got, want)
			}
		}
		// The loads waiting for a ship are exactly the boxes whose newest
		// event is a load at a berth where no ship lies (berth 3).
		var wantPending, gotPending []string
		for id, evs := range bruteHistory(applied) {
			if e := evs[len(evs)-1]; e.Code == CodeLOAD {
				if p, ok := s.PlaceOf(e.ReadPoint, e.Location); ok && p.Kind == KindBerth && berthShips[p.ID] == 0 {
					wantPending = append(wantPending, string(pendingLoadKey(nil, p.ID, e.Time, id)))
				}
			}
		}
		it, _ = s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPendingLoad, 0}, UpperBound: []byte{prefixPendingLoad + 1}})
		for ok := it.First(); ok; ok = it.Next() {
			gotPending = append(gotPending, string(it.Key()))
		}
		it.Close()
		slices.Sort(wantPending)
		if !slices.Equal(gotPending, wantPending) {
			t.Fatalf("%s: pending loads\n got %q\nwant %q", when, gotPending, wantPending)
		}
		if m := s.FenceMetrics(); m.PendingLoads != int64(len(wantPending)) {
			t.Fatalf("%s: %d pending loads counted, %d in the family", when, m.PendingLoads, len(wantPending))
		}
		// A box on board has no membership of its own: /inside lists it
		// once, with its ship.
		seen := map[string]bool{}
		for _, m := range inside(t, s, "acme", "quay") {
			obj := m[:strings.IndexByte(m, '@')]
			if seen[obj] {
				t.Fatalf("%s: %s listed twice inside", when, obj)
			}
			seen[obj] = true
		}
	}
	order := rng.Perm(len(all))
	var batch []Event
	for i, j := range order {
		batch = append(batch, all[j])
		if rng.IntN(6) == 0 {
			batch = append(batch, all[order[rng.IntN(i+1)]])
		}
		if rng.IntN(15) == 0 || i == len(order)-1 {
			applyOn(t, s, "port.rfid", Batch{Events: batch})
			applied = append(applied, batch...)
			batch = nil
			check(fmt.Sprintf("after event %d", i))
		}
	}
	want, loads := brute(all)
	if len(want) == 0 || loads == len(want) {
		t.Fatalf("%d boxes on board of %d whose newest event is a load: the test does not cover both", len(want), loads)
	}

	// Rebuilt at Open from the records when the families are missing.
	if err := s.db.DeleteRange([]byte{prefixOnBoard}, []byte{prefixPendingLoad + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openOnBoardStore(t, mem, 0)
	if got := all2(); !slices.Equal(got, want) {
		t.Fatalf("rebuilt at Open:\n got %v\nwant %v", got, want)
	}
	check("rebuilt at Open")
}

// TestOnBoardBackfillDropsOwnMemberships: in a database written before the
// on-board index, a box on board may keep a membership of its own; the
// index built at Open drops it, so /inside lists the box once, with its
// ship.
func TestOnBoardBackfillDropsOwnMemberships(t *testing.T) {
	const ship = 412000009
	const box = "MSKU9070323"
	fs := vfs.NewMem()
	s := openOnBoardStore(t, fs, 30*time.Second)
	if _, err := s.PutFence("acme", "quay", portOwner, []byte(quayFence)); err != nil {
		t.Fatal(err)
	}
	applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1)}})
	applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: "load", Container: box, Code: CodeLOAD, Time: sec(120),
		ReadPoint: "BLCT-QC01-LOAD", Location: "CNNGB-BLCT-QUAY", Source: "test"}}})
	want := "vessel:412000009@0s container:MSKU9070323@120s"
	if got := strings.Join(inside(t, s, "acme", "quay"), " "); got != want {
		t.Fatalf("inside %q, want %q", got, want)
	}
	// As written before the index: the box's own membership, no index.
	var fk string
	for k := range s.fence.members[vesselObj(ship)] {
		fk = k
	}
	v, closer, err := s.db.Get(memberKey(nil, fk, vesselObj(ship)))
	if err != nil {
		t.Fatal(err)
	}
	own := memberKey(nil, fk, string(ObjContainer)+box)
	if err := s.db.Set(own, bytes.Clone(v), nil); err != nil {
		t.Fatal(err)
	}
	closer.Close()
	if err := s.db.DeleteRange([]byte{prefixOnBoard}, []byte{prefixOnBoard + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openOnBoardStore(t, fs, 30*time.Second)
	if got := strings.Join(inside(t, s, "acme", "quay"), " "); got != want {
		t.Errorf("inside after the rebuild %q, want %q", got, want)
	}
	if _, closer, err := s.db.Get(own); err == nil {
		closer.Close()
		t.Errorf("the box's own membership is still stored")
	}
}
