package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runAISCmd runs `porttrack ais args...` and returns stdout, stderr and
// the error.
func runAISCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"ais"}, args...), func(string) string { return "" }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestAISDecodeKnownAnswers(t *testing.T) {
	in := strings.Join([]string{
		"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
		"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
		"$GPZDA,114702.51,27,01,2012,,*66",
		"!AIVDM,2,2,1,A,88888888880,2*25",
		`\s:rEV02,c:1334337317*58\!AIVDM,1,1,,B,19NWtThvOw63` + "`" + `jQuq` + "`" + `j>476B0D00,0*5F`,
		"!AIVDM,1,1,,A,H3KLehQ=DtddT00000000000000,0*5F",
	}, "\r\n") + "\r\n"
	var stdout, stderr bytes.Buffer
	if err := runAIS(context.Background(), []string{"decode"}, strings.NewReader(in), &stdout, &stderr); err != nil {
		t.Fatalf("runAIS: %v (stderr %s)", err, stderr.String())
	}
	want := []string{
		`{"line":1,"type":1,"mmsi":477553000,"repeat":0,"status":5,"turn":0,"speed":0,"accuracy":false,"lon":-122.34583333333333,"lat":47.58283333333333,"course":51,"heading":181,"second":15}`,
		`{"line":4,"type":5,"mmsi":351759000,"repeat":0,"imo":9134270,"callsign":"3FOF8","shipname":"EVER DIADEM","shiptype":70,"to_bow":225,"to_stern":70,"to_port":1,"to_starboard":31,"epfd":1,"eta":"05-15T14:00Z","draught":12.2,"destination":"NEW YORK"}`,
		// Speed 1023 and course 3600 are not available: left out.
		`{"line":5,"type":1,"mmsi":636091539,"repeat":0,"status":0,"turn":-7,"accuracy":false,"lon":84.68066666666667,"lat":-3.669,"heading":227,"second":9,"station":"rEV02","time":"2012-04-13T17:15:17Z"}`,
		`{"line":6,"type":24,"mmsi":230108610,"repeat":0,"shipname":"SUOKKI","part":"A"}`,
	}
	got := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(got), stdout.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
	if e := stderr.String(); e != "stdin:3: not_ais: no AIVDM/AIVDO sentence\n" {
		t.Errorf("stderr %q", e)
	}
}

func TestAISDecodeFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.nmea")
	b := filepath.Join(dir, "b.nmea")
	// b's line 2 has a bad checksum, its last line no newline.
	if err := os.WriteFile(a, []byte("# comment\n!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("\n!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5D\n!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C\n!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runAISCmd(t, "decode", a, b)
	if err != nil {
		t.Fatalf("err %v, stderr %s", err, stderr)
	}
	var lines []int
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m struct{ Line int }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, m.Line)
	}
	if len(lines) != 2 || lines[0] != 2 || lines[1] != 4 {
		t.Errorf("messages on lines %v, want [2 4] (per file)", lines)
	}
	for _, w := range []string{b + ":2: bad_checksum: sentence checksum mismatch\n", b + ": expired_fragment: 1 fragment(s) of incomplete multi-part messages dropped\n"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

func TestAISDecodeUnreadable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.nmea")
	if err := os.WriteFile(ok, []byte("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runAISCmd(t, "decode", filepath.Join(dir, "missing.nmea"), ok)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit code 1", err)
	}
	if !strings.Contains(err.Error(), "missing.nmea") || !strings.Contains(stdout, `"mmsi":477553000`) {
		t.Errorf("err %v, stdout %q, stderr %q: want the missing file named and the readable one decoded", err, stdout, stderr)
	}
}

func TestAISUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"decode", "-nosuchflag"}} {
		_, _, err := runAISCmd(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("ais %v: err %v, want exit code 2", args, err)
		}
	}
	if _, _, err := runAISCmd(t, "decode", "-h"); err != nil {
		t.Errorf("-h: %v", err)
	}
}

// TestAISDecodeJSON decodes the package's sample lines and checks that
// every output line is a JSON object and every bad line is reported.
func TestAISDecodeJSON(t *testing.T) {
	path := filepath.Join("..", "..", "ingest", "ais", "testdata", "lines.nmea")
	stdout, stderr, err := runAISCmd(t, "decode", path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		for _, k := range []string{"line", "type", "mmsi", "repeat"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		n++
	}
	if n != 24 || strings.Count(stderr, path+":") != 5 {
		t.Errorf("%d messages, stderr:\n%s", n, stderr)
	}
}
