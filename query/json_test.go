package query

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimeMatchesTime compares appendTime with time.RFC3339Nano over
// edge cases and random instants over the whole int64 range (1677–2262).
func TestAppendTimeMatchesTime(t *testing.T) {
	cases := []int64{0, 1, -1, 999_999_999, 1e9, -1e9, 951_782_400e9 /* 2000-02-29 */, 4_107_542_400e9 /* 2100-03-01 */, math.MinInt64, math.MaxInt64, 1_798_761_600e9 + 120_000}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 200_000 {
		cases = append(cases, int64(rng.Uint64()))
	}
	for _, ns := range cases {
		want := `"` + time.Unix(0, ns).UTC().Format(time.RFC3339Nano) + `"`
		if got := string(appendTime(nil, ns)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ns, got, want)
		}
	}
}
