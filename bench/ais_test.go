package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goais "github.com/BertoldVdb/go-ais"
	"github.com/BertoldVdb/go-ais/aisnmea"

	"github.com/porttrack/porttrack/ingest/ais"
)

// aisCorpus is the NMEA log of the ais scenario, in the repository's
// testdata (testdata/README.md).
var aisCorpus = filepath.Join("..", "testdata", "ais", "aishub-3min-sample.nmea")

func TestRunAIS(t *testing.T) {
	res, err := RunAIS(context.Background(), AISConfig{File: aisCorpus, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.WriteTable(&table)
	t.Log("\n" + table.String())
	// DOMAIN.md §9.4: 85,182 sentences.
	if res.Sentences != 85182 || res.Porttrack.Positions == 0 || res.GoAIS.Positions == 0 || len(res.PerRound) != 1 {
		t.Errorf("result %+v", res)
	}
	// MemStats counts the whole process, other tests' goroutines too: allow
	// stray allocations. ingest/ais TestZeroAllocs pins the exact zero.
	if res.Porttrack.AllocsPerPosition > 0.01 {
		t.Errorf("porttrack allocates %.4f times per position report, want 0", res.Porttrack.AllocsPerPosition)
	}
	// go-ais decodes fewer: no out-of-order assembly, stricter lengths.
	if res.GoAIS.Messages > res.Porttrack.Messages {
		t.Errorf("go-ais decoded %d messages, porttrack %d", res.GoAIS.Messages, res.Porttrack.Messages)
	}
}

func TestAISConfigValidate(t *testing.T) {
	for _, c := range []AISConfig{{}, {File: "x", Rounds: -1}} {
		if _, err := RunAIS(context.Background(), c); err == nil {
			t.Errorf("RunAIS(%+v) succeeded", c)
		}
	}
}

// BenchmarkAIS decodes the corpus with each decoder, one pass per op:
// benchstat -col /impl compares them.
func BenchmarkAIS(b *testing.B) {
	data, err := os.ReadFile(aisCorpus)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	b.Run("impl=porttrack", func(b *testing.B) {
		d, _ := ais.NewDecoder(ais.Config{})
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				_ = d.Feed(l, time.Time{}, nil)
			}
		}
		b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("impl=go-ais", func(b *testing.B) {
		strs := make([]string, len(lines))
		for i, l := range lines {
			strs[i] = string(bytes.TrimRight(l, "\r\n"))
		}
		nm := aisnmea.NMEACodecNew(goais.CodecNewFast(false, false, true))
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range strs {
				_, _ = nm.ParseSentence(l)
			}
		}
		b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
