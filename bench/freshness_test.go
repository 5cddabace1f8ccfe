package bench

import (
	"testing"
	"time"
)

// TestFreshness runs the scenario small and checks that the figures are
// consistent: every probe measured, queryable no sooner than acked.
func TestFreshness(t *testing.T) {
	res, err := RunFreshness(t.Context(), FreshnessConfig{LoadRate: 2000, Probes: 30, ProbeEvery: 10 * time.Millisecond, NoSync: true, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Queryable.P50 <= 0 || res.Fetched.P50 <= 0 || res.Acked.P50 <= 0 {
		t.Errorf("missing latencies: %+v", res)
	}
	if res.Queryable.Max < res.Acked.P50/2 {
		t.Errorf("queryable max %v ms below half the ack p50 %v ms", res.Queryable.Max, res.Acked.P50)
	}
	if res.LoadActual <= 0 {
		t.Errorf("no background load: %+v", res)
	}
}
