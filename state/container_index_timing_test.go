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
	readers := []string{"BLCT-GATE-L1", "BLCT-QC02-DISC", "BLCT-YARD-C", "BLCT-YARD-A", "BLCT-INSP", "BLCT-QC04-LOAD"}
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
