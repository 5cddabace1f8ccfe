package ais

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corporaDir is the directory of the AIS corpora (DOMAIN.md §9.4), in the
// repository's testdata (testdata/README.md gives each file's source and
// licence).
var corporaDir = filepath.Join("..", "..", "testdata", "ais")

// corpusFiles returns the data files of the corpora, sorted.
func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(corporaDir, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "README.md" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no corpus files in %s", corporaDir)
	}
	return out
}

// readLines returns the lines of a file, without their '\n'.
func readLines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	return bytes.Split(data, []byte{'\n'})
}

func newDecoder(tb testing.TB, cfg Config) *Decoder {
	tb.Helper()
	d, err := NewDecoder(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// got is a copy of a Message that outlives the callback.
type got struct {
	Message
	station string
}

// feedAll feeds the lines one Feed call each and returns copies of the
// messages and the errors by line (1-based).
func feedAll(tb testing.TB, d *Decoder, recv time.Time, lines ...string) ([]got, map[int]error) {
	tb.Helper()
	var out []got
	errs := map[int]error{}
	for _, l := range lines {
		if err := d.Feed([]byte(l), recv, func(m *Message) {
			g := got{Message: *m, station: string(m.Station)}
			g.Station = nil
			g.payload = append([]byte(nil), m.Payload()...)
			out = append(out, g)
		}); err != nil {
			errs[d.Lines()] = err
		}
	}
	return out, errs
}

// bitWriter builds payloads for tests, one bit per byte.
type bitWriter struct{ bits []byte }

func (w *bitWriter) put(v int64, width int) *bitWriter {
	for i := width - 1; i >= 0; i-- {
		w.bits = append(w.bits, byte(v>>i)&1)
	}
	return w
}

// text appends s as n 6-bit characters, '@'-padded.
func (w *bitWriter) text(s string, n int) *bitWriter {
	for i := 0; i < n; i++ {
		c := byte('@')
		if i < len(s) {
			c = s[i]
		}
		w.put(int64(c&63), 6)
	}
	return w
}

// at pads with zeros up to bit n.
func (w *bitWriter) at(n int) *bitWriter {
	for len(w.bits) < n {
		w.bits = append(w.bits, 0)
	}
	return w
}

// armour returns the payload characters and fill bits.
func (w *bitWriter) armour() (string, int) {
	fill := (6 - len(w.bits)%6) % 6
	bits := append(append([]byte(nil), w.bits...), make([]byte, fill)...)
	var sb strings.Builder
	for i := 0; i < len(bits); i += 6 {
		v := 0
		for _, b := range bits[i : i+6] {
			v = v<<1 | int(b)
		}
		c := byte(v + 48)
		if c > 87 {
			c += 8
		}
		sb.WriteByte(c)
	}
	return sb.String(), fill
}

// sentence wraps a payload in a single-part !AIVDM sentence.
func (w *bitWriter) sentence() string {
	p, fill := w.armour()
	return withChecksum(fmt.Sprintf("!AIVDM,1,1,,A,%s,%d", p, fill))
}

// withChecksum appends *hh to s, which starts with '!', '$' or '\'.
func withChecksum(s string) string {
	return fmt.Sprintf("%s*%02X", s, xor([]byte(s[1:])))
}

// tag returns a tag block with a correct checksum around fields.
func tag(fields string) string { return withChecksum(`\`+fields) + `\` }

// header starts a payload: type, repeat 0, mmsi.
func header(typ int, mmsi int64) *bitWriter {
	return new(bitWriter).put(int64(typ), 6).put(0, 2).put(mmsi, 30)
}

// classA builds a type 1 payload from raw field values.
func classA(mmsi int64, status, turn, speed, lon, lat, course, heading, second int64) *bitWriter {
	return header(1, mmsi).put(status, 4).put(turn, 8).put(speed, 10).put(0, 1).
		put(lon, 28).put(lat, 27).put(course, 12).put(heading, 9).put(second, 6).at(168)
}

// scanLines calls fn with each line of path and its 1-based number.
func scanLines(tb testing.TB, path string, fn func(n int, line []byte)) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fn(n, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
}
