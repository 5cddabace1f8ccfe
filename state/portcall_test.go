package state

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
)

func loadPortModel(t *testing.T) *PortModel {
	t.Helper()
	fs, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := NewPortModel(fs, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

func TestPortCallPhasesAndEvents(t *testing.T) {
	pm := loadPortModel(t)
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm,
		PortCalls: PortCallConfig{EventTopic: "porttrack.events", MinDwell: 2 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const m = 413000001
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	at := func(min int) int64 { return t0.Add(time.Duration(min) * time.Minute).UnixNano() }
	p := func(min int, lat, lon, speed float64) VesselReport {
		r := pos(m, at(min), lat, lon, "s1")
		r.Speed = speed
		return r
	}
	steps := []struct {
		r     VesselReport
		phase string
	}{
		{p(0, 29.809, 122.2367, 14), ""},                   // route: pending approaching
		{p(3, 29.8095, 122.2370, 14), PhaseApproaching},    // held 3 min
		{p(60, 29.96494, 121.9205, 0.3), PhaseApproaching}, // anchorage: pending
		{p(61, 29.96495, 121.9205, 0.2), PhaseApproaching}, // 1 min: not yet
		{p(63, 29.96496, 121.9205, 0.1), PhaseAnchorage},   // 3 min: anchored since min 60
		{p(64, 29.80000, 121.4000, 0.1), PhaseAnchorage},   // one GPS jump outside: flapping absorbed
		{p(65, 29.96496, 121.9205, 0.1), PhaseAnchorage},   //
		{p(300, 29.93000, 121.9000, 8), PhaseAnchorage},    // under way in port waters: pending
		{p(303, 29.93000, 121.9000, 8), PhaseApproaching},  // towards the berth
		{p(330, 29.93964, 121.86461, 0), PhaseApproaching}, // at nbct-berth-1
		{p(340, 29.93964, 121.86461, 0), PhaseBerthed},     // ARRI at min 330
		{p(1000, 29.93000, 121.8800, 9), PhaseBerthed},     // leaving
		{p(1005, 29.90000, 121.9500, 11), PhaseDeparted},   // DEPA at min 1000
		{p(1100, 29.809, 122.2367, 14), PhaseDeparted},     // outbound on the route
	}
	for i, st := range steps {
		if _, err := s.Apply(&Batch{Topic: "port.ais", Next: int64(i + 1), Vessels: []VesselReport{st.r}}); err != nil {
			t.Fatal(err)
		}
		v, _ := s.Vessel(m)
		if v.PortCall.Phase != st.phase {
			t.Fatalf("step %d (min %d): phase %q, want %q (%+v)", i, (st.r.Time-t0.UnixNano())/int64(time.Minute), v.PortCall.Phase, st.phase, v.PortCall)
		}
	}
	v, _ := s.Vessel(m)
	if v.PortCall.LastAnchorageWait != 240*time.Minute {
		t.Errorf("anchorage wait %v, want 4h (min 60 to min 300)", v.PortCall.LastAnchorageWait)
	}
	var events []map[string]any
	s.ScanOutbox(100, func(e *OutboxEntry) error {
		if e.Topic != "porttrack.events" {
			t.Errorf("outbox topic %q", e.Topic)
		}
		var ev map[string]any
		if err := json.Unmarshal(e.Value, &ev); err != nil {
			t.Fatalf("event is not JSON: %v: %s", err, e.Value)
		}
		events = append(events, ev)
		return nil
	})
	if len(events) != 2 {
		t.Fatalf("%d events, want ARRI and DEPA: %v", len(events), events)
	}
	want := []struct{ code, time string }{{"ARRI", "2026-11-22T05:30:00Z"}, {"DEPA", "2026-11-22T16:40:00Z"}}
	for i, w := range want {
		ev := events[i]
		tc, _ := ev["transportCall"].(map[string]any)
		if ev["transportEventTypeCode"] != w.code || ev["eventDateTime"] != w.time || ev["eventType"] != "TRANSPORT" ||
			ev["eventClassifierCode"] != "ACT" || tc["modeOfTransport"] != "VESSEL" || tc["UNLocationCode"] != "CNNGB" || tc["otherFacility"] != "nbct-berth-1" {
			t.Errorf("event %d: %v", i, ev)
		}
	}
	// Replaying the same positions changes nothing and emits nothing new.
	n, _ := s.OutboxLen()
	if _, err := s.Apply(&Batch{Topic: "port.ais", Next: 99, Vessels: []VesselReport{steps[10].r}}); err != nil {
		t.Fatal(err)
	}
	if n2, _ := s.OutboxLen(); n2 != n {
		t.Errorf("replay emitted %d events", n2-n)
	}
	// Vessels in a fence.
	var in []uint32
	ok, err := s.VesselsInFence("xiazhimen-deep-water-route", func(v *Vessel) bool { in = append(in, v.MMSI); return true })
	if !ok || err != nil || len(in) != 1 {
		t.Fatalf("in route: %v %v %v", in, ok, err)
	}
	in = nil
	s.VesselsInFence("beilun-anchorage", func(v *Vessel) bool { in = append(in, v.MMSI); return true })
	if len(in) != 0 {
		t.Fatalf("in anchorage: %v", in)
	}
	if ok, _ := s.VesselsInFence("no-such-fence", nil); ok {
		t.Fatal("unknown fence found")
	}
}
