package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestCatchUpStart: a Live run from CatchUpStart at speedup S reaches the
// wall clock after the span of simulated time.
func TestCatchUpStart(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		span    time.Duration
		speedup float64
		want    time.Time
	}{
		{12 * time.Hour, 30, now.Add(-12*time.Hour + 24*time.Minute)}, // 24 wall minutes to catch up
		{time.Hour, 60, now.Add(-59 * time.Minute)},
		{time.Hour, 1, now},
		{time.Hour, 0.5, now},
		{0, 30, now},
	} {
		got := CatchUpStart(now, c.span, c.speedup)
		if !got.Equal(c.want) {
			t.Errorf("CatchUpStart(now, %v, %g) = now%+v, want now%+v", c.span, c.speedup, got.Sub(now), c.want.Sub(now))
		}
		// Check the arithmetic the doc states: the simulated clock at
		// speedup S from the start meets the wall clock after span/S.
		if c.speedup > 1 && c.span > 0 {
			wall := time.Duration(float64(c.span) / c.speedup)
			if sim := got.Add(c.span); !sim.Equal(now.Add(wall)) {
				t.Errorf("span %v at %g: simulated clock %v, wall clock %v at the catch-up", c.span, c.speedup, sim, now.Add(wall))
			}
		}
	}
}

// TestRunDayLiveNeverAhead: a Live run that starts in the past replays it at
// its speedup, then never produces a record before its time: the simulated
// clock catches up with the wall clock and stays behind it.
func TestRunDayLiveNeverAhead(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "port.rfid", "port.ais", "port.transport", "port.customs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const speedup = 600
	begin := time.Now()
	start := CatchUpStart(begin, 10*time.Minute, speedup) // caught up after 1 s
	// The run ends a second after the simulated clock caught up with the
	// wall clock (the second shows it stays behind), or after a minute: a
	// loaded machine (the race detector, other packages' tests) replays
	// the past more slowly, which is no failure of the pacing.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var (
		mu     sync.Mutex
		ahead  time.Duration // most the simulated clock was ahead
		last   time.Time
		caught time.Time // when the simulated clock came within 2 s of the wall clock
	)
	cfg := DayConfig{Brokers: c.ListenAddrs(), Scale: 0.05, Seed: 1, Start: start, Duration: time.Hour,
		Speedup: speedup, Live: true, Progress: func(p DayProgress) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			ahead = max(ahead, p.SimTime.Sub(now))
			last = p.SimTime
			if caught.IsZero() && now.Sub(p.SimTime) < 2*time.Second {
				caught = now
				time.AfterFunc(time.Second, cancel)
			}
		}}
	st, err := RunDay(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if ahead > 0 {
		t.Errorf("the simulated clock ran %v ahead of the wall clock", ahead)
	}
	// The past was replayed: the clock caught up, not 10 minutes behind.
	if caught.IsZero() {
		t.Errorf("the simulated clock is %v behind the wall clock after a minute, want it caught up (started %v before)", time.Since(last), begin.Sub(start))
	} else {
		t.Logf("caught up %v after the start", caught.Sub(begin).Round(time.Millisecond))
	}
	if st.Produced == 0 {
		t.Fatal("nothing produced")
	}
	t.Logf("%d records; clock at the end %v behind the wall clock", st.Produced, time.Since(last))
}
