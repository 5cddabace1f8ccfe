package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	goais "github.com/BertoldVdb/go-ais"
	"github.com/BertoldVdb/go-ais/aisnmea"

	"github.com/porttrack/porttrack/ingest/ais"
)

// AISConfig configures the AIS decode scenario: porttrack's decoder next to
// github.com/BertoldVdb/go-ais v0.4.0 on the same NMEA log, in one run.
type AISConfig struct {
	// File is the NMEA log decoded; required. The reference input is the
	// corpus aishub-3min-sample.nmea (DOMAIN.md §9.4).
	File string
	// Rounds is how many times each decoder decodes the file, alternately;
	// medians are reported. Default 3.
	Rounds int
}

func (c AISConfig) withDefaults() AISConfig {
	if c.Rounds == 0 {
		c.Rounds = 3
	}
	return c
}

// Validate reports a missing file or a bad round count.
func (c AISConfig) Validate() error {
	if c.File == "" {
		return errors.New("bench: AISConfig.File is required (the corpus aishub-3min-sample.nmea)")
	}
	if c.Rounds < 0 {
		return fmt.Errorf("bench: AIS rounds %d is negative", c.Rounds)
	}
	return nil
}

// AISPath is one decoder's figures: medians over the rounds, per pass over
// the file.
type AISPath struct {
	Name            string  `json:"name"`
	Seconds         float64 `json:"seconds"`
	SentencesPerSec float64 `json:"sentences_per_sec"`
	MBPerSec        float64 `json:"mb_per_sec"`
	Messages        int     `json:"messages"`  // messages decoded in a pass
	Positions       int     `json:"positions"` // of which position reports (1, 2, 3, 18, 19, 27)
	// AllocsPerPosition is the heap allocations of a whole pass divided by
	// its position reports: every allocation is charged to them.
	AllocsPerPosition float64 `json:"allocs_per_position"`
	BytesPerPosition  float64 `json:"bytes_per_position"`
}

// AISRound holds one round's throughput.
type AISRound struct {
	Porttrack float64 `json:"porttrack_sentences_per_sec"`
	GoAIS     float64 `json:"goais_sentences_per_sec"`
	Ratio     float64 `json:"ratio"`
}

// AISResult is the outcome of RunAIS.
type AISResult struct {
	Scenario  string     `json:"scenario"` // "ais"
	File      string     `json:"file"`
	Bytes     int64      `json:"bytes"`
	Lines     int        `json:"lines"`
	Sentences int        `json:"sentences"` // well-formed AIS sentences, per porttrack
	Rounds    int        `json:"rounds"`
	CPUs      int        `json:"cpus"`
	Porttrack AISPath    `json:"porttrack"`
	GoAIS     AISPath    `json:"goais"`
	Ratio     float64    `json:"ratio"` // porttrack ÷ go-ais sentences/s, medians
	PerRound  []AISRound `json:"per_round"`
}

// RunAIS decodes cfg.File line by line with porttrack's ais.Decoder (one
// Feed per line, as a partition goroutine does with one line per record)
// and with go-ais used the idiomatic way (aisnmea.NMEACodec over an
// ais.Codec with its fast, non-reflection parser: NMEACodec.ParseSentence
// per line), alternately for cfg.Rounds rounds. The file is read into
// memory first; reading is not measured.
func RunAIS(ctx context.Context, cfg AISConfig) (AISResult, error) {
	if err := cfg.Validate(); err != nil {
		return AISResult{}, err
	}
	cfg = cfg.withDefaults()
	data, err := os.ReadFile(cfg.File)
	if err != nil {
		return AISResult{}, err
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	// go-ais takes a sentence without its line end.
	trimmed := make([]string, len(lines))
	for i, l := range lines {
		trimmed[i] = string(bytes.TrimRight(l, "\r\n"))
	}
	res := AISResult{Scenario: "ais", File: cfg.File, Bytes: int64(len(data)), Lines: len(lines), Rounds: cfg.Rounds, CPUs: runtime.GOMAXPROCS(0)}
	var pt, ga []AISPath
	for range cfg.Rounds {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		p, sentences, err := aisPorttrack(lines)
		if err != nil {
			return res, err
		}
		res.Sentences = sentences
		g := aisGoAIS(trimmed)
		for _, path := range []*AISPath{&p, &g} {
			path.SentencesPerSec = float64(sentences) / path.Seconds
			path.MBPerSec = float64(len(data)) / 1e6 / path.Seconds
		}
		pt, ga = append(pt, p), append(ga, g)
		res.PerRound = append(res.PerRound, AISRound{Porttrack: p.SentencesPerSec, GoAIS: g.SentencesPerSec, Ratio: p.SentencesPerSec / g.SentencesPerSec})
	}
	res.Porttrack, res.GoAIS = medianPath(pt), medianPath(ga)
	res.Ratio = res.Porttrack.SentencesPerSec / res.GoAIS.SentencesPerSec
	return res, nil
}

// measure runs pass once and returns its wall time and heap allocations.
func measure(pass func()) (seconds float64, allocs, allocBytes uint64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	pass()
	seconds = time.Since(start).Seconds()
	runtime.ReadMemStats(&after)
	return seconds, after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}

func isPositionType(t uint8) bool {
	switch t {
	case 1, 2, 3, 18, 19, 27:
		return true
	}
	return false
}

func aisPorttrack(lines [][]byte) (AISPath, int, error) {
	d, err := ais.NewDecoder(ais.Config{})
	if err != nil {
		return AISPath{}, 0, err
	}
	p := AISPath{Name: "porttrack ingest/ais"}
	fn := func(m *ais.Message) {
		p.Messages++
		if m.IsPositionReport() {
			p.Positions++
		}
	}
	var allocs, allocBytes uint64
	p.Seconds, allocs, allocBytes = measure(func() {
		for _, l := range lines {
			_ = d.Feed(l, time.Time{}, fn)
		}
	})
	p.AllocsPerPosition = float64(allocs) / float64(max(p.Positions, 1))
	p.BytesPerPosition = float64(allocBytes) / float64(max(p.Positions, 1))
	return p, int(d.Stats().Sentences), nil
}

func aisGoAIS(lines []string) AISPath {
	nm := aisnmea.NMEACodecNew(goais.CodecNewFast(false, false, true))
	p := AISPath{Name: "go-ais v0.4.0 aisnmea"}
	var allocs, allocBytes uint64
	p.Seconds, allocs, allocBytes = measure(func() {
		for _, l := range lines {
			v, err := nm.ParseSentence(l)
			if err != nil || v == nil || v.Packet == nil {
				continue
			}
			p.Messages++
			if isPositionType(v.Packet.GetHeader().MessageID) {
				p.Positions++
			}
		}
	})
	p.AllocsPerPosition = float64(allocs) / float64(max(p.Positions, 1))
	p.BytesPerPosition = float64(allocBytes) / float64(max(p.Positions, 1))
	return p
}

// medianPath returns the round with the median time.
func medianPath(rounds []AISPath) AISPath {
	s := slices.Clone(rounds)
	slices.SortFunc(s, func(a, b AISPath) int {
		switch {
		case a.Seconds < b.Seconds:
			return -1
		case a.Seconds > b.Seconds:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// WriteTable writes r as an aligned text table.
func (r AISResult) WriteTable(w io.Writer) {
	rounds := "1 round"
	if r.Rounds != 1 {
		rounds = fmt.Sprintf("medians of %d rounds", r.Rounds)
	}
	fmt.Fprintf(w, "ais: %s, %.1f MB, %d lines, %d sentences, %d CPUs, %s\n\n", r.File, float64(r.Bytes)/1e6, r.Lines, r.Sentences, r.CPUs, rounds)
	const row = "%-24s %12s %8s %9s %10s %14s %12s\n"
	fmt.Fprintf(w, row, "decoder", "sentences/s", "MB/s", "messages", "positions", "allocs/pos", "bytes/pos")
	for _, p := range []AISPath{r.Porttrack, r.GoAIS} {
		fmt.Fprintf(w, row, p.Name, fmt.Sprintf("%.0f", p.SentencesPerSec), fmt.Sprintf("%.1f", p.MBPerSec),
			fmt.Sprint(p.Messages), fmt.Sprint(p.Positions), fmt.Sprintf("%.2f", p.AllocsPerPosition), fmt.Sprintf("%.1f", p.BytesPerPosition))
	}
	per := make([]string, len(r.PerRound))
	for i, pr := range r.PerRound {
		per[i] = fmt.Sprintf("%.1f", pr.Ratio)
	}
	fmt.Fprintf(w, "\nratio porttrack/go-ais: %.1f× (per round: %v)\n", r.Ratio, per)
}
