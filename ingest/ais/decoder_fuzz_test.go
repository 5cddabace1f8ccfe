package ais

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"
)

// seedsPerFile bounds the seeds taken from each corpus file: every seed is a
// subtest of a plain `go test` run.
const seedsPerFile = 64

// FuzzDecode feeds arbitrary records (one or more lines). Decoding must not
// panic, and every message must hold only in-range known values.
func FuzzDecode(f *testing.F) {
	for _, l := range readLines(f, filepath.Join("testdata", "lines.nmea")) {
		f.Add(l)
	}
	f.Add([]byte(type5a + "\n" + type5b + "\n"))
	f.Add([]byte(tag("g:1-2-7,s:sat,c:1334337317") + type5a + "\r\n" + tag("g:2-2-7") + type5b))
	// The corpora, sampled.
	for _, path := range corpusFiles(f) {
		lines := readLines(f, path)
		step := max(1, len(lines)/seedsPerFile)
		for i := 0; i < len(lines); i += step {
			f.Add(lines[i])
		}
	}
	d := newDecoder(f, Config{MaxGroups: 4, FragmentLines: 8})
	lenient := newDecoder(f, Config{Lenient: true, MaxGroups: 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range []*Decoder{d, lenient} {
			before := d.Stats()
			msgs := 0
			err := d.Feed(data, time.Unix(1_700_000_000, 0), func(m *Message) {
				msgs++
				checkMessage(t, d, m)
			})
			after := d.Stats()
			if got := after.Messages - before.Messages; got != uint64(msgs) {
				t.Fatalf("Stats.Messages grew by %d, callback called %d times", got, msgs)
			}
			if lines := bytes.Count(data, []byte{'\n'}); after.Lines-before.Lines < uint64(lines) {
				t.Fatalf("%d lines counted for %d newlines", after.Lines-before.Lines, lines)
			}
			if after.InFlight > 4 {
				t.Fatalf("%d groups in flight, MaxGroups 4", after.InFlight)
			}
			_ = err
		}
	})
}

// checkMessage checks the invariants of a delivered message.
func checkMessage(t *testing.T, d *Decoder, m *Message) {
	t.Helper()
	if m.Bits < minBits || m.Bits > maxBits || m.Line != d.Lines() || m.Type > 63 || m.MMSI >= 1<<30 {
		t.Fatalf("bad header: %+v", *m)
	}
	if lat, lon, ok := m.Position(); ok && (lat < -90 || lat > 90 || lon < -180 || lon > 180) {
		t.Fatalf("position %v %v out of range", lat, lon)
	} else if !ok && (lat != 0 || lon != 0) {
		t.Fatalf("unknown position reported as %v %v", lat, lon)
	}
	if v, ok := m.Speed(); ok && (v < 0 || v > 102.2) {
		t.Fatalf("speed %v", v)
	}
	if v, ok := m.Course(); ok && (v < 0 || v >= 360) {
		t.Fatalf("course %v", v)
	}
	if v, ok := m.Heading(); ok && v >= 360 {
		t.Fatalf("heading %v", v)
	}
	if v, ok := m.Turn(); ok && v == -128 {
		t.Fatalf("turn %v", v)
	}
	if v, ok := m.TurnRate(); ok && (v < -709 || v > 709) { // ±(126/4.733)²
		t.Fatalf("rate of turn %v °/min", v)
	}
	if v, ok := m.Second(); ok && v >= 60 {
		t.Fatalf("second %v", v)
	}
	if mo, day, h, mi, ok := m.ETA(); ok && (mo < 1 || mo > 12 || day < 1 || day > 31 || h > 23 || mi > 59) {
		t.Fatalf("eta %d-%d %d:%d", mo, day, h, mi)
	}
	if v, ok := m.Draught(); ok && v <= 0 {
		t.Fatalf("draught %v", v)
	}
	for _, s := range [][]byte{m.Shipname(), m.Callsign(), m.Destination(), m.Vendor()} {
		for _, c := range s {
			if c < 32 || c > 95 || c == '@' {
				t.Fatalf("text %q holds %q", s, c)
			}
		}
		if len(s) > 0 && s[len(s)-1] == ' ' {
			t.Fatalf("text %q not trimmed", s)
		}
	}
	if len(m.Payload()) != (m.Bits+7)/8 {
		t.Fatalf("payload %d bytes for %d bits", len(m.Payload()), m.Bits)
	}
}

// TestTestdataLines decodes the sample lines: each either decodes or is
// rejected with a reason, and the forms of the corpora are all there.
func TestTestdataLines(t *testing.T) {
	d := newDecoder(t, Config{})
	var msgs int
	for _, l := range readLines(t, filepath.Join("testdata", "lines.nmea")) {
		_ = d.Feed(l, time.Time{}, func(m *Message) { msgs++; checkMessage(t, d, m) })
	}
	s := d.Stats()
	if msgs != 24 || s.NotAIS != 3 || s.BadChecksum != 1 || s.BadLength != 1 || s.FakeTagChecksum != 2 || s.Skipped != 4 {
		t.Errorf("%d messages, stats %+v", msgs, s)
	}
}
