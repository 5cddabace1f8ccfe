package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunQueries: the queries scenario runs the geo scenario's point, area
// and ceiling cases, closed and open loop, without Redis and updates, and
// reports itself as "queries".
func TestRunQueries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunQueries(ctx, GeoConfig{
		Objects: 2000, Duration: 200 * time.Millisecond, Conns: 4, Partitions: 2,
		RedisServer: "redis-server", UpdateRate: 2000, // overridden
		LoadGen: []string{os.Args[0], "-test.run=^$"}, DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Cases {
		names = append(names, c.Name)
		if c.Requests == 0 || c.Errors != 0 {
			t.Errorf("case %s: %d requests, %d errors", c.Name, c.Requests, c.Errors)
		}
	}
	if got, want := strings.Join(names, ","), "point,radius,ceiling,radius_open"; got != want {
		t.Errorf("cases %s, want %s", got, want)
	}
	if res.Scenario != "queries" || res.RedisVersion != "" || res.Updates != nil {
		t.Errorf("scenario %q, Redis %q, updates %v", res.Scenario, res.RedisVersion, res.Updates)
	}
}
