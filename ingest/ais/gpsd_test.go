package ais

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gpsdRecord is a record of `gpsdecode -u -j` (unscaled): lat/lon in 1/10000
// minute (type 27: 1/10 minute), speed and course ×10 (type 27: knots and
// degrees), turn raw. Absent fields stay nil.
type gpsdRecord struct {
	Class    string   `json:"class"`
	Type     uint8    `json:"type"`
	MMSI     uint32   `json:"mmsi"`
	Status   *int     `json:"status"`
	Turn     *int     `json:"turn"`
	Speed    *int     `json:"speed"`
	Lon      *int64   `json:"lon"`
	Lat      *int64   `json:"lat"`
	Course   *int     `json:"course"`
	Heading  *int     `json:"heading"`
	Shipname *string  `json:"shipname"`
	Callsign *string  `json:"callsign"`
	Draught  *float64 `json:"draught"`
	// Static data, compared as well.
	IMO         *int    `json:"imo"`
	Destination *string `json:"destination"`
	ShipType    *int    `json:"shiptype"`
	ToBow       *int    `json:"to_bow"`
	ToStern     *int    `json:"to_stern"`
	ToPort      *int    `json:"to_port"`
	ToStarboard *int    `json:"to_starboard"`
	ETA         *string `json:"eta"`

	line int // 1-based input line of the sentence that completed it
}

// TestGpsdAgreement runs gpsd's gpsdecode (Debian gpsd-clients 3.22) over
// every corpus file and requires that each AIS record it emits is matched by
// a porttrack message completed on the same input line, with the same type,
// mmsi, status, turn, speed, position, course and heading (DOMAIN.md §9.5).
//
// It is a subset match: porttrack decodes more than gpsd (out-of-order and
// interleaved fragments, talker "=I", channel 0, off-length payloads), so
// extra porttrack messages are fine. gpsd records that its naive reassembly
// glued from fragments of different sequence ids are logged, not compared.
// Where gpsd prints a raw sentinel or an out-of-range value (lat 54600000 =
// 91°, speed 1023, heading 511, turn −128, ...) porttrack reports the field
// as unknown: that counts as agreement, and porttrack reporting a value
// there counts as disagreement. The turn is compared raw, ±127 included.
func TestGpsdAgreement(t *testing.T) {
	gpsd, err := exec.LookPath("gpsdecode")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("gpsdecode not found: install Debian's gpsd-clients")
		}
		t.Skip("gpsdecode not found: apt-get install gpsd-clients")
	}
	for _, path := range corpusFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			compareWithGpsd(t, gpsd, path)
		})
	}
}

func compareWithGpsd(t *testing.T, gpsd, path string) {
	lines := readLines(t, path)
	recs := runGpsd(t, gpsd, path, lines)

	// porttrack, one Feed per line as the CLI does; a line completes at
	// most one message.
	d := newDecoder(t, Config{})
	byLine := map[int]got{}
	for _, l := range lines {
		_ = d.Feed(l, time.Time{}, func(m *Message) {
			g := got{Message: *m, station: string(m.Station)}
			g.Station, g.payload = nil, nil
			byLine[m.Line] = g
		})
	}

	agree, fields := 0, 0
	var bad, glued []string
	for _, r := range recs {
		m, ok := byLine[r.line]
		var diff string
		switch {
		case !ok && gpsdGlued(lines, r.line):
			glued = append(glued, fmt.Sprintf("line %d: gpsd type %d mmsi %d", r.line, r.Type, r.MMSI))
			continue
		case !ok:
			diff = "no porttrack message"
		case m.Type != r.Type || m.MMSI != r.MMSI:
			diff = fmt.Sprintf("porttrack type %d mmsi %d", m.Type, m.MMSI)
		case decodedType(m.Type):
			var n int
			diff, n = diffGpsd(&m, &r)
			fields += n
		}
		if diff == "" {
			agree++
			continue
		}
		bad = append(bad, fmt.Sprintf("line %d (%s): gpsd type %d mmsi %d: %s", r.line,
			bytes.TrimSpace(lines[r.line-1]), r.Type, r.MMSI, diff))
	}
	t.Logf("%s: porttrack decoded %d, gpsd decoded %d, agreeing %d, disagreeing %d (%d fields compared)",
		filepath.Base(path), len(byLine), len(recs), agree, len(bad), fields)
	if len(glued) > 0 {
		t.Logf("  not compared: %d gpsd records glued from fragments of different sequence ids: %s",
			len(glued), strings.Join(glued, ", "))
	}
	for i, b := range bad {
		if i == 3 {
			break
		}
		t.Logf("  %s", b)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d gpsd records disagree with porttrack", len(bad), len(recs))
	}
	if len(recs) == 0 {
		t.Errorf("gpsd decoded nothing from %s", path)
	}
}

// runGpsd runs `gpsdecode -u -j -v` on path and returns its AIS records,
// each tagged with its input line: -v echoes every sentence gpsd reads
// (without tag block, prefix or trailing CR) before the records it
// completes, so the echoes are matched forward through the file.
func runGpsd(t *testing.T, gpsd, path string, lines [][]byte) []gpsdRecord {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(gpsd, "-u", "-j", "-v")
	cmd.Stdin = in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpsdecode: %v", err)
	}
	var recs []gpsdRecord
	next, cur := 0, 0 // next input line to search from (0-based); line of the last echo (1-based)
	for _, o := range bytes.Split(out, []byte{'\n'}) {
		o = bytes.TrimRight(o, "\r")
		if len(o) == 0 {
			continue
		}
		if o[0] == '{' {
			if !bytes.HasPrefix(o, []byte(`{"class":"AIS",`)) {
				continue // GPS fixes of the NMEA mixed in
			}
			var r gpsdRecord
			if err := json.Unmarshal(o, &r); err != nil {
				t.Fatalf("gpsdecode output %q: %v", o, err)
			}
			{
				if cur == 0 {
					t.Fatalf("gpsd record before any echo: %s", o)
				}
				r.line = cur
				recs = append(recs, r)
			}
			continue
		}
		i := next
		for i < len(lines) && !bytes.Contains(lines[i], o) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("gpsd echo %q not found in the input after line %d", o, next)
		}
		next, cur = i+1, i+1
	}
	return recs
}

// gpsdGlued reports whether gpsd's record completed on line n (1-based)
// joins fragments that carry different sequence ids: gpsd 3.22 keeps one
// message in flight per channel and ignores the sequence id (DOMAIN.md
// §9.5), which porttrack's keyed assembly rightly never does.
func gpsdGlued(lines [][]byte, n int) bool {
	total, num, seq, ch, ok := vdmFields(lines[n-1])
	if !ok || total == "1" || num == "1" {
		return false
	}
	for i := n - 2; i >= 0; i-- {
		t, k, s, c, ok := vdmFields(lines[i])
		if ok && c == ch && t == total && k == "1" {
			return s != seq
		}
	}
	return false
}

// vdmFields returns the total, number, sequence id and channel fields of
// the VDM/VDO sentence in line.
func vdmFields(line []byte) (total, num, seq, ch string, ok bool) {
	i := bytes.Index(line, []byte("VDM,"))
	if i < 0 {
		i = bytes.Index(line, []byte("VDO,"))
	}
	if i < 0 {
		return "", "", "", "", false
	}
	f := strings.Split(string(line[i+4:]), ",")
	if len(f) < 4 {
		return "", "", "", "", false
	}
	return f[0], f[1], f[2], f[3], true
}

// decodedType reports whether porttrack decodes the fields of type t;
// other types are matched on type and mmsi only.
func decodedType(t uint8) bool { return t < 28 && nominalBits[t] != 0 }

// diffGpsd compares the fields gpsd has with porttrack's and returns the
// differences, "" if none, and how many fields it compared.
func diffGpsd(m *got, r *gpsdRecord) (string, int) {
	var diffs []string
	n := 0
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	// known compares a gpsd value that porttrack must report (want) or
	// must leave unknown (!valid).
	known := func(name string, valid bool, want, got float64, ok bool) {
		n++
		switch {
		case valid && !ok:
			add("%s: gpsd %v, porttrack unknown", name, want)
		case valid && math.Abs(want-got) > 1e-9:
			add("%s: gpsd %v, porttrack %v", name, want, got)
		case !valid && ok:
			add("%s: gpsd sentinel/out of range, porttrack %v", name, got)
		}
	}
	if r.Status != nil {
		v, ok := m.Status()
		known("status", true, float64(*r.Status), float64(v), ok)
	}
	if r.Turn != nil {
		// Raw ROT_AIS: only −128 is "not available"; ±127 is a turn rate
		// beyond 5° per 30 s and is compared as gpsd reports it.
		v, ok := m.Turn()
		known("turn", *r.Turn != -128, float64(*r.Turn), float64(v), ok)
	}
	// Type 27 sends knots, degrees and 1/10 minute; the others tenths of a
	// knot, tenths of a degree and 1/10000 minute.
	speedNA, speedDiv, courseNA, courseDiv, posDiv := 1023, 10.0, 3600, 10.0, 600000.0
	if r.Type == 27 {
		speedNA, speedDiv, courseNA, courseDiv, posDiv = 63, 1, 360, 1, 600
	}
	if r.Speed != nil {
		v, ok := m.Speed()
		known("speed", *r.Speed < speedNA, float64(*r.Speed)/speedDiv, v, ok)
	}
	if r.Course != nil {
		v, ok := m.Course()
		known("course", *r.Course < courseNA, float64(*r.Course)/courseDiv, v, ok)
	}
	if r.Heading != nil {
		v, ok := m.Heading()
		known("heading", *r.Heading < 360, float64(*r.Heading), float64(v), ok)
	}
	if r.Lat != nil && r.Lon != nil {
		lat, lon := float64(*r.Lat)/posDiv, float64(*r.Lon)/posDiv
		valid := math.Abs(lat) <= 90 && math.Abs(lon) <= 180
		plat, plon, ok := m.Position()
		known("lat", valid, lat, plat, ok)
		known("lon", valid, lon, plon, ok)
	}
	// 6-bit text: gpsd cuts at the first '@' and trims trailing spaces as
	// porttrack does; an empty name is unknown to porttrack.
	text := func(name string, want *string, got []byte) {
		if want != nil {
			n++
		}
		if want != nil && *want != string(got) {
			add("%s: gpsd %q, porttrack %q", name, *want, got)
		}
	}
	if m.Part != 'B' { // gpsd adds the name of an earlier 24A to a 24B
		text("shipname", r.Shipname, m.Shipname())
	}
	text("callsign", r.Callsign, m.Callsign())
	text("destination", r.Destination, m.Destination())
	if r.IMO != nil {
		v, ok := m.IMO()
		known("imo", *r.IMO != 0, float64(*r.IMO), float64(v), ok)
	}
	if r.ShipType != nil && m.Part != 'A' { // gpsd merges 24A and 24B
		v, ok := m.ShipType()
		known("shiptype", true, float64(*r.ShipType), float64(v), ok)
	}
	if r.ToBow != nil && r.ToStern != nil && r.ToPort != nil && r.ToStarboard != nil && m.Part != 'A' {
		bow, stern, port, stbd, ok := m.Dimensions()
		want := fmt.Sprint(*r.ToBow, *r.ToStern, *r.ToPort, *r.ToStarboard)
		n++
		if got := fmt.Sprint(bow, stern, port, stbd); !ok || got != want {
			add("dimensions: gpsd %s, porttrack %s (known %v)", want, got, ok)
		}
	}
	if r.ETA != nil {
		// gpsd prints the raw "MM-DDTHH:MMZ", sentinels included.
		var mo, day, h, mi int
		fmt.Sscanf(*r.ETA, "%d-%dT%d:%dZ", &mo, &day, &h, &mi)
		valid := mo >= 1 && mo <= 12 && day >= 1 && h < 24 && mi < 60
		pmo, pday, ph, pmi, ok := m.ETA()
		known("eta", valid, float64(((mo*100+day)*100+h)*100+mi), float64(((int(pmo)*100+int(pday))*100+int(ph))*100+int(pmi)), ok)
	}
	if r.Draught != nil {
		v, ok := m.Draught()
		known("draught", *r.Draught != 0, *r.Draught/10, v, ok)
	}
	return strings.Join(diffs, "; "), n
}
