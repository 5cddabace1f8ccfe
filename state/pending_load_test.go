package state

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestLoadBeforeShip: a box loaded at a berth before any AIS position of
// its ship is applied waits for the ship; when the ship's positions come
// in (late, covering the load), the next batch finds it: the box goes on
// board, enters the fences the ship is inside at the load, and follows the
// ship from then on. The wait survives a restart.
func TestLoadBeforeShip(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "live"
		if restart {
			name = "restart"
		}
		t.Run(name, func(t *testing.T) { testLoadBeforeShip(t, restart) })
	}
}

func testLoadBeforeShip(t *testing.T, restart bool) {
	const ship = 412000003
	const box = "MSKU9070323"
	fs := vfs.NewMem()
	s := openOnBoardStore(t, fs, 30*time.Second)
	if _, err := s.PutFence("acme", "quay", portOwner, []byte(quayFence)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFence("acme", "approach", portOwner, []byte(approachFence)); err != nil {
		t.Fatal(err)
	}
	ships := func(ps ...VesselReport) { t.Helper(); applyOn(t, s, "port.ais", Batch{Vessels: ps}) }
	pending := func(want int64, wantResolved uint64) {
		t.Helper()
		if m := s.FenceMetrics(); m.PendingLoads != want || m.LoadsResolved != wantResolved {
			t.Errorf("pending loads %d, resolved %d; want %d, %d", m.PendingLoads, m.LoadsResolved, want, wantResolved)
		}
	}
	expect := func(step string, want []string) {
		t.Helper()
		wantAlerts(t, s, step, want...)
	}

	applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: "load", Container: box, Code: CodeLOAD, Time: sec(120),
		ReadPoint: "BLCT-QC01-LOAD", Location: "CNNGB-BLCT-QUAY", Source: "test"}}})
	if got := onBoard(t, s, ship); len(got) != 0 {
		t.Fatalf("on board before any AIS: %v", got)
	}
	pending(1, 0)
	expect("loaded, no ship", nil)

	// The ship's positions from before the load arrive late. This batch
	// places the ship at the berth; the next one looks for the load's ship.
	ships(shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1))
	expect("ship at the berth", []string{"enter acme/quay vessel:412000003 0s 60s 29.940,121.865"})
	if got := onBoard(t, s, ship); len(got) != 0 {
		t.Fatalf("on board in the batch that placed the ship: %v", got)
	}
	if restart {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openOnBoardStore(t, fs, 30*time.Second)
		pending(1, 0)
	}
	ships(shipAt(ship, sec(180), berth1))
	if got := onBoard(t, s, ship); !slices.Equal(got, []string{box + "@120s"}) {
		t.Fatalf("on board after the ship's positions: %v", got)
	}
	pending(0, 1)
	expect("found its ship", []string{"enter acme/quay container:MSKU9070323 120s 0s 29.940,121.865"})
	if got := inside(t, s, "acme", "quay"); strings.Join(got, " ") != "vessel:412000003@0s container:MSKU9070323@120s" {
		t.Errorf("inside quay: %v", got)
	}

	// From now on the box follows the ship.
	ships(shipAt(ship, sec(3600), approach), shipAt(ship, sec(3660), approach))
	expect("sailed", []string{
		"enter acme/approach vessel:412000003 3600s 60s 29.970,121.920",
		"enter acme/approach container:MSKU9070323 3600s 60s 29.970,121.920",
		"exit acme/quay vessel:412000003 3600s 3600s 29.970,121.920",
		"exit acme/quay container:MSKU9070323 3600s 3480s 29.970,121.920",
	})
}

// TestLoadBeforeShipMovedOn: a waiting load whose box has a newer event
// before its ship is found stops waiting, and nothing is published for it;
// a load whose ship is not found within pendingLoadMaxAge of the ships'
// positions at the berth stops waiting too.
func TestLoadBeforeShipMovedOn(t *testing.T) {
	const ship = 412000004
	const box, old = "MSKU9070323", "CSQU3054383"
	s := openOnBoardStore(t, vfs.NewMem(), 30*time.Second)
	if _, err := s.PutFence("acme", "quay", portOwner, []byte(quayFence)); err != nil {
		t.Fatal(err)
	}
	ev := func(id, c string, code Code, ts int64, reader string) Event {
		return Event{ID: id, Container: c, Code: code, Time: ts, ReadPoint: reader, Location: "CNNGB-BLCT-QUAY", Source: "test"}
	}
	applyOn(t, s, "port.rfid", Batch{Events: []Event{
		ev("load", box, CodeLOAD, sec(120), "BLCT-QC01-LOAD"),
		ev("old-load", old, CodeLOAD, sec(0)-3*pendingLoadMaxAge, "BLCT-QC01-LOAD"),
	}})
	if m := s.FenceMetrics(); m.PendingLoads != 2 {
		t.Fatalf("pending loads %d, want 2", m.PendingLoads)
	}
	// Discharged again before its ship's AIS shows up.
	applyOn(t, s, "port.rfid", Batch{Events: []Event{ev("disc", box, CodeDISC, sec(240), "BLCT-QC01-DISC")}})
	if m := s.FenceMetrics(); m.PendingLoads != 1 {
		t.Fatalf("pending loads after the discharge %d, want 1", m.PendingLoads)
	}
	applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1)}})
	alerts(t, s) // the ship's own enter
	applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(180), berth1)}})
	if got := onBoard(t, s, ship); len(got) != 0 {
		t.Errorf("on board: %v", got)
	}
	if got := alerts(t, s); len(got) != 0 {
		t.Errorf("alerts: %v", got)
	}
	if m := s.FenceMetrics(); m.PendingLoads != 0 || m.LoadsResolved != 0 {
		t.Errorf("pending loads %d, resolved %d; want 0, 0", m.PendingLoads, m.LoadsResolved)
	}
}

// TestLoadBeforeShipReview covers the orders of arrival around a waiting
// load: positions older and newer than pendingLoadMaxAge in one backlog,
// a redelivered and a late event of the box in the batch that looks, and
// the ship sailing in that same batch.
func TestLoadBeforeShipReview(t *testing.T) {
	const box = "MSKU9070323"
	load := Event{ID: "load", Container: box, Code: CodeLOAD, Time: sec(120), ReadPoint: "BLCT-QC01-LOAD", Location: "CNNGB-BLCT-QUAY", Source: "test"}
	setup := func(t *testing.T) *Store {
		s := openOnBoardStore(t, vfs.NewMem(), 30*time.Second)
		for id, f := range map[string]string{"quay": quayFence, "approach": approachFence} {
			if _, err := s.PutFence("acme", id, portOwner, []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		applyOn(t, s, "port.rfid", Batch{Events: []Event{load}})
		return s
	}
	resolved := func(t *testing.T, s *Store, ship uint32, want uint64) {
		t.Helper()
		if m := s.FenceMetrics(); m.LoadsResolved != want || m.PendingLoads != int64(1-want) {
			t.Fatalf("resolved %d, pending %d; want %d, %d", m.LoadsResolved, m.PendingLoads, want, 1-want)
		}
		got := onBoard(t, s, ship)
		if want == 1 && !slices.Equal(got, []string{box + "@120s"}) || want == 0 && len(got) != 0 {
			t.Fatalf("on board %v", got)
		}
	}

	t.Run("backlog spanning the age limit", func(t *testing.T) {
		const ship = 412000005
		s := setup(t)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1),
			shipAt(ship, sec(120)+pendingLoadMaxAge+int64(time.Hour), berth1)}})
		applyOn(t, s, "port.ais", Batch{})
		resolved(t, s, ship, 1)
	})

	t.Run("redelivered and late events", func(t *testing.T) {
		const ship = 412000006
		s := setup(t)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1)}})
		// A late gate-in rewrites the record (still a load with no ship):
		// the look waits for the next batch.
		late := Event{ID: "gate-in", Container: box, Code: CodeGTIN, Time: sec(30), ReadPoint: "BLCT-GATE-L1", Source: "test"}
		applyOn(t, s, "port.rfid", Batch{Events: []Event{load, late}})
		resolved(t, s, ship, 0)
		// A redelivery alone rewrites nothing: this batch finds the ship.
		applyOn(t, s, "port.rfid", Batch{Events: []Event{load}})
		resolved(t, s, ship, 1)
	})

	t.Run("dropped as too old, then moves on", func(t *testing.T) {
		const ship = 412000008
		s := setup(t)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(120)+pendingLoadMaxAge+int64(time.Hour), berth1)}})
		applyOn(t, s, "port.ais", Batch{})
		if m := s.FenceMetrics(); m.PendingLoads != 0 || m.LoadsResolved != 0 {
			t.Fatalf("pending loads %d, resolved %d after the drop, want 0, 0", m.PendingLoads, m.LoadsResolved)
		}
		// Its record still ends with the load: its next event must not
		// count a wait that is no longer there.
		applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: "gate-in", Container: box, Code: CodeGTIN,
			Time: sec(120) + 2*pendingLoadMaxAge, ReadPoint: "BLCT-GATE-L1", Source: "test"}}})
		if m := s.FenceMetrics(); m.PendingLoads != 0 {
			t.Fatalf("pending loads %d after the box moved on, want 0", m.PendingLoads)
		}
		// A later load at the same berth, after that ship left, still
		// finds its own ship.
		const other = "CSQU3054383"
		second := sec(120) + 3*pendingLoadMaxAge
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, second-int64(time.Hour), approach)}})
		applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: "load-2", Container: other, Code: CodeLOAD, Time: second,
			ReadPoint: "BLCT-QC01-LOAD", Location: "CNNGB-BLCT-QUAY", Source: "test"}}})
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship+1, second-int64(time.Minute), berth1)}})
		applyOn(t, s, "port.ais", Batch{})
		if got := onBoard(t, s, ship+1); len(got) != 1 || !strings.HasPrefix(got[0], other) {
			t.Fatalf("on board the second ship: %v", got)
		}
	})

	t.Run("found late, after the ship's enter", func(t *testing.T) {
		// The ship's positions arrive late and all at once: at the berth
		// at the load, then out to the approach. The box, found on board
		// afterwards, enters the approach when the ship did, not at the
		// load.
		const ship = 412000010
		s := setup(t)
		alerts(t, s)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1),
			shipAt(ship, sec(3600), approach), shipAt(ship, sec(3660), approach)}})
		alerts(t, s) // the ship's own
		applyOn(t, s, "port.ais", Batch{})
		resolved(t, s, ship, 1)
		wantAlerts(t, s, "found late", "enter acme/approach container:MSKU9070323 3600s 0s 29.970,121.920")
	})

	t.Run("ship sails in the batch that finds it", func(t *testing.T) {
		const ship = 412000007
		s := setup(t)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(0), berth1), shipAt(ship, sec(60), berth1)}})
		alerts(t, s)
		applyOn(t, s, "port.ais", Batch{Vessels: []VesselReport{shipAt(ship, sec(3600), approach), shipAt(ship, sec(3660), approach)}})
		resolved(t, s, ship, 1)
		want := []string{
			"enter acme/quay container:MSKU9070323 120s 0s 29.940,121.865",
			"enter acme/approach vessel:412000007 3600s 60s 29.970,121.920",
			"enter acme/approach container:MSKU9070323 3600s 60s 29.970,121.920",
			"exit acme/quay vessel:412000007 3600s 3600s 29.970,121.920",
			"exit acme/quay container:MSKU9070323 3600s 3480s 29.970,121.920",
		}
		wantAlerts(t, s, "sailed", want...)
		if got := inside(t, s, "acme", "approach"); strings.Join(got, " ") != "vessel:412000007@3600s container:MSKU9070323@3600s" {
			t.Errorf("inside approach: %v", got)
		}
	})
}

// TestPendingLoadsRebuilt: the family is built anew at Open when its
// marker names other berths than the port model's (the port model
// changed), so the entries match the records again.
func TestPendingLoadsRebuilt(t *testing.T) {
	fs := vfs.NewMem()
	s := openOnBoardStore(t, fs, 30*time.Second)
	applyOn(t, s, "port.rfid", Batch{Events: []Event{{ID: "load", Container: "MSKU9070323", Code: CodeLOAD, Time: sec(120),
		ReadPoint: "BLCT-QC01-LOAD", Location: "CNNGB-BLCT-QUAY", Source: "test"}}})
	// An entry the records do not back, under a marker of other berths.
	if err := s.db.Set(pendingLoadKey(nil, "nbct-berth-2", sec(5), "CSQU3054383"), []byte{valueV1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set([]byte{prefixPendingLoad}, []byte{valueV1, 1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openOnBoardStore(t, fs, 30*time.Second)
	if m := s.FenceMetrics(); m.PendingLoads != 1 {
		t.Errorf("pending loads %d after the rebuild, want 1", m.PendingLoads)
	}
	v, closer, err := s.db.Get([]byte{prefixPendingLoad})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !bytes.Equal(v, s.berthDigest()) {
		t.Errorf("marker %x, want the berths' digest", v)
	}
}
