package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestAISDecodeTurn: `porttrack ais decode` prints the raw rate of turn as
// gpsd does, ±127 included, and leaves it out only for −128 (the
// sentences are from testdata/ais/aishub-3min-sample.nmea).
func TestAISDecodeTurn(t *testing.T) {
	in := strings.Join([]string{
		"!AIVDM,1,1,,B,14eH?fwOhLG=On<L:UBIk`2P05Ip,0*52", // turn 127
		"!AIVDM,1,1,,B,139g;bPPClPMeDjNcEC3OBeP0@Kt,0*36", // turn -127
		"!AIVDM,1,1,,A,19NWt8hwh0wnM40Pdfi=`SJP0@9M,0*47", // turn -1
		"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23", // turn -128: not available
	}, "\n") + "\n"
	var stdout, stderr bytes.Buffer
	if err := runAIS(context.Background(), []string{"decode"}, strings.NewReader(in), &stdout, &stderr); err != nil {
		t.Fatalf("runAIS: %v (stderr %s)", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), stdout.String())
	}
	for i, want := range []string{`"turn":127,`, `"turn":-127,`, `"turn":-1,`, ""} {
		if want == "" && strings.Contains(lines[i], `"turn"`) || want != "" && !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s, want %q", i+1, lines[i], want)
		}
	}
}
