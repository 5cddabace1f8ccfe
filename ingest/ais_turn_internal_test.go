package ingest

import (
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/state"
)

// TestVesselReportTurn: the raw rate of turn reaches state as sent (−1 and
// ±127 included, gpsd reports the same values for these sentences of
// testdata/ais/aishub-3min-sample.nmea); −128 is state.UnknownTurn.
func TestVesselReportTurn(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{"!AIVDM,1,1,,B,14eH?fwOhLG=On<L:UBIk`2P05Ip,0*52", 127},
		{"!AIVDM,1,1,,B,139g;bPPClPMeDjNcEC3OBeP0@Kt,0*36", -127},
		{"!AIVDM,1,1,,A,19NWt8hwh0wnM40Pdfi=`SJP0@9M,0*47", -1},
		{"!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23", state.UnknownTurn},
	} {
		d, err := ais.NewDecoder(ais.Config{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = d.Feed([]byte(tc.line), time.Unix(1_800_000_000, 0), func(m *ais.Message) {
			n++
			r, ok := vesselReport(m, time.Unix(1_800_000_000, 0), nil)
			if !ok || r.Turn != tc.want {
				t.Errorf("%s: report turn %d (ok %v), want %d", tc.line, r.Turn, ok, tc.want)
			}
		})
		if err != nil || n != 1 {
			t.Fatalf("%s: %d messages, %v", tc.line, n, err)
		}
	}
}
