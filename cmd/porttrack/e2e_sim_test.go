package main

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/porttrack/porttrack/bench/sim"
)

// TestSimDayThroughEngine produces a few simulated hours of the day model
// into the demo's broker with `porttrack sim` and checks, on the engine's
// metrics, that every record was consumed, that exactly the records the
// simulator meant to be malformed were dead-lettered and that every other
// record was applied (records of types accepted but not applied yet, if any,
// count as applied).
func TestSimDayThroughEngine(t *testing.T) {
	d := startDemo(t)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	args := []string{"sim", "--brokers", d.broker, "--scale", "0.05", "--duration", "4h", "--rate", "max",
		"--bad-rate", "0.01", "--start", start.Format(time.RFC3339)}
	if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	g := sim.NewDayGenerator(sim.DayConfig{Scale: 0.05, Duration: 4 * time.Hour, BadRate: 0.01, Start: start, Seed: 1})
	n := int64(len(g.Next(nil, 1<<30)))
	st := g.Stats()
	bad := st.Malformed
	if bad == 0 {
		t.Fatal("the test's traffic has no malformed records")
	}
	var (
		m                      map[string]float64
		dead, ignored, applied float64
	)
	sum := func(name string) float64 {
		total := 0.0
		for _, v := range series(m, name) {
			total += v
		}
		return total
	}
	// The counters move after the commit of each batch: wait until every
	// consumed record is accounted for.
	waitFor(t, 60*time.Second, func() (bool, string) {
		var err error
		if m, err = scrape(d.base + "/metrics"); err != nil {
			return false, err.Error()
		}
		c := m["porttrack_ingest_records_consumed_total"]
		dead, ignored = sum("porttrack_ingest_records_dead_lettered_total"), sum("porttrack_transport_records_ignored_total")
		applied = m["porttrack_ingest_records_applied_total"]
		return c == float64(n) && applied+dead == c,
			fmt.Sprintf("consumed %v of %d records: %v applied, %v dead-lettered, %v not yet applied", c, n, applied, dead, ignored)
	})
	t.Logf("%d records produced (%v by kind), %d malformed; engine: %v applied, %v dead-lettered, %v of them not applied yet",
		n, st.ByKind, bad, applied, dead, ignored)
	if dead != float64(bad) || applied != float64(n-bad) {
		t.Errorf("engine applied %v, dead-lettered %v (%v) of %d records; the simulator made %d malformed",
			applied, dead, series(m, "porttrack_ingest_records_dead_lettered_total"), n, bad)
	}
}
