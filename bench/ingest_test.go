package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunIngest checks the harness, not the speed: a small run must read and
// store every record and report consistent figures.
func TestRunIngest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := IngestConfig{Records: 3000, Rounds: 1, Partitions: 3, Containers: 500, DataDir: dir}
	res, err := RunIngest(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case res.Scenario != "ingest" || res.Records != 3000 || res.Partitions != 3 || res.Rounds != 1 || res.Codec != "lz4":
		t.Errorf("config not reported: %+v", res)
	case res.CeilingRecords != 3000 || res.EngineRecords != 3000:
		t.Errorf("ceiling read %d records, engine stored %d, want 3000 each", res.CeilingRecords, res.EngineRecords)
	case !(res.CeilingRate > 0 && res.EngineRate > 0 && res.Ratio > 0):
		t.Errorf("rates %v, %v, ratio %v: want > 0", res.CeilingRate, res.EngineRate, res.Ratio)
	case !(res.CeilingSeconds > 0 && res.EngineSeconds > 0):
		t.Errorf("seconds %v, %v: want > 0", res.CeilingSeconds, res.EngineSeconds)
	case len(res.PerRound) != 1 || res.PerRound[0].Ratio != res.Ratio:
		t.Errorf("per round %+v, ratio %v", res.PerRound, res.Ratio)
	case res.ProducedBytes <= 0 || res.BrokerDiskBytes <= 0 || res.StateDiskBytes == 0 || res.EngineBatches == 0:
		t.Errorf("sizes not reported: %+v", res)
	}
	if got, want := res.Ratio, res.EngineRate/res.CeilingRate; got != want {
		t.Errorf("ratio %v, want engine/ceiling %v", got, want)
	}
	// The working directory is removed.
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("data dir after the run: %v, %v", ents, err)
	}

	var buf bytes.Buffer
	res.WriteTable(&buf)
	for _, s := range []string{"ceiling: fetch only", "engine: to durable state", "ratio engine/ceiling", "3000"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "ceiling_records_per_sec", "engine_records_per_sec", "ratio", "produced_bytes", "state_bytes_per_record", "no_sync", "per_round"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js)
		}
	}
}

func TestIngestConfigValidate(t *testing.T) {
	if err := (IngestConfig{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range []IngestConfig{
		{Records: -1}, {Partitions: 1001}, {Containers: -5}, {Codec: "brotli"}, {Rounds: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
