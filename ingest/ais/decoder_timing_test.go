package ais

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestZeroAllocs pins decoding at zero allocations per message: position
// reports, a tag-blocked line, and a two-part static report. The Decoder
// uses no sync.Pool, so this holds under -race as well.
func TestZeroAllocs(t *testing.T) {
	recv := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"type 1", []string{type1}},
		{"type 18", []string{type18}},
		{"tag block", []string{tag("s:rEV02,c:1334337317") + type1}},
		{"type 5, two parts", []string{type5a, type5b}},
		{"junk", []string{"$GPZDA,114702.51,27,01,2012,,*66"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t, Config{})
			lines := make([][]byte, len(tc.lines))
			for i, l := range tc.lines {
				lines[i] = []byte(l)
			}
			n := 0
			fn := func(m *Message) {
				if _, _, ok := m.Position(); ok || m.Has(FieldShipname) {
					n++
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				for _, l := range lines {
					_ = d.Feed(l, recv, fn)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per run, want 0", allocs)
			}
			if tc.name != "junk" && n == 0 {
				t.Error("nothing decoded")
			}
		})
	}
}

// benchInput returns the main benchmark corpus.
func benchInput(b *testing.B) (name string, data []byte) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(corporaDir, "aishub-3min-sample.nmea"))
	if err != nil {
		b.Fatal(err)
	}
	return "aishub", data
}

// BenchmarkDecode decodes a corpus line by line, as a partition goroutine
// does with one line per record; ns/op is per pass over the corpus.
func BenchmarkDecode(b *testing.B) {
	name, data := benchInput(b)
	lines := bytes.SplitAfter(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'})
	b.Run("input="+name, func(b *testing.B) {
		d, _ := NewDecoder(Config{})
		msgs := 0
		fn := func(*Message) { msgs++ }
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, l := range lines {
				_ = d.Feed(l, time.Time{}, fn)
			}
		}
		b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
	})
	b.Run("input=type1", func(b *testing.B) {
		d, _ := NewDecoder(Config{})
		line := []byte(type1)
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			_ = d.Feed(line, time.Time{}, nil)
		}
	})
}
