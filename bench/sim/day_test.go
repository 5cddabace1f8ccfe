package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/geo/portmodel"
)

// TestDayKeys: records about one container are keyed by its number, truck
// positions by plate, rail plans and train events by train, AIS by
// station, so that murmur2 partitioning co-partitions the topics by box.
func TestDayKeys(t *testing.T) {
	g := NewDayGenerator(DayConfig{Scale: 0.05, Seed: 9, Start: fixedStart, BadRate: -1})
	seen := map[string]int{}
	for _, r := range g.Next(nil, 1<<30) {
		var v struct {
			Type, Plate, Train, Container string
			Containers                    []string
			Epc                           string
			EpcList                       []string
		}
		switch r.Topic {
		case "port.ais":
			if !bytes.HasPrefix(r.Key, []byte("NBVTS-")) && !bytes.HasPrefix(r.Key, []byte("ZSVTS-")) {
				t.Fatalf("AIS record keyed %q", r.Key)
			}
			seen["ais"]++
			continue
		case "port.rfid", "port.transport":
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s %s: %v", r.Topic, r.Value, err)
			}
		default:
			t.Fatalf("topic %q", r.Topic)
		}
		want := ""
		switch {
		case r.Topic == "port.rfid":
			want = strings.TrimPrefix(v.Epc, "urn:epc:id:bic:")
			if len(v.EpcList) == 1 {
				want = strings.TrimPrefix(v.EpcList[0], "urn:epc:id:bic:")
			}
		case v.Type == "truck.position":
			want = v.Plate
		case v.Type == "truck.waybill":
			want = v.Containers[0]
		case v.Type == "rail.plan":
			want = v.Train
		case v.Type == "rail.event" && v.Container != "":
			want = v.Container
		case v.Type == "rail.event":
			want = v.Train
		default:
			t.Fatalf("record %s", r.Value)
		}
		if string(r.Key) != want {
			t.Fatalf("record %s keyed %q, want %q", r.Value, r.Key, want)
		}
		seen[r.Topic+" "+v.Type]++
	}
	t.Logf("%v", seen)
	if len(seen) != 7 {
		t.Errorf("kinds seen: %v, want AIS, RFID, truck.position, truck.waybill, rail.plan, rail.event", seen)
	}
}

// TestDayCustomsSource: the customs source is called at the milestones of
// the boxes, in production order, and what it returns is produced on the
// customs topic at its time, deterministically.
func TestDayCustomsSource(t *testing.T) {
	run := func() ([]Record, map[MilestoneKind]int, DayStats) {
		kinds := map[MilestoneKind]int{}
		var last time.Time
		cfg := DayConfig{Scale: 0.05, Seed: 4, Start: fixedStart, Customs: func(dst []Record, m Milestone) []Record {
			kinds[m.Kind]++
			if m.Time.Before(last) {
				t.Errorf("milestone %v at %v before the previous one at %v", m.Kind, m.Time, last)
			}
			last = m.Time
			if m.Container == "" || m.Time.IsZero() {
				t.Errorf("milestone without container or time: %+v", m)
			}
			return append(dst, Record{Key: []byte(m.Container), Value: fmt.Appendf(nil, `{"milestone":%q}`, m.Kind), Time: m.Time.Add(time.Minute)})
		}}
		g := NewDayGenerator(cfg)
		return g.Next(nil, 1<<30), kinds, g.Stats()
	}
	recs, kinds, st := run()
	n := 0
	for _, r := range recs {
		if r.Topic == "port.customs" {
			n++
		}
	}
	total := 0
	for _, c := range kinds {
		total += c
	}
	t.Logf("milestones %v; %d customs records", kinds, n)
	if n != total || st.ByKind[kindCustoms] != int64(n) {
		t.Errorf("%d customs records produced, %d counted, %d milestones", n, st.ByKind[kindCustoms], total)
	}
	for _, k := range []MilestoneKind{Manifest, Discharged, Loaded, GateIn, GateOut, RailLoaded, RailUnloaded, Inspected} {
		if kinds[k] == 0 {
			t.Errorf("no %v milestone", k)
		}
	}
	again, _, _ := run()
	if len(again) != len(recs) {
		t.Fatalf("second run: %d records, first %d", len(again), len(recs))
	}
	for i := range recs {
		if recs[i].Topic != again[i].Topic || !bytes.Equal(recs[i].Value, again[i].Value) {
			t.Fatalf("record %d differs between runs", i)
		}
	}
}

// TestDayCranesAtBerth: every box a quay crane loads or discharges is read
// by a crane of the berth its ship lies at, so the engine places the box
// where the ship's AIS positions are and finds the ship.
func TestDayCranesAtBerth(t *testing.T) {
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(portmodel.GeoJSON(), &fc); err != nil {
		t.Fatal(err)
	}
	berthOf := map[string]string{}
	for _, f := range fc.Features {
		if f.Properties["kind"] == "reader" {
			r, _ := f.Properties["reader"].(string)
			b, _ := f.Properties["fence"].(string)
			berthOf[r] = b
		}
	}
	type move struct {
		box, code string
		at        int64
	}
	want := map[move]string{}
	cfg := DayConfig{Scale: 0.05, Seed: 11, Start: fixedStart, BadRate: -1, Customs: func(dst []Record, m Milestone) []Record {
		switch m.Kind {
		case Loaded:
			want[move{m.Container, "LOAD", m.Time.UnixMilli()}] = m.Vessel.Berth
		case Discharged:
			want[move{m.Container, "DISC", m.Time.UnixMilli()}] = m.Vessel.Berth
		}
		return dst
	}}
	checked := map[string]int{}
	for _, r := range NewDayGenerator(cfg).Next(nil, 1<<30) {
		if r.Topic != "port.rfid" {
			continue
		}
		var v struct {
			Reader, Epc string
			T           time.Time
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		code := v.Reader[strings.LastIndexByte(v.Reader, '-')+1:]
		if !strings.Contains(v.Reader, "-QC") || (code != "LOAD" && code != "DISC") {
			continue
		}
		berth, ok := want[move{strings.TrimPrefix(v.Epc, "urn:epc:id:bic:"), code, v.T.UnixMilli()}]
		if !ok {
			t.Fatalf("%s: no %s milestone of its ship", r.Value, code)
		}
		if berthOf[v.Reader] != berth {
			t.Fatalf("%s: crane of %s, the ship lies at %s", r.Value, berthOf[v.Reader], berth)
		}
		checked[berth]++
	}
	t.Logf("crane moves checked by berth: %v", checked)
	total := 0
	for _, n := range checked {
		total += n
	}
	if len(checked) < 2 || total < 100 {
		t.Errorf("%d crane moves at %d berths: the test covers too little", total, len(checked))
	}
}
