package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	plateA = "浙B12345"
	plateB = "浙B67890"
)

func truck(plate string, t int64, lat, lon float64, container string) TruckReport {
	return TruckReport{Plate: plate, Time: t, Lat: lat, Lon: lon, SpeedKmh: 32.5, Heading: 90, Container: container}
}

// applyTruckBatch applies one batch of truck reports at the next offset.
func applyTruckBatch(t *testing.T, s *Store, rs ...TruckReport) ApplyResult {
	t.Helper()
	next, _, err := s.NextOffset("port.transport", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(&Batch{Topic: "port.transport", Next: next + 1, Trucks: rs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func trackTimes(t *testing.T, s *Store, plate string, from, to int64) []string {
	t.Helper()
	var out []string
	err := s.TruckTrack(plate, from, to, 100, func(p *TruckPoint) error {
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
		truck(plateA, 100, 29.90, 121.80, ""),
		truck(plateA, 100, 29.90, 121.80, ""), // the same report again
		truck(plateA, 300, 29.93, 121.86, ""),
		truck(plateA, 200, 29.91, 121.83, ""), // late: track only
	)
	if res.TruckReports != 3 || res.TruckDuplicates != 1 {
		t.Fatalf("apply result %+v", res)
	}
	tr, err := s.Truck(plateA)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Lat != 29.93 || tr.Lon != 121.86 || tr.Time != 300 || tr.LastSeen != 300 || tr.Reports != 3 || tr.SpeedKmh != 32.5 || tr.Heading != 90 {
		t.Fatalf("truck %+v", tr)
	}
	// Duplicates across batches: of the current point and of a late one.
	res = applyTruckBatch(t, s, truck(plateA, 300, 29.93, 121.86, ""), truck(plateA, 200, 29.91, 121.83, ""))
	if res.TruckReports != 0 || res.TruckDuplicates != 2 {
		t.Fatalf("re-sent reports: %+v", res)
	}
	// A late report older than every point, and a correction of a late one.
	c := truck(plateA, 200, 29.915, 121.83, "")
	res = applyTruckBatch(t, s, truck(plateA, 50, 29.80, 121.70, ""), c)
	if res.TruckReports != 2 || res.TruckDuplicates != 0 {
		t.Fatalf("late reports: %+v", res)
	}
	if got, want := strings.Join(trackTimes(t, s, plateA, 0, 0), " "), "50:29.8,121.7 100:29.9,121.8 200:29.915,121.83 300:29.93,121.86"; got != want {
		t.Fatalf("track %s, want %s", got, want)
	}
	if got := trackTimes(t, s, plateA, 100, 300); len(got) != 2 || !strings.HasPrefix(got[0], "100:") {
		t.Fatalf("track window %v", got)
	}
	tr, _ = s.Truck(plateA)
	if tr.Time != 300 || tr.Lat != 29.93 {
		t.Fatalf("late reports moved the truck: %+v", tr)
	}

	// A prefix plate is another truck: keys are terminated.
	short := "浙B1234"
	applyTruckBatch(t, s, truck(short, 400, 29.95, 121.90, ""), truck(plateB, 400, 30.10, 122.10, ""))
	if got := trackTimes(t, s, short, 0, 0); len(got) != 1 {
		t.Fatalf("track of %s: %v", short, got)
	}
	if got := trackTimes(t, s, plateA, 0, 0); len(got) != 4 {
		t.Fatalf("track of %s after %s: %v", plateA, short, got)
	}

	near := func() []string {
		t.Helper()
		var out []string
		err := s.TrucksNear(29.93, 121.86, 5000, 0, func(tr *Truck, d float64) bool {
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
	// The index follows moves, and is rebuilt at Open.
	applyTruckBatch(t, s, truck(short, 500, 30.5, 122.5, ""))
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
	if err := s.EachTruck(func(tr *Truck) error { plates = append(plates, tr.Plate); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(plates, " "), short+" "+plateA+" "+plateB; got != want {
		t.Fatalf("EachTruck: %s, want %s", got, want)
	}
	if _, err := s.Truck("浙B00000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown truck: %v", err)
	}
	if _, err := s.Truck("浙b12345"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("non-canonical plate: %v", err)
	}
}

func TestContainerOnTruck(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	pos := func(id string) string {
		t.Helper()
		lat, lon, src, tm, ok := s.ContainerPosition(id)
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%v,%v %s %d", lat, lon, src, tm)
	}
	// Gated out at 100, then on the road.
	if _, err := s.Apply(&Batch{Topic: "port.rfid", Next: 1, Events: []Event{ev("e1", boxB, CodeGTOT, 100, "GATE")}}); err != nil {
		t.Fatal(err)
	}
	if got := pos(boxB); got != "-" {
		t.Fatalf("before any truck: %s", got)
	}
	applyTruckBatch(t, s, truck(plateA, 100, 29.90, 121.80, boxB)) // same time as the gate-out: the event wins
	if got := pos(boxB); got != "-" {
		t.Fatalf("truck report not newer than the event: %s", got)
	}
	applyTruckBatch(t, s, truck(plateA, 110, 29.91, 121.81, boxB), truck(plateA, 120, 29.92, 121.82, boxB))
	if got, want := pos(boxB), "29.92,121.82 truck:"+plateA+" 120"; got != want {
		t.Fatalf("riding: %s, want %s", got, want)
	}
	tr, _ := s.Truck(plateA)
	if tr.Container != boxB || tr.ContainerSince != 100 {
		t.Fatalf("truck %+v", tr)
	}
	// A late report without the box does not end the ride.
	applyTruckBatch(t, s, truck(plateA, 105, 29.905, 121.805, ""))
	if got := pos(boxB); !strings.HasSuffix(got, " 120") {
		t.Fatalf("after a late report: %s", got)
	}
	// A box never seen by RFID rides too.
	applyTruckBatch(t, s, truck(plateB, 130, 30.0, 122.0, boxA))
	if got, want := pos(boxA), "30,122 truck:"+plateB+" 130"; got != want {
		t.Fatalf("box without events: %s, want %s", got, want)
	}
	// A later gate-in ends the ride for the position before the truck
	// reports again; the link itself stays until the truck drops the box.
	if _, err := s.Apply(&Batch{Topic: "port.rfid", Next: 2, Events: []Event{ev("e2", boxB, CodeGTIN, 125, "YARD")}}); err != nil {
		t.Fatal(err)
	}
	if got := pos(boxB); got != "-" {
		t.Fatalf("after gate-in: %s", got)
	}
	// Reports still naming the box after the event: the truck is newer.
	applyTruckBatch(t, s, truck(plateA, 140, 29.95, 121.85, boxB))
	if got := pos(boxB); !strings.HasSuffix(got, " 140") {
		t.Fatalf("truck newer than the event: %s", got)
	}
	// The truck drops the box: ride over.
	applyTruckBatch(t, s, truck(plateA, 150, 29.96, 121.86, ""))
	if got := pos(boxB); got != "-" {
		t.Fatalf("after drop: %s", got)
	}
	tr, _ = s.Truck(plateA)
	if tr.Container != "" || tr.ContainerSince != 0 {
		t.Fatalf("truck after drop %+v", tr)
	}
	// The track keeps what each point carried.
	if got := trackTimes(t, s, plateA, 140, 151); len(got) != 2 || !strings.HasSuffix(got[0], boxB) || strings.HasSuffix(got[1], boxB) {
		t.Fatalf("track %v", got)
	}

	// Two trucks name one box: the newer report wins; an older one does
	// not steal it, and the loser dropping the box ends nothing.
	applyTruckBatch(t, s, truck(plateA, 160, 29.97, 121.87, boxA)) // newer than plateB's 130
	if got := pos(boxA); !strings.Contains(got, plateA) {
		t.Fatalf("newer truck: %s", got)
	}
	applyTruckBatch(t, s, truck(plateB, 135, 30.01, 122.01, boxA)) // plateB's own newest, older than 160
	if got := pos(boxA); !strings.Contains(got, plateA) {
		t.Fatalf("older claim took the box: %s", got)
	}
	applyTruckBatch(t, s, truck(plateB, 170, 30.02, 122.02, ""))
	if got := pos(boxA); !strings.Contains(got, plateA) || !strings.HasSuffix(got, " 160") {
		t.Fatalf("the other truck's drop ended the ride: %s", got)
	}
	// Switching boxes in one batch ends the first ride and starts another;
	// survives a reopen.
	applyTruckBatch(t, s, truck(plateA, 180, 29.98, 121.88, boxB), truck(plateA, 190, 29.99, 121.89, boxB))
	if got := pos(boxA); got != "-" {
		t.Fatalf("switched box still rides: %s", got)
	}
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	if got, want := pos(boxB), "29.99,121.89 truck:"+plateA+" 190"; got != want {
		t.Fatalf("after reopen: %s, want %s", got, want)
	}
	tr, _ = s.Truck(plateA)
	if tr.Container != boxB || tr.ContainerSince != 180 {
		t.Fatalf("truck after switch %+v", tr)
	}
	if got := pos("CSQU305438"); got != "-" {
		t.Fatalf("short id: %s", got)
	}
}

func TestTruckReportValidate(t *testing.T) {
	good := truck(plateA, 1, 29.9, 121.8, boxA)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	unknown := TruckReport{Plate: plateA, Time: 1, SpeedKmh: UnknownFloat, Heading: UnknownInt}
	if err := unknown.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*TruckReport){
		"plate":     func(r *TruckReport) { r.Plate = "浙b12345" },
		"time":      func(r *TruckReport) { r.Time = 0 },
		"lat":       func(r *TruckReport) { r.Lat = 91 },
		"lon":       func(r *TruckReport) { r.Lon = -181 },
		"speed":     func(r *TruckReport) { r.SpeedKmh = 401 },
		"neg speed": func(r *TruckReport) { r.SpeedKmh = -2 },
		"heading":   func(r *TruckReport) { r.Heading = 360 },
		"container": func(r *TruckReport) { r.Container = "CSQU3054384" },
	} {
		r := good
		mod(&r)
		if r.Validate() == nil {
			t.Errorf("%s: %+v accepted", name, r)
		}
	}
	// An invalid report fails the batch before anything is written.
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	bad := good
	bad.Lat = 95
	if _, err := s.Apply(&Batch{Topic: "port.transport", Next: 1, Trucks: []TruckReport{good, bad}}); err == nil {
		t.Fatal("invalid batch applied")
	}
	if _, err := s.Truck(plateA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half a batch applied: %v", err)
	}
}

func TestTruckPlateParse(t *testing.T) {
	for in, want := range map[string]string{
		"浙B12345":          "浙B12345",
		" 浙b12345\u3000":   "浙B12345",
		"沪ad12345":         "沪AD12345",
		"粤Z1234港":          "粤Z1234港",
		"WJ浙12345":         "WJ浙12345",
		"a":                "A",
		"ABCDEFGHIJKLMNOP": "ABCDEFGHIJKLMNOP",
		"浙B 12345":         "浙B 12345", // inner spaces are kept: loose
	} {
		got, err := ParsePlate(in)
		if err != nil || got != want {
			t.Errorf("ParsePlate(%q) = %q, %v; want %q", in, got, err, want)
		}
		if CheckPlate(got) != nil {
			t.Errorf("ParsePlate(%q) = %q fails CheckPlate", in, got)
		}
	}
	for _, in := range []string{"", "   ", "ABCDEFGHIJKLMNOPQ", "浙B\x0012345", "浙B\n12345", "浙B/12345", "\xff\xfe", "浙B12\u008512345"} {
		if got, err := ParsePlate(in); !errors.Is(err, ErrPlateFormat) {
			t.Errorf("ParsePlate(%q) = %q, %v; want ErrPlateFormat", in, got, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = CheckPlate(plateA) }); n != 0 {
		t.Errorf("CheckPlate allocates %v times", n)
	}
}

func TestTruckTrackRetention(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), TrackRetention: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, tm := range []int64{10, 50, 120, 200} {
		r := TruckReport{Plate: "浙B12345", Time: tm, Lat: 29.93, Lon: 121.86 + float64(i)/1000, SpeedKmh: UnknownFloat, Heading: UnknownInt}
		if _, err := s.Apply(&Batch{Topic: "port.transport", Next: int64(i + 1), Trucks: []TruckReport{r}}); err != nil {
			t.Fatal(err)
		}
	}
	var times []int64
	if err := s.TruckTrack("浙B12345", 0, 0, 100, func(p *TruckPoint) error { times = append(times, p.Time); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[0] != 120 || times[1] != 200 {
		t.Fatalf("truck track after retention %v, want [120 200]", times)
	}
}
