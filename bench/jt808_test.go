package bench

import (
	"context"
	"testing"
	"time"
)

// TestJT808Quick runs the jt808 scenario small: 200 terminals for 2 s,
// in-process.
func TestJT808Quick(t *testing.T) {
	res, err := RunJT808(context.Background(), JT808Config{Terminals: 200, Duration: 2 * time.Second, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Locations == 0 || res.LocationsPerSec <= 0 || res.P99ms <= 0 || res.CeilingPerSec <= 0 || res.ProduceErrors != 0 {
		t.Fatalf("result %+v", res)
	}
}
