package ingest

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestWorkerCountsHeaderBytes: records with a 60 KiB header and an empty
// value each become a dead letter that keeps the header; the worker counts
// those header bytes and applies its batch before it holds more than
// flushBytes (and one more record).
func TestWorkerCountsHeaderBytes(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := New(Config{Brokers: []string{"127.0.0.1:9"}}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	p := tp{topic: e.cfg.Topics.RFID, partition: 0}
	w := worker{e: e, p: p, ps: &partitionState{}, dec: e.decoders[p.topic]()}
	w.reset(0)
	big := bytes.Repeat([]byte("h"), 60<<10)
	const n = 1200 // 70 MiB of headers
	for i := range n {
		rec := &fetch.Record{Offset: int64(i), Key: []byte("K"), Value: []byte{}, Size: 0,
			Headers: []fetch.Header{{Key: "trace", Value: big}}}
		if err := w.add(rec); err != nil {
			t.Fatal(err)
		}
		held := 0
		for _, m := range w.batch.Outbox {
			held += len(m.Key) + len(m.Value)
			for _, h := range m.Headers {
				held += len(h.Key) + len(h.Value)
			}
		}
		if held > flushBytes+128<<10 {
			t.Fatalf("after record %d the worker holds %d bytes of dead letters, bound %d", i, held, flushBytes)
		}
	}
	if got := e.metrics.batches.Load(); got < 2 {
		t.Errorf("%d batches applied for %d MiB of dead letters, want at least 2", got, n*60>>10)
	}
}
