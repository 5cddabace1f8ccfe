package truck_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/truck"
)

func trackTimes(t *testing.T, s *portstate.State, plate string, from, to int64) []string {
	t.Helper()
	var out []string
	err := s.Trucks.Track(plate, from, to, 100, func(p *truck.TruckPoint) error {
		out = append(out, fmt.Sprintf("%d:%v,%v%s", p.Time, p.Lat, p.Lon, strings.TrimSuffix(" "+p.Container, " ")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTruckStateAndTrack(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	res := applyTruckBatch(t, s,
		report(plateA, 100, 29.90, 121.80, ""),
		report(plateA, 100, 29.90, 121.80, ""), // the same report again
		report(plateA, 300, 29.93, 121.86, ""),
		report(plateA, 200, 29.91, 121.83, ""), // late: track only
	)
	if res.TruckReports != 3 || res.TruckDuplicates != 1 {
		t.Fatalf("apply result %+v", res)
	}
	tr, err := s.Trucks.Truck(plateA)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Lat != 29.93 || tr.Lon != 121.86 || tr.Time != 300 || tr.LastSeen != 300 || tr.Reports != 3 || tr.SpeedKmh != 32.5 || tr.Heading != 90 {
		t.Fatalf("truck %+v", tr)
	}
	// Duplicates across batches: of the current point and of a late one.
	res = applyTruckBatch(t, s, report(plateA, 300, 29.93, 121.86, ""), report(plateA, 200, 29.91, 121.83, ""))
	if res.TruckReports != 0 || res.TruckDuplicates != 2 {
		t.Fatalf("re-sent reports: %+v", res)
	}
	// A late report older than every point, and a correction of a late one.
	c := report(plateA, 200, 29.915, 121.83, "")
	res = applyTruckBatch(t, s, report(plateA, 50, 29.80, 121.70, ""), c)
	if res.TruckReports != 2 || res.TruckDuplicates != 0 {
		t.Fatalf("late reports: %+v", res)
	}
	if got, want := strings.Join(trackTimes(t, s, plateA, 0, 0), " "), "50:29.8,121.7 100:29.9,121.8 200:29.915,121.83 300:29.93,121.86"; got != want {
		t.Fatalf("track %s, want %s", got, want)
	}
	if got := trackTimes(t, s, plateA, 100, 300); len(got) != 2 || !strings.HasPrefix(got[0], "100:") {
		t.Fatalf("track window %v", got)
	}
	tr, _ = s.Trucks.Truck(plateA)
	if tr.Time != 300 || tr.Lat != 29.93 {
		t.Fatalf("late reports moved the truck: %+v", tr)
	}

	// A prefix plate is another truck: keys are terminated.
	short := "浙B1234"
	applyTruckBatch(t, s, report(short, 400, 29.95, 121.90, ""), report(plateB, 400, 30.10, 122.10, ""))
	if got := trackTimes(t, s, short, 0, 0); len(got) != 1 {
		t.Fatalf("track of %s: %v", short, got)
	}
	if got := trackTimes(t, s, plateA, 0, 0); len(got) != 4 {
		t.Fatalf("track of %s after %s: %v", plateA, short, got)
	}

	near := func() []string {
		t.Helper()
		var out []string
		err := s.Trucks.Near(29.93, 121.86, 5000, 0, func(tr *truck.Truck, d float64) bool {
			out = append(out, fmt.Sprintf("%s@%.0f", tr.Plate, d))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := strings.Join(near(), " "), plateA+"@0 "+short+"@4450"; got != want {
		t.Fatalf("near: %s, want %s", got, want)
	}
	// The index follows moves, and is rebuilt at state.Open.
	applyTruckBatch(t, s, report(short, 500, 30.5, 122.5, ""))
	if got := near(); len(got) != 1 {
		t.Fatalf("near after move: %v", got)
	}
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	if got, want := strings.Join(near(), " "), plateA+"@0"; got != want {
		t.Fatalf("near after reopen: %s, want %s", got, want)
	}
	var plates []string
	if err := s.Trucks.Each(func(tr *truck.Truck) error { plates = append(plates, tr.Plate); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(plates, " "), short+" "+plateA+" "+plateB; got != want {
		t.Fatalf("EachTruck: %s, want %s", got, want)
	}
	if _, err := s.Trucks.Truck("浙B00000"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown truck: %v", err)
	}
	if _, err := s.Trucks.Truck("浙b12345"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("non-canonical plate: %v", err)
	}
}

func TestContainerOnTruck(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	pos := func(id string) string {
		t.Helper()
		lat, lon, src, tm, ok := s.Trucks.ContainerPosition(id)
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%v,%v %s %d", lat, lon, src, tm)
	}
	// Gated out at 100, then on the road.
	if _, err := s.Apply(&state.Batch{Topic: "port.rfid", Next: 1, Events: []state.Event{ev("e1", boxB, state.CodeGTOT, 100, "GATE")}}); err != nil {
		t.Fatal(err)
	}
	if got := pos(boxB); got != "-" {
		t.Fatalf("before any truck: %s", got)
	}
	applyTruckBatch(t, s, report(plateA, 100, 29.90, 121.80, boxB)) // same time as the gate-out: the event wins
	if got := pos(boxB); got != "-" {
		t.Fatalf("truck report not newer than the event: %s", got)
	}
	applyTruckBatch(t, s, report(plateA, 110, 29.91, 121.81, boxB), report(plateA, 120, 29.92, 121.82, boxB))
	if got, want := pos(boxB), "29.92,121.82 truck:"+plateA+" 120"; got != want {
		t.Fatalf("riding: %s, want %s", got, want)
	}
	tr, _ := s.Trucks.Truck(plateA)
	if tr.Container != boxB || tr.ContainerSince != 100 {
		t.Fatalf("truck %+v", tr)
	}
	// A late report without the box does not end the ride.
	applyTruckBatch(t, s, report(plateA, 105, 29.905, 121.805, ""))
	if got := pos(boxB); !strings.HasSuffix(got, " 120") {
		t.Fatalf("after a late report: %s", got)
	}
	// A box never seen by RFID rides too.
	applyTruckBatch(t, s, report(plateB, 130, 30.0, 122.0, boxA))
	if got, want := pos(boxA), "30,122 truck:"+plateB+" 130"; got != want {
		t.Fatalf("box without events: %s, want %s", got, want)
	}
	// A later gate-in ends the ride for the position before the truck
	// reports again; the link itself stays until the truck drops the box.
	if _, err := s.Apply(&state.Batch{Topic: "port.rfid", Next: 2, Events: []state.Event{ev("e2", boxB, state.CodeGTIN, 125, "YARD")}}); err != nil {
		t.Fatal(err)
	}
	if got := pos(boxB); got != "-" {
		t.Fatalf("after gate-in: %s", got)
	}
	// Reports still naming the box after the event: the truck is newer.
	applyTruckBatch(t, s, report(plateA, 140, 29.95, 121.85, boxB))
	if got := pos(boxB); !strings.HasSuffix(got, " 140") {
		t.Fatalf("truck newer than the event: %s", got)
	}
	// The truck drops the box: ride over.
	applyTruckBatch(t, s, report(plateA, 150, 29.96, 121.86, ""))
	if got := pos(boxB); got != "-" {
		t.Fatalf("after drop: %s", got)
	}
	tr, _ = s.Trucks.Truck(plateA)
	if tr.Container != "" || tr.ContainerSince != 0 {
		t.Fatalf("truck after drop %+v", tr)
	}
	// The track keeps what each point carried.
	if got := trackTimes(t, s, plateA, 140, 151); len(got) != 2 || !strings.HasSuffix(got[0], boxB) || strings.HasSuffix(got[1], boxB) {
		t.Fatalf("track %v", got)
	}

	// Two trucks name one box: the newer report wins; an older one does
	// not steal it, and the loser dropping the box ends nothing.
	applyTruckBatch(t, s, report(plateA, 160, 29.97, 121.87, boxA)) // newer than plateB's 130
	if got := pos(boxA); !strings.Contains(got, plateA) {
		t.Fatalf("newer truck: %s", got)
	}
	applyTruckBatch(t, s, report(plateB, 135, 30.01, 122.01, boxA)) // plateB's own newest, older than 160
	if got := pos(boxA); !strings.Contains(got, plateA) {
		t.Fatalf("older claim took the box: %s", got)
	}
	applyTruckBatch(t, s, report(plateB, 170, 30.02, 122.02, ""))
	if got := pos(boxA); !strings.Contains(got, plateA) || !strings.HasSuffix(got, " 160") {
		t.Fatalf("the other truck's drop ended the ride: %s", got)
	}
	// Switching boxes in one batch ends the first ride and starts another;
	// survives a reopen.
	applyTruckBatch(t, s, report(plateA, 180, 29.98, 121.88, boxB), report(plateA, 190, 29.99, 121.89, boxB))
	if got := pos(boxA); got != "-" {
		t.Fatalf("switched box still rides: %s", got)
	}
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	if got, want := pos(boxB), "29.99,121.89 truck:"+plateA+" 190"; got != want {
		t.Fatalf("after reopen: %s, want %s", got, want)
	}
	tr, _ = s.Trucks.Truck(plateA)
	if tr.Container != boxB || tr.ContainerSince != 180 {
		t.Fatalf("truck after switch %+v", tr)
	}
	if got := pos("CSQU305438"); got != "-" {
		t.Fatalf("short id: %s", got)
	}
}

func TestInvalidReportFailsBatch(t *testing.T) {
	good := report(plateA, 1, 29.9, 121.8, boxA)
	// An invalid report fails the batch before anything is written.
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	bad := good
	bad.Lat = 95
	if _, err := s.Apply(&state.Batch{Topic: "port.transport", Next: 1, Trucks: []state.TruckReport{good, bad}}); err == nil {
		t.Fatal("invalid batch applied")
	}
	if _, err := s.Trucks.Truck(plateA); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("half a batch applied: %v", err)
	}
}

func TestTruckTrackRetention(t *testing.T) {
	s := open(t, state.Options{Dir: "db", FS: vfs.NewMem(), TrackRetention: 100})
	defer s.Close()
	for i, tm := range []int64{10, 50, 120, 200} {
		r := state.TruckReport{Plate: "浙B12345", Time: tm, Lat: 29.93, Lon: 121.86 + float64(i)/1000, SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt}
		if _, err := s.Apply(&state.Batch{Topic: "port.transport", Next: int64(i + 1), Trucks: []state.TruckReport{r}}); err != nil {
			t.Fatal(err)
		}
	}
	var times []int64
	if err := s.Trucks.Track("浙B12345", 0, 0, 100, func(p *truck.TruckPoint) error { times = append(times, p.Time); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[0] != 120 || times[1] != 200 {
		t.Fatalf("truck track after retention %v, want [120 200]", times)
	}
}

// TestTruckTableMatchesPebble applies random truck reports (moves, late
// reports, rides starting and ending, duplicates) and checks after every
// batch that the in-memory table answers exactly what Pebble holds, for
// point lookups and radius queries (against a brute-force scan of Pebble),
// and again after a reopen rebuilt the table.
func TestTruckTableMatchesPebble(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	rng := rand.New(rand.NewPCG(7, 7))
	plates := make([]string, 300)
	for i := range plates {
		plates[i] = fmt.Sprintf("浙B%05d", i)
	}
	boxes := []string{"", "", "MSKU9070323", "CSQU3054383", "APZU4812090"}
	now := int64(1_000_000)
	for batch := range 40 {
		var rs []state.TruckReport
		for range 1 + rng.IntN(60) {
			now += int64(rng.IntN(5))
			tm := now
			if rng.IntN(8) == 0 {
				tm -= int64(rng.IntN(50)) // late
			}
			r := state.TruckReport{
				Plate: plates[rng.IntN(len(plates))], Time: tm,
				Lat: 29.90 + rng.Float64()*0.05, Lon: 121.80 + rng.Float64()*0.08,
				SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt, Container: boxes[rng.IntN(len(boxes))],
			}
			if rng.IntN(2) == 0 {
				r.SpeedKmh, r.Heading = float64(rng.IntN(900))/10, rng.IntN(360)
			}
			rs = append(rs, r)
			if rng.IntN(10) == 0 {
				rs = append(rs, r) // duplicate
			}
		}
		applyTruckBatch(t, s, rs...)
		checkTruckTable(t, s, fmt.Sprintf("after batch %d", batch))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMem(t, fs)
	checkTruckTable(t, s, "after reopen")
	if _, err := s.Trucks.Truck("浙B99999"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown plate: %v", err)
	}
}

func checkTruckTable(t *testing.T, s *portstate.State, when string) {
	t.Helper()
	var all []truck.Truck
	if err := s.Trucks.Each(func(tr *truck.Truck) error { all = append(all, *tr); return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Trucks.IndexLen() != len(all) {
		t.Fatalf("%s: table indexes %d trucks, Pebble holds %d", when, s.Trucks.IndexLen(), len(all))
	}
	for _, want := range all {
		got, err := s.Trucks.Truck(want.Plate)
		if err != nil || got != want {
			t.Fatalf("%s: Truck(%s) = %+v, %v\nPebble holds %+v", when, want.Plate, got, err, want)
		}
	}
	center := geo.LatLng{Lat: 29.925, Lng: 121.84}
	type hit struct {
		plate string
		d     float64
	}
	var brute []hit
	for _, tr := range all {
		if d := geo.DistanceMeters(center, geo.LatLng{Lat: tr.Lat, Lng: tr.Lon}); d <= 2500 {
			brute = append(brute, hit{tr.Plate, d})
		}
	}
	slices.SortFunc(brute, func(a, b hit) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		if a.plate < b.plate {
			return -1
		}
		return 1
	})
	var got []hit
	err := s.Trucks.Near(center.Lat, center.Lng, 2500, 0, func(tr *truck.Truck, d float64) bool {
		got = append(got, hit{tr.Plate, d})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(brute) {
		t.Fatalf("%s: TrucksNear found %d, brute force %d", when, len(got), len(brute))
	}
	for i := range got {
		// Ties at one distance may come in another order (row numbers).
		if got[i].d != brute[i].d {
			t.Fatalf("%s: hit %d at %v m, want %v m (%s)", when, i, got[i].d, brute[i].d, brute[i].plate)
		}
	}
}
