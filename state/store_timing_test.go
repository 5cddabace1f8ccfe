package state

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkStoredIDs measures the id lookups of a batch of 500 new events
// (all miss) against a store of 1,000,000 events compacted to the bottom
// level, where most of a long-running store's index lies.
func BenchmarkStoredIDs(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir(), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	boxes := genBoxes(20000)
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	n := 0
	batch := make([]Event, 5000)
	for range 200 {
		for i := range batch {
			batch[i] = Event{ID: fmt.Sprintf("e%d", n), Container: boxes[n%len(boxes)], Code: CodeGTIN, Time: t0 + int64(n)*int64(time.Second), Source: "b"}
			n++
		}
		if _, err := s.Apply(&Batch{Topic: "t", Next: int64(n), Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		b.Fatal(err)
	}
	probe := make([]Event, 500)
	for i := range probe {
		probe[i] = Event{ID: fmt.Sprintf("new%d", i)}
	}
	var sc applyScratch
	for b.Loop() {
		stored, err := s.storedIDs(&sc, probe)
		if err != nil {
			b.Fatal(err)
		}
		if len(stored) != 0 {
			b.Fatalf("%d new ids found stored", len(stored))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(probe)), "ns/lookup")
}
