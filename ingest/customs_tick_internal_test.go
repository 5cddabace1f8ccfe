package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// countingDeadlines is a Deadlines that reports 2 results per call and
// signals each call.
type countingDeadlines struct{ calls chan struct{} }

func (d countingDeadlines) Expire() (int, error) {
	d.calls <- struct{}{}
	return 2, nil
}

// TestCustomsTickCallsDeadlines: the tick calls Config.Deadlines every
// CustomsTick and counts the results it wrote; without Deadlines there is
// no tick.
func TestCustomsTickCallsDeadlines(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d := countingDeadlines{calls: make(chan struct{})}
	e, err := New(Config{Brokers: []string{"127.0.0.1:9"}, CustomsTick: 10 * time.Millisecond, Deadlines: d}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.tickCustoms(ctx); close(done) }()
	<-d.calls
	<-d.calls // the first call's results are counted before the second call
	cancel()
	// Let a tick that raced the cancellation finish.
	go func() {
		for range d.calls {
		}
	}()
	<-done
	close(d.calls)
	if n := e.metrics.customs.expired.Load(); n < 2 {
		t.Errorf("expiry results counted %d, want at least 2", n)
	}

	quiet, err := New(Config{Brokers: []string{"127.0.0.1:9"}, CustomsTick: 10 * time.Millisecond}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	// Without Deadlines the tick returns at once (a live context: it would
	// tick on otherwise).
	quiet.tickCustoms(context.Background())
}
