// The connection guard's tests open the state through portstate: the guard
// asks the customs domain (state/customs) what blocks a box.
package state_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestGuardScenarios runs the connection-guard scenarios in
// testdata/guard/*.txt. Each line is one batch or one check:
//
//	plan rail|barge ID key=value...    a plan (service, from, to, departure, cutoff, t, wagons=W1:BOX,BOX;W2:BOX)
//	event BOX CODE TIME [loc=ID]       a container event (RFID / EPCIS)
//	waybill ID key=value...            a truck waybill (plate, containers=BOX,BOX, from, to, gate, start, end, t)
//	planevent rail|barge ID EVENT TIME [container=BOX] [wagon=W] [station=S]
//	customs BOX EVENT TIME [hold_kind=customs|quarantine] [reason=...]   a container customs message
//	restart                            close and reopen the store
//	verdict rail|barge ID BOX VERDICT [REASON,REASON]   the guard's current judgement
//	alerts                             the connection alerts written since the last "alerts", one per line:
//	  BOX VERDICT [REASONS] [next=ID]
//	end                                (after alerts lines)
//
// Times are RFC 3339 or hh:mm on 2026-11-22 (UTC).
func TestGuardScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/guard/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runGuardScenario(t, f) })
	}
}

func guardTime(t *testing.T, s string) int64 {
	t.Helper()
	if len(s) == 5 && s[2] == ':' {
		s = "2026-11-22T" + s + ":00Z"
	}
	if rest, ok := strings.CutPrefix(s, "d+1T"); ok { // d+1T07:00: the next day
		s = "2026-11-23T" + rest + ":00Z"
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm.UnixNano()
}

func kv(t *testing.T, fields []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("field %q is not key=value", f)
		}
		m[k] = v
	}
	return m
}

func runGuardScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fs := vfs.NewMem()
	open := func() *portstate.State {
		s, err := portstate.Open(state.Options{Dir: "db", FS: fs, Guard: state.GuardConfig{AlertTopic: "porttrack.alerts"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	defer func() { s.Close() }()
	var off int64
	apply := func(b state.Batch) {
		t.Helper()
		off++
		b.Topic, b.Next = "port.transport", off
		if _, err := s.Apply(&b); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	var seenSeq uint64
	lines := strings.Split(string(data), "\n")
	for n := 0; n < len(lines); n++ {
		line := strings.TrimSpace(lines[n])
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		at := fmt.Sprintf("%s:%d: %s", filepath.Base(file), n+1, line)
		switch f[0] {
		case "plan":
			m, _ := state.ParseMode(f[1])
			a := kv(t, f[3:])
			p := state.Plan{Mode: m, ID: f[2], Service: a["service"], From: a["from"], To: a["to"],
				Departure: guardTime(t, a["departure"]), Cutoff: guardTime(t, a["cutoff"]), Time: guardTime(t, a["t"])}
			for _, w := range strings.Split(a["wagons"], ";") {
				id, boxes, _ := strings.Cut(w, ":")
				wg := state.Wagon{ID: id}
				if boxes != "" {
					wg.Containers = strings.Split(boxes, ",")
				}
				p.Wagons = append(p.Wagons, wg)
			}
			apply(state.Batch{Plans: []state.Plan{p}})
		case "event":
			code, ok := state.ParseCode(f[2])
			if !ok {
				t.Fatalf("%s: code %q", at, f[2])
			}
			a := kv(t, f[4:])
			tm := guardTime(t, f[3])
			apply(state.Batch{Events: []state.Event{{ID: fmt.Sprintf("e%d", n), Container: f[1], Code: code, Time: tm, Location: a["loc"], Source: "test"}}})
		case "waybill":
			a := kv(t, f[2:])
			w := state.Waybill{ID: f[1], Plate: a["plate"], From: a["from"], To: a["to"], Gate: a["gate"], Time: guardTime(t, a["t"])}
			if a["containers"] != "" {
				w.Containers = strings.Split(a["containers"], ",")
			}
			if a["start"] != "" {
				w.ApptStart, w.ApptEnd = guardTime(t, a["start"]), guardTime(t, a["end"])
			}
			apply(state.Batch{Waybills: []state.Waybill{w}})
		case "planevent":
			m, _ := state.ParseMode(f[1])
			a := kv(t, f[5:])
			apply(state.Batch{PlanEvents: []state.PlanEvent{{Mode: m, Plan: f[2], Event: f[3], Time: guardTime(t, f[4]),
				Container: a["container"], Wagon: a["wagon"], Station: a["station"]}}})
		case "customs":
			a := kv(t, f[4:])
			apply(state.Batch{Customs: []state.CustomsDoc{{Type: state.CustomsContainer, ID: fmt.Sprintf("c%d", n), Time: guardTime(t, f[3]),
				Box: &state.ContainerCustomsEvent{Container: f[1], Event: f[2], HoldKind: a["hold_kind"], Reason: a["reason"]}}}})
		case "restart":
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open()
		case "verdict":
			m, _ := state.ParseMode(f[1])
			p, err := s.Plan(m, f[2])
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			g := guardOf(p, f[3])
			if g == nil {
				t.Fatalf("%s: %s not on the plan", at, f[3])
			}
			got := g.Verdict.String()
			if len(g.Reasons) > 0 {
				var rs []string
				for _, r := range g.Reasons {
					rs = append(rs, r.String())
				}
				got += " " + strings.Join(rs, ",")
			}
			if want := strings.Join(f[4:], " "); got != want {
				t.Errorf("%s: got %q", at, got)
			}
		case "alerts":
			var got []string
			err := s.ScanOutbox(1000, func(e *state.OutboxEntry) error {
				if e.Seq <= seenSeq || e.Topic != "porttrack.alerts" {
					return nil
				}
				seenSeq = e.Seq
				var a struct {
					Container string
					Verdict   string
					Reasons   []struct{ Code string }
					Next      *struct{ ID string } `json:"next_departure"`
				}
				if err := json.Unmarshal(e.Value, &a); err != nil {
					return fmt.Errorf("alert %s: %v", e.Value, err)
				}
				line := a.Container + " " + a.Verdict
				var rs []string
				for _, r := range a.Reasons {
					rs = append(rs, r.Code)
				}
				if len(rs) > 0 {
					line += " " + strings.Join(rs, ",")
				}
				if a.Next != nil {
					line += " next=" + a.Next.ID
				}
				got = append(got, line)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for n++; n < len(lines) && strings.TrimSpace(lines[n]) != "end"; n++ {
				if l := strings.TrimSpace(lines[n]); l != "" && !strings.HasPrefix(l, "#") {
					want = append(want, l)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: alerts\n got: %q\nwant: %q", at, got, want)
			}
		default:
			t.Fatalf("%s: unknown command", at)
		}
	}
}

// TestGuardRailRamp: with the port model, an RFID read at the Beilun rail
// ramp (its facility CNNGB-BEILUN-RAIL is the station's) counts as at the
// station, and a load there as loaded onto the train.
func TestGuardRailRamp(t *testing.T) {
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	s, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const box = "MSKU9070323"
	h := func(hm string) int64 { return guardTime(t, hm) }
	var off int64
	apply := func(b state.Batch) {
		off++
		b.Topic, b.Next = "port.transport", off
		if _, err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	verdict := func() string {
		p, err := s.Plan(state.ModeRail, "X1")
		if err != nil {
			t.Fatal(err)
		}
		g := guardOf(p, box)
		return fmt.Sprint(g.Verdict, g.Reasons)
	}
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "X1", From: "beilun-rail-station", Departure: h("20:00"), Cutoff: h("18:00"), Time: h("16:00"),
		Wagons: []state.Wagon{{ID: "W1", Containers: []string{box}}}}}})
	if got := verdict(); got != "at_risk [not_discharged no_truck_appointment late]" {
		t.Errorf("before: %s", got)
	}
	apply(state.Batch{Events: []state.Event{{ID: "r1", Container: box, Code: state.CodeDISC, Time: h("16:30"), Location: "CNNGB-BEILUN-RAIL", Source: "t"}}})
	if got := verdict(); got != "on_track []" { // at the station: loading left
		t.Errorf("at the ramp: %s", got)
	}
	apply(state.Batch{Events: []state.Event{{ID: "r2", Container: box, Code: state.CodeLOAD, Time: h("17:00"), Location: "CNNGB-BEILUN-RAIL", Source: "t"}}})
	apply(state.Batch{Events: []state.Event{{ID: "x", Container: "CSQU3054383", Code: state.CodeGTIN, Time: h("19:00"), Location: "CNNGB-BLCT-GATE", Source: "t"}}})
	if got := verdict(); got != "on_track []" { // loaded by the ramp read: the cutoff passing changes nothing
		t.Errorf("loaded at the ramp: %s", got)
	}
	// A train from an inland station the port model does not know is
	// judged by time alone: unjudged before its cutoff, with the reason.
	apply(state.Batch{Plans: []state.Plan{{Mode: state.ModeRail, ID: "X2", From: "yiwu-west", To: "beilun-rail-station", Departure: h("23:00"), Cutoff: h("22:00"), Time: h("19:30"),
		Wagons: []state.Wagon{{ID: "W1", Containers: []string{"APZU4812090"}}}}}})
	p, err := s.Plan(state.ModeRail, "X2")
	if err != nil {
		t.Fatal(err)
	}
	if g := guardOf(p, "APZU4812090"); g.Verdict != state.VerdictNone || !slices.Equal(g.Reasons, []state.Reason{state.ReasonUnknownStation}) || p.Wake != h("21:00")+1 { // 19:30 + 1h load: late at 21:00
		t.Errorf("inland departure: %+v wake %d", g, p.Wake)
	}
}

// guardOf returns the guard state of box c on plan p, nil when c is not on
// it.
func guardOf(p state.PlanState, c string) *state.GuardState {
	for i := range p.Containers {
		if p.Containers[i].Container == c {
			return &p.Containers[i]
		}
	}
	return nil
}
