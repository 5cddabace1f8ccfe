package sim

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

const testPartitions = 6

func newCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, "port.rfid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestRunKfake(t *testing.T) {
	brokers := newCluster(t)
	cfg := Config{
		Brokers: brokers, Total: 2000, Seed: 11, BadRate: 0.05, DupRate: 0.05, Start: testStart,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGenerator(cfg)
	want := map[string]int{} // key + value -> count
	for _, r := range g.Next(nil, 2000) {
		want[string(r.Key)+"\x00"+string(r.Value)]++
	}
	if st != g.Stats() {
		t.Fatalf("Run stats %+v, generator stats %+v", st, g.Stats())
	}

	partition := map[string]int{}
	total := 0
	for p := range testPartitions {
		for _, m := range readTopicPartition(ctx, t, brokers[0], "port.rfid", p) {
			total++
			k := string(m.Key)
			if q, ok := partition[k]; ok && q != p {
				t.Errorf("key %s in partitions %d and %d", k, q, p)
			}
			partition[k] = p
			want[k+"\x00"+string(m.Value)]--
		}
	}
	if total != 2000 {
		t.Fatalf("read %d records, want 2000", total)
	}
	for kv, n := range want {
		if n != 0 {
			t.Fatalf("record %q: %d more produced than read", kv, n)
		}
	}
}

// TestRunRateAndCancel: Run paces at the rate and ends cleanly with its
// context. Two seconds leave room for the first batch on a loaded machine
// (the writer dials the broker first).
func TestRunRateAndCancel(t *testing.T) {
	brokers := newCluster(t)
	const rate = 2000
	// Long enough that a loaded machine (the race detector beside other
	// packages' tests) gets its first batch acknowledged: CI once saw none
	// within 2 s.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	st, err := Run(ctx, Config{Brokers: brokers, Rate: rate, Start: testStart})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Run ended by its context: %v, want nil", err)
	}
	// Each batch (rate × pacing records) leaves no earlier than the first
	// record's due time.
	if limit := int64(rate*elapsed.Seconds()) + rate*int64(pacing)/int64(time.Second); st.Produced == 0 || st.Produced > limit {
		t.Fatalf("produced %d records in %v at %d/s, want 1..%d", st.Produced, elapsed, rate, limit)
	}
}

// TestRunDayPacing: sustained and burst modes hold the target rate (lower
// bounds only: a loaded machine may be slower, never faster), and the
// produced records are the generator's.
func TestRunDayPacing(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, "port.rfid", "port.ais", "port.transport", "port.customs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for _, tc := range []struct {
		name     string
		rate     float64
		burst    time.Duration
		speedup  float64
		duration time.Duration
		total    int64
		atLeast  time.Duration
	}{
		{"sustained", 4000, 0, 0, 0, 2000, 490 * time.Millisecond},
		{"burst", 2000, 400 * time.Millisecond, 0, 0, 2000, 400 * time.Millisecond},
		{"speedup", 0, 0, 36000, 2 * time.Hour, 0, 190 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DayConfig{Brokers: c.ListenAddrs(), Scale: 0.05, Seed: 5, Start: testStart, Rate: tc.rate,
				Burst: tc.burst, Speedup: tc.speedup, Duration: tc.duration, Total: tc.total}
			var reports int
			cfg.Progress = func(p DayProgress) {
				if p.Done {
					reports++
				}
			}
			start := time.Now()
			st, err := RunDay(t.Context(), cfg)
			el := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if el < tc.atLeast {
				t.Errorf("took %v, want at least %v", el, tc.atLeast)
			}
			if tc.total > 0 && st.Produced != tc.total {
				t.Errorf("produced %d, want %d", st.Produced, tc.total)
			}
			if tc.total == 0 {
				if n := len(NewDayGenerator(cfg).Next(nil, 1<<30)); st.Produced != int64(n) {
					t.Errorf("produced %d, the generator has %d", st.Produced, n)
				}
			}
			if reports != 1 {
				t.Errorf("%d final progress reports, want 1", reports)
			}
			t.Logf("%d records in %v", st.Produced, el)
		})
	}
}
