package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestDCSASmall runs the dcsa scenario once on small data and checks that
// every case answered and the fan-out reached every subscriber; it asserts
// nothing about speed.
func TestDCSASmall(t *testing.T) {
	res, err := RunDCSA(t.Context(), DCSAConfig{Events: 3000, Duration: 100 * time.Millisecond, Conns: 2, Subscribers: 5, FanoutEvents: 200, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != 7 {
		t.Fatalf("%d cases", len(res.Cases))
	}
	for _, c := range res.Cases {
		if c.Requests == 0 || c.Errors != 0 || c.P99 < c.P50 {
			t.Errorf("case %s: %+v", c.Name, c)
		}
	}
	if res.FanoutPerSec <= 0 || res.FanoutPosts < 5 || res.SignatureFails != 0 {
		t.Errorf("fan-out %+v", res)
	}
	var b bytes.Buffer
	res.WriteTable(&b)
	if !strings.Contains(b.String(), "trivial handler (ceiling)") || !strings.Contains(b.String(), "200 events to 5 subscribers") {
		t.Errorf("table:\n%s", b.String())
	}
}
