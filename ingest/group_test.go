package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// logRecord is one captured log line: level, message and attributes.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logCapture is a slog handler that keeps every record.
type logCapture struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
}

func newLogCapture() *logCapture { return &logCapture{mu: new(sync.Mutex), records: new([]logRecord)} }

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range c.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value.String(); return true })
	c.mu.Lock()
	*c.records = append(*c.records, rec)
	c.mu.Unlock()
	return nil
}
func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCapture{mu: c.mu, records: c.records, attrs: append(slices.Clone(c.attrs), as...)}
}
func (c *logCapture) WithGroup(string) slog.Handler { return c }

// matching returns the records with message prefix msg at level.
func (c *logCapture) matching(level slog.Level, msg string) []logRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRecord
	for _, r := range *c.records {
		if r.level == level && strings.HasPrefix(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

func runEngine(t *testing.T, cfg ingest.Config) (stop func()) {
	t.Helper()
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ingest.New(cfg, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("engine did not stop within 15s")
		}
		store.Close()
	}
	t.Cleanup(stop)
	return stop
}

// TestAssignmentLoggedAtWarn: two engines in one consumer group each log
// at WARN, at every change of their assignment, the partitions they own
// and how many members share the group.
func TestAssignmentLoggedAtWarn(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "port.rfid", "porttrack.dlq"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := func(log *logCapture) ingest.Config {
		return ingest.Config{Brokers: c.ListenAddrs(), GroupID: "porttrack-test",
			Topics:         ingest.Topics{AIS: "-", Transport: "-", Customs: "-"},
			SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: 2 * time.Second,
			JoinGroupBackoff: 50 * time.Millisecond, FetchMaxWait: 50 * time.Millisecond, Logger: slog.New(log)}
	}
	const changed = "consumer group assignment changed"
	// last returns the newest assignment log of l with the given members.
	last := func(l *logCapture, members string) (logRecord, bool) {
		rs := l.matching(slog.LevelWarn, changed)
		if len(rs) == 0 || rs[len(rs)-1].attrs["members"] != members {
			return logRecord{}, false
		}
		return rs[len(rs)-1], true
	}
	la, lb := newLogCapture(), newLogCapture()
	runEngine(t, cfg(la))
	waitFor(t, 20*time.Second, func() (bool, string) {
		r, ok := last(la, "1")
		return ok && r.attrs["owns"] == "port.rfid[0,1,2,3]", fmt.Sprint(la.matching(slog.LevelWarn, changed))
	})
	stopB := runEngine(t, cfg(lb))
	var a, b logRecord
	waitFor(t, 30*time.Second, func() (bool, string) {
		var okA, okB bool
		a, okA = last(la, "2")
		b, okB = last(lb, "2")
		return okA && okB, fmt.Sprintf("A %v\nB %v", la.matching(slog.LevelWarn, changed), lb.matching(slog.LevelWarn, changed))
	})
	if a.attrs["partitions"] != "2" || b.attrs["partitions"] != "2" || a.attrs["owns"] == b.attrs["owns"] {
		t.Errorf("shared group: A owns %s (%s), B owns %s (%s)", a.attrs["owns"], a.attrs["partitions"], b.attrs["owns"], b.attrs["partitions"])
	}
	if a.attrs["group"] != "porttrack-test" {
		t.Errorf("log names group %q", a.attrs["group"])
	}
	stopB()
	waitFor(t, 30*time.Second, func() (bool, string) {
		r, ok := last(la, "1")
		return ok && r.attrs["owns"] == "port.rfid[0,1,2,3]", fmt.Sprint(la.matching(slog.LevelWarn, changed))
	})
}

// TestConnectBackoff: with no broker answering, the topic lookup is retried
// with a doubling, capped pause and one WARN line per attempt; readiness
// says why. The defaults start at 250ms.
func TestConnectBackoff(t *testing.T) {
	log := newLogCapture()
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, err := ingest.New(ingest.Config{Brokers: []string{"127.0.0.1:1"}, GroupID: "g",
		ConnectBackoff: 5 * time.Millisecond, ConnectBackoffMax: 40 * time.Millisecond, Logger: slog.New(log)}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	const lookup = "looking up input topics"
	waitFor(t, 20*time.Second, func() (bool, string) {
		n := len(log.matching(slog.LevelWarn, lookup))
		return n >= 7, fmt.Sprintf("%d lookup lines", n)
	})
	if e.Ready() || !strings.Contains(e.NotReadyReason(), "retrying in") {
		t.Errorf("ready %v, reason %q", e.Ready(), e.NotReadyReason())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	var got []string
	for _, r := range log.matching(slog.LevelWarn, lookup)[:7] {
		got = append(got, r.attrs["retry_in"])
	}
	if want := []string{"5ms", "10ms", "20ms", "40ms", "40ms", "40ms", "40ms"}; !slices.Equal(got, want) {
		t.Errorf("retry_in %q, want %q", got, want)
	}
	if n := len(log.matching(slog.LevelWarn, "")); n != len(log.matching(slog.LevelWarn, lookup)) {
		t.Errorf("%d WARN lines, %d of them lookups: one line per attempt", n, len(log.matching(slog.LevelWarn, lookup)))
	}

	// The default first pause.
	dlog := newLogCapture()
	stop := runEngine(t, ingest.Config{Brokers: []string{"127.0.0.1:1"}, Logger: slog.New(dlog)})
	waitFor(t, 20*time.Second, func() (bool, string) { return len(dlog.matching(slog.LevelWarn, lookup)) > 0, "no lookup line" })
	stop()
	if r := dlog.matching(slog.LevelWarn, lookup)[0]; r.attrs["retry_in"] != "250ms" {
		t.Errorf("default first pause %q, want 250ms", r.attrs["retry_in"])
	}
}
