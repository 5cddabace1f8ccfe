package state

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
)

// BenchmarkApplyEvents applies batches of 500 events spread over 3000
// containers (the demo's mix of places), the path the location index adds
// to: ns/op is per batch.
func BenchmarkApplyEvents(b *testing.B) {
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		b.Fatal(err)
	}
	pm, err := NewPortModel(features, "CNNGB")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	boxes := genBoxes(3000)
	readers := []string{"BLCT-GATE-L1", "BLCT-QC02-DISC", "nbct-yard-c", "nbct-yard-a", "BLCT-INSP", "BLCT-QC04-LOAD"}
	codes := []Code{CodeGTIN, CodeDISC, CodeHOLD, CodeHOLD, CodeINSP, CodeLOAD}
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	n := 0
	batch := make([]Event, 500)
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch {
			k := n % len(readers)
			batch[i] = Event{ID: fmt.Sprintf("e%d", n), Container: boxes[(n*7919)%len(boxes)], Code: codes[k],
				Time: t0 + int64(n)*int64(time.Second), ReadPoint: readers[k], Location: "x", Source: "bench"}
			n++
		}
		if _, err := s.Apply(&Batch{Topic: "t", Next: int64(n), Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContainersAt measures the place lists on a store of 20,000
// containers that each pass gate → yard block → quay over 30 days (five
// BLCT yard blocks): the list now and at a past time (limit 100, and with
// count), and the dwell list.
func BenchmarkContainersAt(b *testing.B) {
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		b.Fatal(err)
	}
	pm, err := NewPortModel(features, "CNNGB")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	day := int64(24 * time.Hour)
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm, NoSync: true, Now: func() time.Time { return time.Unix(0, t0+31*day) }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	boxes := genBoxes(20000)
	blocks := []string{"A", "B", "C", "D", "E"}
	var batch []Event
	next := int64(0)
	for i, id := range boxes {
		in := t0 + int64(i)*(30*day/int64(len(boxes)))
		yard := in + int64(time.Hour)
		out := yard + int64(1+i%9)*day
		batch = append(batch,
			Event{ID: id + "-in", Container: id, Code: CodeGTIN, Time: in, ReadPoint: "BLCT-GATE-L1", Source: "bench",
				Refs: []Ref{{LinkBooking, fmt.Sprintf("BK%03d", i%100)}}},
			Event{ID: id + "-yard", Container: id, Code: CodeHOLD, Time: yard, Location: "CNNGB-BLCT-YARD-" + blocks[i%len(blocks)], Source: "bench"})
		if out < t0+30*day {
			batch = append(batch, Event{ID: id + "-load", Container: id, Code: CodeLOAD, Time: out, ReadPoint: "BLCT-QC02-LOAD", Source: "bench"})
		}
		if len(batch) >= 1000 {
			next++
			if _, err := s.Apply(&Batch{Topic: "t", Next: next, Events: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	next++
	if _, err := s.Apply(&Batch{Topic: "t", Next: next, Events: batch}); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	n := 0
	fn := func(*PlaceStay) error { n++; return nil }
	// A logistics caller whose booking 1 box in 100 carries.
	scope := &Scope{Bookings: []string{"BK007"}}
	for _, tc := range []struct {
		name  string
		at    int64
		count bool
		scope *Scope
	}{
		{"when=now", 0, false, nil},
		{"when=now/count=true", 0, true, nil},
		{"when=past", t0 + 15*day + 7*int64(time.Hour), false, nil},
		{"when=past/count=true", t0 + 15*day + 7*int64(time.Hour), true, nil},
		{"when=now/logistics", 0, false, scope},
		{"when=now/logistics/count=true", 0, true, scope},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			total := 0
			for b.Loop() {
				n = 0
				var err error
				_, total, err = s.ContainersAt("nbct-yard-c", tc.at, ListQuery{Limit: 100, Count: tc.count, Scope: tc.scope}, fn)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "listed")
			b.ReportMetric(float64(total), "count")
		})
	}
	b.Run("dwell=5d", func(b *testing.B) {
		b.ReportAllocs()
		total := 0
		for b.Loop() {
			var err error
			_, total, err = s.ContainersDwelling(t0+26*day, ListQuery{Limit: 100, Count: true}, func(string, int64) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(total), "count")
	})
}
