// The connection guard's tests open the state through portstate: the guard
// asks the customs domain (state/customs) what blocks a box.
package state_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestGuardUnknownStation: a plan from a station the port model does not
// know is judged by what needs no station: loaded by the operator's event,
// the departure or the cutoff passing (missed), holds and lateness without
// the trip to the station (at risk); every other box stays unjudged. Each
// reason list ends with unknown_station. Such plans are counted, and the
// first of each station is logged.
func TestGuardUnknownStation(t *testing.T) {
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	fs := vfs.NewMem()
	open := func() *portstate.State {
		s, err := portstate.Open(state.Options{Dir: "db", FS: fs, PortModel: pm, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Guard: state.GuardConfig{AlertTopic: "porttrack.alerts"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { s.Close() }()
	h := func(hm string) int64 { return guardTime(t, hm) }
	var off int64
	apply := func(b state.Batch) {
		t.Helper()
		off++
		b.Topic, b.Next = "port.transport", off
		if _, err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	const (
		idle     = "MSKU9070323" // no event: unjudged, then missed at the cutoff
		loaded   = "CSQU3054383" // loaded (operator's event): on track
		held     = "APZU4812090" // customs hold: at risk
		onVessel = "MSCU1234566" // on its vessel, 6h discharge > 2h to the cutoff: late
	)
	verdict := func(id, box string) string {
		t.Helper()
		p, err := s.Plan(state.ModeRail, id)
		if err != nil {
			t.Fatal(err)
		}
		g := guardOf(p, box)
		if g == nil {
			t.Fatalf("%s not on %s", box, id)
		}
		var rs []string
		for _, r := range g.Reasons {
			rs = append(rs, r.String())
		}
		return strings.TrimSpace(g.Verdict.String() + " " + strings.Join(rs, ","))
	}
	apply(state.Batch{Events: []state.Event{{ID: "v1", Container: onVessel, Code: state.CodeLOAD, Time: h("08:00"), Location: "CNNGB-BLCT-QUAY", Source: "t"}}})
	apply(state.Batch{Customs: []state.CustomsDoc{{Type: state.CustomsContainer, ID: "c1", Time: h("09:00"),
		Box: &state.ContainerCustomsEvent{Container: held, Event: "held", HoldKind: "customs"}}}})
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "Z1", From: "nowhere-station", Departure: h("20:00"), Cutoff: h("18:00"), Time: h("16:00"),
		Wagons: []state.Wagon{{ID: "W1", Containers: []string{idle, loaded, held, onVessel}}}}}})
	for _, c := range []struct{ box, want string }{
		{idle, "unknown_station"},
		{loaded, "unknown_station"},
		{held, "at_risk customs_hold,late,unknown_station"},
		{onVessel, "at_risk not_discharged,late,unknown_station"},
	} {
		if got := verdict("Z1", c.box); got != c.want {
			t.Errorf("after the plan, %s: %q, want %q", c.box, got, c.want)
		}
	}
	apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: state.ModeRail, Plan: "Z1", Event: state.PlanLoaded, Container: loaded, Wagon: "W1", Station: "nowhere-station", Time: h("17:00")}}})
	if got := verdict("Z1", loaded); got != "on_track" {
		t.Errorf("loaded: %q", got)
	}
	s.Close() // the wake time survives a restart
	s = open()
	// Time passes the cutoff (any record moves the guard clock).
	apply(state.Batch{Events: []state.Event{{ID: "x", Container: "TGHU1234567", Code: state.CodeGTIN, Time: h("18:30"), Location: "CNNGB-BLCT-GATE", Source: "t"}}})
	for _, c := range []struct{ box, want string }{
		{idle, "missed cutoff_passed,unknown_station"},
		{loaded, "on_track"},
		{held, "missed cutoff_passed,unknown_station"},
		{onVessel, "missed cutoff_passed,unknown_station"},
	} {
		if got := verdict("Z1", c.box); got != c.want {
			t.Errorf("after the cutoff, %s: %q, want %q", c.box, got, c.want)
		}
	}
	// A departure from an unknown station leaving without a box.
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeBarge, ID: "B7", From: "nowhere-station", Departure: h("23:00"), Cutoff: h("22:00"), Time: h("19:00"),
		Wagons: []state.Wagon{{ID: "BAY1", Containers: []string{idle}}}}}})
	apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: state.ModeBarge, Plan: "B7", Event: state.PlanDeparted, Station: "nowhere-station", Time: h("19:30")}}})
	p, err := s.Plan(state.ModeBarge, "B7")
	if err != nil {
		t.Fatal(err)
	}
	if g := guardOf(p, idle); g.Verdict != state.VerdictMissed || !slices.Equal(g.Reasons, []state.Reason{state.ReasonDepartedWithout, state.ReasonUnknownStation}) {
		t.Errorf("departed without it: %v %v", g.Verdict, g.Reasons)
	}
	// An inbound train from the unknown station: loaded there, departed,
	// unloaded at the port: it made its departure.
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "IN1", From: "nowhere-station", To: "beilun-rail-station", Departure: h("20:30"), Cutoff: h("20:00"), Time: h("19:00"),
		Wagons: []state.Wagon{{ID: "W1", Containers: []string{loaded}}}}}})
	apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: state.ModeRail, Plan: "IN1", Event: state.PlanLoaded, Container: loaded, Wagon: "W1", Station: "nowhere-station", Time: h("19:40")}}})
	apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: state.ModeRail, Plan: "IN1", Event: state.PlanDeparted, Station: "nowhere-station", Time: h("20:30")}}})
	apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: state.ModeRail, Plan: "IN1", Event: state.PlanUnloaded, Container: loaded, Wagon: "W1", Station: "beilun-rail-station", Time: h("23:50")}}})
	if got := verdict("IN1", loaded); got != "on_track" {
		t.Errorf("unloaded at the end of the trip: %q, want on_track", got)
	}
	// The missed verdicts were alerted, with their reasons.
	var alerts []string
	s.ScanOutbox(1000, func(e *state.OutboxEntry) error {
		var a struct {
			Container, Verdict string
			Reasons            []struct{ Code string }
		}
		if e.Topic != "porttrack.alerts" || json.Unmarshal(e.Value, &a) != nil || a.Verdict != "missed" {
			return nil
		}
		alerts = append(alerts, fmt.Sprintf("%s %v", a.Container, a.Reasons))
		return nil
	})
	slices.Sort(alerts)
	want := []string{held + " [{cutoff_passed} {unknown_station}]", onVessel + " [{cutoff_passed} {unknown_station}]", idle + " [{cutoff_passed} {unknown_station}]", idle + " [{departed_without} {unknown_station}]"}
	if !slices.Equal(alerts, want) {
		t.Errorf("missed alerts %q, want %q", alerts, want)
	}
	// Counted per plan message since Open, logged once per station.
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "Z2", From: "elsewhere", Departure: h("23:00"), Cutoff: h("22:00"), Time: h("19:00")}}})
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "Z3", From: "elsewhere", Departure: h("23:30"), Cutoff: h("22:00"), Time: h("19:00")}}})
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "K1", From: "beilun-rail-station", Departure: h("23:30"), Cutoff: h("22:00"), Time: h("19:00")}}})
	if m := s.PlanMetrics(); m.UnknownStation != 4 {
		t.Errorf("unknown-station plans %d since the restart, want 4 (B7, IN1, Z2, Z3)", m.UnknownStation)
	}
	for _, st := range []string{"nowhere-station", "elsewhere"} {
		if n := strings.Count(logs.String(), "station="+st+" "); n != map[string]int{"nowhere-station": 2, "elsewhere": 1}[st] {
			// nowhere-station: once per Open (Z1 before the restart, B7 after).
			t.Errorf("station %s logged %d times:\n%s", st, n, logs.String())
		}
	}
	if strings.Contains(logs.String(), "beilun-rail-station") {
		t.Errorf("a known station was logged:\n%s", logs.String())
	}
}
