package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porttrack/porttrack/bench/sim"
)

// TestSimThroughJT808Gateway: 'porttrack sim --jt808' drives the day's
// trucks through terminals connected to 'porttrack gateway jt808' in front
// of the demo's broker and engine; every record reaches the engine, the
// truck positions by way of the gateway.
func TestSimThroughJT808Gateway(t *testing.T) {
	d := startDemo(t)
	listen, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"gateway", "jt808", "--listen", listen, "--brokers", d.broker,
			"--data-dir", filepath.Join(t.TempDir(), "gw"), "--http-addr", metrics}, os.Getenv, io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway returned %v", err)
		}
	}()
	waitFor(t, 10*time.Second, func() (bool, string) {
		_, err := scrape("http://" + metrics + "/metrics")
		return err == nil, fmt.Sprint(err)
	})
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	args := []string{"sim", "--brokers", d.broker, "--jt808", listen, "--scale", "0.05", "--duration", "1h", "--rate", "max",
		"--bad-rate", "0.01", "--start", start.Format(time.RFC3339)}
	if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	g := sim.NewDayGenerator(sim.DayConfig{Scale: 0.05, Duration: time.Hour, BadRate: 0.01, Start: start, Seed: 1})
	n := int64(len(g.Next(nil, 1<<30)))
	st := g.Stats()
	gw, err := scrape("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	viaGateway := gw["porttrack_jt808_records_produced_total"]
	if viaGateway == 0 || gw["porttrack_jt808_produce_errors_total"] != 0 {
		t.Fatalf("gateway produced %v records, %v produce errors", viaGateway, gw["porttrack_jt808_produce_errors_total"])
	}
	var m map[string]float64
	sum := func(name string) float64 {
		total := 0.0
		for _, v := range series(m, name) {
			total += v
		}
		return total
	}
	waitFor(t, 60*time.Second, func() (bool, string) {
		var err error
		if m, err = scrape(d.base + "/metrics"); err != nil {
			return false, err.Error()
		}
		c := m["porttrack_ingest_records_consumed_total"]
		dead, applied := sum("porttrack_ingest_records_dead_lettered_total"), m["porttrack_ingest_records_applied_total"]
		return c == float64(n) && applied+dead == c && dead == float64(st.Malformed),
			fmt.Sprintf("consumed %v of %d records (%v through the gateway): %v applied, %v dead-lettered (%d malformed made)",
				c, n, viaGateway, applied, dead, st.Malformed)
	})
	t.Logf("%d records, %v of them truck positions through the gateway", n, viaGateway)
}
