package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunCustoms checks the harness, not the speed: a small run reads and
// ingests every document, publishes every result and times the latency
// orders.
func TestRunCustoms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunCustoms(ctx, CustomsConfig{Orders: 100, Rounds: 1, Partitions: 3, Rate: 40, Duration: 500 * time.Millisecond, NoSync: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case res.Scenario != "customs" || res.Orders != 100 || res.Documents < 400 || res.Results < 100:
		t.Errorf("counts: %+v", res)
	case !(res.CeilingRate > 0 && res.EngineRate > 0 && res.Ratio > 0 && res.Ratio == res.EngineRate/res.CeilingRate):
		t.Errorf("rates %v, %v, ratio %v", res.CeilingRate, res.EngineRate, res.Ratio)
	case res.LatencyOrders != 20 || !(res.LatencyP50ms > 0 && res.LatencyP99ms >= res.LatencyP50ms && res.LatencyMaxms >= res.LatencyP99ms):
		t.Errorf("latency: %d orders, p50 %v p99 %v max %v", res.LatencyOrders, res.LatencyP50ms, res.LatencyP99ms, res.LatencyMaxms)
	}
	var sb strings.Builder
	res.WriteTable(&sb)
	for _, want := range []string{"ceiling: fetch only", "engine: decode, match, results acknowledged", "result latency at 40 orders/s (20 orders"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, sb.String())
		}
	}
}
