package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunStream checks the harness, not the speed: a small run ingests
// every record alone and with clients, and every client receives events.
func TestRunStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunStream(ctx, StreamConfig{Clients: 20, Ingest: IngestConfig{Records: 5000, Containers: 500, Rounds: 1, Partitions: 2, NoSync: true, DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scenario != "stream" || res.Clients != 20 || !(res.RateAlone > 0 && res.RateWith > 0) || res.EventsPerClient < 1 || res.BytesPerClient < 100 {
		t.Errorf("result %+v", res)
	}
	var sb strings.Builder
	res.WriteTable(&sb)
	if !strings.Contains(sb.String(), "engine with clients") {
		t.Errorf("table:\n%s", sb.String())
	}
}
