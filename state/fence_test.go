package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
)

const alertTopic = "porttrack.alerts"

var fenceT0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()

func sec(s int) int64 { return fenceT0 + int64(s)*int64(time.Second) }

// The yard fence: 29.920-29.930 N, 121.850-121.860 E.
const yardFence = `{"type":"Feature","id":"yard","properties":{"name":"Yard"},"geometry":{"type":"Polygon","coordinates":[[[121.85,29.92],[121.86,29.92],[121.86,29.93],[121.85,29.93],[121.85,29.92]]]}}`

var (
	in  = [2]float64{29.925, 121.855}
	out = [2]float64{29.935, 121.855} // 1 km north of the fence's centre
	// edge: just outside the north edge, where GPS jitter flips the side.
	edgeIn  = [2]float64{29.92999, 121.855}
	edgeOut = [2]float64{29.93001, 121.855}
)

func openFenceStore(t *testing.T, fs vfs.FS, dwell time.Duration) *Store {
	t.Helper()
	return openFenceStoreKeys(t, fs, dwell, nil)
}

// openFenceStoreKeys is openFenceStore with the tenants' keys: with keys set
// it opens on BuiltinStages (portstate wires the real tenants' keys).
func openFenceStoreKeys(t *testing.T, fs vfs.FS, dwell time.Duration, keys Keys) *Store {
	t.Helper()
	opts := Options{Dir: "db", FS: fs, Keys: keys, Fences: FenceConfig{MinDwell: dwell, AlertTopic: alertTopic, MaxPerTenant: 3,
		Readers: map[string]geo.LatLng{"YARD-R1": {Lat: 29.926, Lng: 121.856}, "FAR-R1": {Lat: 29.95, Lng: 121.80}}}}
	var s *Store
	if keys == nil {
		s = openDomains(t, opts)
	} else {
		var err error
		if s, err = Open(opts); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putYard(t *testing.T, s *Store, tenant string) {
	t.Helper()
	if _, err := s.PutFence(tenant, "yard", portOwner, []byte(yardFence)); err != nil {
		t.Fatal(err)
	}
}

// alerts returns the fence alerts waiting in the outbox as
// "event fence type:id time dwell", and clears the outbox.
// wantAlerts checks that the alerts published since the last look are
// want, in order.
func wantAlerts(t *testing.T, s *Store, step string, want ...string) {
	t.Helper()
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: alerts:\n%s\nwant:\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func alerts(t *testing.T, s *Store) []string {
	t.Helper()
	var got []string
	var last uint64
	err := s.ScanOutbox(1000, func(e *OutboxEntry) error {
		last = e.Seq
		if e.Topic != alertTopic {
			return nil
		}
		var a FenceAlert
		if err := json.Unmarshal(e.Value, &a); err != nil {
			return fmt.Errorf("alert %s: %w", e.Value, err)
		}
		if a.Kind != "geofence" || len(a.ID) != 32 || string(e.Headers[0].Value) != a.ID || string(e.Key) != a.Object.ID {
			return fmt.Errorf("alert %s: bad kind, id, header or key", e.Value)
		}
		at, err := time.Parse(time.RFC3339Nano, a.Time)
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprintf("%s %s/%s %s:%s %ds %gs %.3f,%.3f", a.Event, a.Tenant, a.Fence, a.Object.Type, a.Object.ID,
			(at.UnixNano()-fenceT0)/int64(time.Second), a.DwellS, a.Lat, a.Lon))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last > 0 {
		if err := s.DeleteOutbox(0, last); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func inside(t *testing.T, s *Store, tenant, id string) []string {
	t.Helper()
	return insideScoped(t, s, tenant, id, nil)
}

type obs struct {
	s   int // seconds after T0
	pos [2]float64
}

func TestFenceTransitions(t *testing.T) {
	for _, c := range []struct {
		name   string
		dwell  time.Duration
		obs    []obs
		want   []string
		inside []string
	}{
		{"enter after dwell", 30 * time.Second,
			[]obs{{0, out}, {10, in}, {20, in}, {39, in}, {40, in}, {50, in}},
			[]string{"enter acme/yard truck:浙B12345 10s 30s 29.925,121.855"},
			[]string{"truck:浙B12345@10s"}},
		{"too short a visit", 30 * time.Second,
			[]obs{{0, in}, {29, in}, {30, out}, {100, out}},
			nil, nil},
		{"jitter at the boundary does not flap", 30 * time.Second,
			[]obs{{0, edgeIn}, {30, edgeIn}, {40, edgeOut}, {50, edgeIn}, {60, edgeOut}, {80, edgeIn}, {100, edgeOut}, {120, edgeIn}, {160, edgeIn}},
			[]string{"enter acme/yard truck:浙B12345 0s 30s 29.930,121.855"},
			[]string{"truck:浙B12345@0s"}},
		{"exit", 30 * time.Second,
			[]obs{{0, in}, {30, in}, {100, out}, {110, in}, {200, out}, {229, out}, {230, out}},
			[]string{"enter acme/yard truck:浙B12345 0s 30s 29.925,121.855", "exit acme/yard truck:浙B12345 200s 200s 29.935,121.855"},
			nil},
		{"no dwell decides at once", 0,
			[]obs{{0, out}, {10, in}, {20, out}},
			[]string{"enter acme/yard truck:浙B12345 10s 0s 29.925,121.855", "exit acme/yard truck:浙B12345 20s 10s 29.935,121.855"},
			nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openFenceStore(t, vfs.NewMem(), c.dwell)
			putYard(t, s, "acme")
			for _, o := range c.obs {
				applyTruckBatch(t, s, truck(plateA, sec(o.s), o.pos[0], o.pos[1], ""))
			}
			if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if got := inside(t, s, "acme", "yard"); strings.Join(got, " ") != strings.Join(c.inside, " ") {
				t.Errorf("inside %v, want %v", got, c.inside)
			}
		})
	}
}

// TestFenceOutOfOrderAndDuplicates: a late position changes no membership,
// a repeated position or a replayed batch publishes nothing twice.
func TestFenceOutOfOrderAndDuplicates(t *testing.T) {
	s := openFenceStore(t, vfs.NewMem(), 30*time.Second)
	putYard(t, s, "acme")
	applyTruckBatch(t, s, truck(plateA, sec(0), in[0], in[1], ""), truck(plateA, sec(100), out[0], out[1], ""))
	// Late positions inside, before the truck was seen outside: they would
	// confirm an enter if they counted.
	applyTruckBatch(t, s, truck(plateA, sec(40), in[0], in[1], ""), truck(plateA, sec(60), in[0], in[1], ""))
	if got := alerts(t, s); len(got) != 0 {
		t.Fatalf("late positions raised %v", got)
	}
	// Duplicates: the same reports again, in one batch and in a second.
	applyTruckBatch(t, s, truck(plateA, sec(110), in[0], in[1], ""), truck(plateA, sec(110), in[0], in[1], ""))
	applyTruckBatch(t, s, truck(plateA, sec(110), in[0], in[1], ""))
	applyTruckBatch(t, s, truck(plateA, sec(140), in[0], in[1], ""))
	applyTruckBatch(t, s, truck(plateA, sec(140), in[0], in[1], ""))
	want := []string{"enter acme/yard truck:浙B12345 110s 30s 29.925,121.855"}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts %v, want %v", got, want)
	}

	// Containers: observations come from readers and trucks; an older one
	// is ignored whatever its source.
	box := "CSQU3054383"
	rfid := func(id string, ts int, reader string) Event {
		return Event{ID: id, Container: box, Code: CodeGTIN, Time: sec(ts), Location: "CNNGB-BLCT-GATE", ReadPoint: reader, Source: "test"}
	}
	apply := func(b *Batch) {
		t.Helper()
		next, _, _ := s.NextOffset("port.rfid", 0)
		b.Topic, b.Next = "port.rfid", next+1
		if _, err := s.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	apply(&Batch{Events: []Event{rfid("e1", 0, "YARD-R1")}})
	apply(&Batch{Trucks: []TruckReport{truck(plateB, sec(20), out[0], out[1], box)}})
	apply(&Batch{Events: []Event{rfid("e2", 10, "YARD-R1")}}) // newest event, older observation
	apply(&Batch{Events: []Event{rfid("e3", 40, "YARD-R1")}})
	apply(&Batch{Events: []Event{rfid("e4", 80, "YARD-R1")}})
	apply(&Batch{Events: []Event{rfid("e4", 80, "YARD-R1")}}) // duplicate event
	want = []string{"enter acme/yard container:CSQU3054383 40s 40s 29.926,121.856"}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("container alerts %v, want %v", got, want)
	}
	// On a truck: the truck's position is the box's.
	apply(&Batch{Trucks: []TruckReport{truck(plateB, sec(100), out[0], out[1], box), truck(plateB, sec(130), out[0], out[1], box)}})
	want = []string{"exit acme/yard container:CSQU3054383 100s 60s 29.935,121.855"}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("container alerts %v, want %v", got, want)
	}
	if m := s.FenceMetrics(); m.Enters != 2 || m.Exits != 1 || m.Evaluations == 0 || m.Fences != 1 {
		t.Fatalf("metrics %+v", m)
	}
}

// TestFenceVessels: AIS positions drive memberships like truck positions.
func TestFenceVessels(t *testing.T) {
	s := openFenceStore(t, vfs.NewMem(), 30*time.Second)
	putYard(t, s, "acme")
	for i, ts := range []int{0, 15, 30} {
		r := VesselReport{MMSI: 412928081, Time: sec(ts), MsgType: 1, HasPosition: true, Lat: in[0], Lon: in[1],
			Speed: 0.1, Course: UnknownFloat, Heading: UnknownInt, Status: 5, Turn: UnknownTurn, ShipType: UnknownInt,
			ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
		if _, err := s.Apply(&Batch{Topic: "port.ais", Next: int64(i + 1), Vessels: []VesselReport{r}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"enter acme/yard vessel:412928081 0s 30s 29.925,121.855"}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts %v, want %v", got, want)
	}
}

// TestFenceDeletedWhileInside: deleting a fence drops its memberships; a
// fence created again under the same id starts empty.
func TestFenceDeletedWhileInside(t *testing.T) {
	fs := vfs.NewMem()
	s := openFenceStore(t, fs, 0)
	putYard(t, s, "acme")
	applyTruckBatch(t, s, truck(plateA, sec(0), in[0], in[1], ""), truck(plateB, sec(0), in[0], in[1], ""))
	if got := inside(t, s, "acme", "yard"); len(got) != 2 {
		t.Fatalf("inside %v", got)
	}
	alerts(t, s)
	if err := s.DeleteFence("acme", "yard"); err != nil {
		t.Fatal(err)
	}
	if err := s.FenceInside("acme", "yard", nil, func(*FenceMember) bool { return true }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inside of a deleted fence: %v, want ErrNotFound", err)
	}
	if err := s.DeleteFence("acme", "yard"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	applyTruckBatch(t, s, truck(plateA, sec(10), out[0], out[1], ""))
	if got := alerts(t, s); len(got) != 0 {
		t.Fatalf("alerts after the fence was deleted: %v", got)
	}
	putYard(t, s, "acme")
	if got := inside(t, s, "acme", "yard"); len(got) != 0 {
		t.Fatalf("re-created fence starts with %v", got)
	}
	applyTruckBatch(t, s, truck(plateB, sec(20), in[0], in[1], ""))
	want := []string{"enter acme/yard truck:浙B67890 20s 0s 29.925,121.855"}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts %v, want %v", got, want)
	}
}

// TestFenceRestart: fences and memberships (a pending enter included)
// survive a restart.
func TestFenceRestart(t *testing.T) {
	fs := vfs.NewMem()
	s := openFenceStore(t, fs, 30*time.Second)
	putYard(t, s, "acme")
	if _, err := s.PutFence("acme", "gate", portOwner, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"gate"`))); err != nil {
		t.Fatal(err)
	}
	applyTruckBatch(t, s, truck(plateA, sec(0), in[0], in[1], ""), truck(plateA, sec(30), in[0], in[1], ""))
	applyTruckBatch(t, s, truck(plateB, sec(0), in[0], in[1], "")) // pending
	alerts(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFenceStore(t, fs, 30*time.Second)
	var ids []string
	s.EachUserFence("acme", func(uf *UserFence) bool { ids = append(ids, uf.ID); return true })
	if strings.Join(ids, ",") != "gate,yard" {
		t.Fatalf("fences after restart: %v", ids)
	}
	if got := inside(t, s, "acme", "yard"); strings.Join(got, " ") != "truck:浙B12345@0s" {
		t.Fatalf("inside after restart: %v", got)
	}
	applyTruckBatch(t, s, truck(plateB, sec(30), in[0], in[1], ""), truck(plateA, sec(40), out[0], out[1], ""), truck(plateA, sec(70), out[0], out[1], ""))
	want := []string{
		"enter acme/gate truck:浙B67890 0s 30s 29.925,121.855",
		"enter acme/yard truck:浙B67890 0s 30s 29.925,121.855",
		"exit acme/gate truck:浙B12345 40s 40s 29.935,121.855",
		"exit acme/yard truck:浙B12345 40s 40s 29.935,121.855",
	}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFenceControlPlane: tenancy, limits and validation.
func TestFenceControlPlane(t *testing.T) {
	features, err := geo.ParseFeatureCollection(strings.NewReader(`{"type":"FeatureCollection","features":[` +
		strings.ReplaceAll(yardFence, `"yard"`, `"model-yard"`) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm, Fences: FenceConfig{MaxPerTenant: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putYard(t, s, "acme")
	if created, err := s.PutFence("acme", "yard", portOwner, []byte(yardFence)); err != nil || created {
		t.Fatalf("replace: created %v, %v", created, err)
	}
	if _, err := s.UserFence("other", "yard"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another tenant's fence: %v", err)
	}
	if err := s.DeleteFence("other", "yard"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of another tenant's fence: %v", err)
	}
	if _, err := s.PutFence("acme", "model-yard", portOwner, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"model-yard"`))); !errors.Is(err, ErrFenceReadOnly) {
		t.Fatalf("put of a port-model id: %v", err)
	}
	if err := s.DeleteFence("acme", "model-yard"); !errors.Is(err, ErrFenceReadOnly) {
		t.Fatalf("delete of a port-model id: %v", err)
	}
	if _, err := s.PutFence("acme", "b", portOwner, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"b"`))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFence("acme", "c", portOwner, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"c"`))); !errors.Is(err, ErrFenceLimit) {
		t.Fatalf("third fence: %v, want ErrFenceLimit", err)
	}
	if _, err := s.PutFence("other", "c", portOwner, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"c"`))); err != nil {
		t.Fatalf("another tenant's first fence: %v", err)
	}
	bow := `{"type":"Feature","id":"bow","properties":{},"geometry":{"type":"Polygon","coordinates":[[[121.85,29.92],[121.86,29.93],[121.86,29.92],[121.85,29.93],[121.85,29.92]]]}}`
	if _, err := s.PutFence("other", "bow", portOwner, []byte(bow)); !errors.Is(err, geo.ErrInvalidFence) || !strings.Contains(err.Error(), "self-intersects") {
		t.Fatalf("bow tie: %v", err)
	}
	if _, err := s.PutFence("other", "a/b", portOwner, []byte(yardFence)); !errors.Is(err, ErrFenceID) {
		t.Fatalf("id with a slash: %v", err)
	}
	if _, err := s.PutFence("other", "x", portOwner, []byte(yardFence)); !errors.Is(err, geo.ErrInvalidFence) {
		t.Fatalf("feature id differing from the fence id: %v", err)
	}
}

// TestFenceReaderPositions: the built-in port model places its readers.
func TestFenceReaderPositions(t *testing.T) {
	readers, err := ReaderPositions(portmodel.GeoJSON())
	if err != nil {
		t.Fatal(err)
	}
	p, ok := readers["BLCT-GATE-L1"]
	if len(readers) < 50 || !ok || p.Lat != 29.933748 || p.Lng != 121.877554 {
		t.Fatalf("%d readers, BLCT-GATE-L1 at %v (%v)", len(readers), p, ok)
	}
	if _, err := ReaderPositions([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"kind":"reader","reader":"R"},"geometry":{"type":"Point","coordinates":[121.8,95]}}]}`)); err == nil || !strings.Contains(err.Error(), `"R"`) {
		t.Fatalf("reader at latitude 95: %v", err)
	}
}

// TestFenceConcurrentReaders runs queries against fence edits and Apply
// (meaningful under -race).
func TestFenceConcurrentReaders(t *testing.T) {
	s := openFenceStore(t, vfs.NewMem(), 0)
	s.opts.Fences.MaxPerTenant = 100
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				s.EachUserFence("acme", func(uf *UserFence) bool { return uf.Fence.Contains(geo.LatLng{Lat: in[0], Lng: in[1]}) })
				_, _ = s.UserFence("acme", "yard")
				_ = s.FenceInside("acme", "yard", nil, func(*FenceMember) bool { return true })
				_ = s.FenceMetrics()
			}
		}()
	}
	for i := range 50 {
		if i%10 == 0 {
			_ = s.DeleteFence("acme", "yard")
		}
		putYard(t, s, "acme")
		pos := in
		if i%2 == 1 {
			pos = out
		}
		applyTruckBatch(t, s, truck(plateA, sec(i), pos[0], pos[1], ""))
	}
	close(done)
	wg.Wait()
}
