package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tagBlock wraps an NMEA sentence in an NMEA 4.10 tag block \fields*hh\
// whose checksum is the XOR of the bytes between '\' and '*'.
func tagBlock(fields, sentence string) string {
	var x byte
	for i := 0; i < len(fields); i++ {
		x ^= fields[i]
	}
	return fmt.Sprintf(`\%s*%02X\%s`, fields, x, sentence)
}

// e2eVessel is the part of GET /v1/vessels/{id} the AIS test checks.
type e2eVessel struct {
	MMSI            uint32   `json:"mmsi"`
	IMO             uint32   `json:"imo"`
	Name            string   `json:"name"`
	CallSign        string   `json:"callsign"`
	ShipType        *int     `json:"shiptype"`
	Lat             *float64 `json:"lat"`
	Lon             *float64 `json:"lon"`
	Status          *int     `json:"status"`
	Heading         *int     `json:"heading"`
	Course          *float64 `json:"course"`
	ToBow           *int     `json:"to_bow"`
	Draught         float64  `json:"draught"`
	Destination     string   `json:"destination"`
	ETA             string   `json:"eta"`
	PositionTime    string   `json:"position_time"`
	PositionStation string   `json:"position_station"`
	Reports         int      `json:"reports"`
}

// TestKcatAISIntoDemo is the demo's AIS promise end to end: raw NMEA lines
// sent with the real kcat (librdkafka) into port.ais of a running
// `porttrack demo` show up on GET /v1/vessels within a second: a plain
// type 1 sentence, a tag-blocked one (station and time from the tag block)
// and a type 5 whose two fragments are two records of the same key.
func TestKcatAISIntoDemo(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	broker, base := d.broker, d.base

	tagTime := time.Now().Add(-time.Minute).Truncate(time.Second)
	near := func(got *float64, want float64) bool { return got != nil && math.Abs(*got-want) < 1e-6 }
	intIs := func(got *int, want int) bool { return got != nil && *got == want }
	cases := []struct {
		name  string
		key   string
		lines []string // one kcat record each
		id    string   // GET /v1/vessels/{id}
		check func(v *e2eVessel) string
	}{
		{
			// DOMAIN.md §9.5 known answer.
			name:  "type1",
			key:   "NBVTS-02",
			lines: []string{demoAISSentence},
			id:    "477553000",
			check: func(v *e2eVessel) string {
				if v.MMSI != 477553000 || !near(v.Lat, 47.582833) || !near(v.Lon, -122.345833) ||
					!intIs(v.Status, 5) || !intIs(v.Heading, 181) {
					return "want mmsi 477553000 at 47.582833,-122.345833, status 5, heading 181"
				}
				return ""
			},
		},
		{
			// corpora/ais/aishub-3min-sample.nmea; `porttrack ais decode`:
			// type 1, mmsi 205448890, 51.237658333,4.419441667, status 0,
			// course 63.3.
			name:  "type1-tag-block",
			key:   "NBVTS-01",
			lines: []string{tagBlock(fmt.Sprintf("s:NBVTS-01,c:%d", tagTime.Unix()), "!AIVDM,1,1,,A,133sVfPP00PD>hRMDH@jNOvN20S8,0*7F")},
			id:    "205448890",
			check: func(v *e2eVessel) string {
				if v.MMSI != 205448890 || !near(v.Lat, 51.237658333) || !near(v.Lon, 4.419441667) ||
					!intIs(v.Status, 0) || v.Course == nil || *v.Course != 63.3 {
					return "want mmsi 205448890 at 51.237658,4.419442, status 0, course 63.3"
				}
				if v.PositionStation != "NBVTS-01" || v.PositionTime != tagTime.UTC().Format(time.RFC3339Nano) {
					return fmt.Sprintf("want position_station NBVTS-01 and position_time %s (the tag block's s: and c:)", tagTime.UTC().Format(time.RFC3339))
				}
				return ""
			},
		},
		{
			// DOMAIN.md §9.5 known answer: EVER DIADEM, fragments as two
			// records of one key.
			name: "type5-two-records",
			key:  "NBVTS-01",
			lines: []string{
				"!AIVDM,2,1,3,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1D",
				"!AIVDM,2,2,3,B,88888888880,2*24",
			},
			id: "imo:9134270",
			check: func(v *e2eVessel) string {
				if v.MMSI != 351759000 || v.IMO != 9134270 || v.Name != "EVER DIADEM" || v.CallSign != "3FOF8" ||
					!intIs(v.ShipType, 70) || !intIs(v.ToBow, 225) || v.Draught != 12.2 ||
					v.Destination != "NEW YORK" || v.ETA != "05-15T14:00Z" || v.Lat != nil {
					return "want mmsi 351759000, imo 9134270, EVER DIADEM, 3FOF8, shiptype 70, to_bow 225, draught 12.2, NEW YORK, eta 05-15T14:00Z, no position"
				}
				return ""
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kctx, kcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer kcancel()
			// kcat -P makes one record of each input line.
			cmd := exec.CommandContext(kctx, kcat, "-P", "-b", broker, "-t", "port.ais", "-k", c.key)
			cmd.Stdin = strings.NewReader(strings.Join(c.lines, "\n") + "\n")
			var kout bytes.Buffer
			cmd.Stdout, cmd.Stderr = &kout, &kout
			kstart := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, kout.String())
			}
			sent := time.Now()

			var (
				body   []byte
				seenAt time.Time
			)
			waitForEvery(t, 15*time.Second, 2*time.Millisecond, func() (bool, string) {
				d.exited(t)
				code, b, err := httpGet(base + "/v1/vessels/" + c.id)
				if err != nil {
					return false, err.Error()
				}
				if code != http.StatusOK {
					return false, fmt.Sprintf("GET /v1/vessels/%s: %d %s", c.id, code, b)
				}
				var v e2eVessel
				if err := json.Unmarshal(b, &v); err != nil {
					return false, fmt.Sprintf("GET /v1/vessels/%s: %v: %s", c.id, err, b)
				}
				if why := c.check(&v); why != "" {
					return false, fmt.Sprintf("GET /v1/vessels/%s = %s: %s", c.id, b, why)
				}
				seenAt, body = time.Now(), b
				return true, ""
			})
			latency := seenAt.Sub(sent)
			t.Logf("%s: kcat (%d records) ran %s; vessel %s visible %s after kcat exited: %s", c.name, len(c.lines),
				sent.Sub(kstart).Round(time.Millisecond), c.id, latency.Round(time.Millisecond), body)
			if latency > time.Second {
				t.Errorf("%s: vessel %s became visible %s after kcat exited, want within 1s", c.name, c.id, latency)
			}
		})
	}

	// Four records, every line a good sentence: nothing dropped or
	// dead-lettered. The counters move just after the commit that made
	// the vessels visible.
	var m map[string]float64
	waitFor(t, 5*time.Second, func() (bool, string) {
		var err error
		if m, err = scrape(base + "/metrics"); err != nil {
			return false, err.Error()
		}
		c, a := m["porttrack_ingest_records_consumed_total"], m["porttrack_ingest_records_applied_total"]
		s, msgs := m["porttrack_ais_sentences_total"], m["porttrack_ais_messages_total"]
		return c == 4 && a == 4 && s == 4 && msgs == 3,
			fmt.Sprintf("consumed %v, applied %v records, %v sentences, %v messages; want 4, 4, 4, 3", c, a, s, msgs)
	})
	if dl := series(m, "porttrack_ingest_records_dead_lettered_total"); len(dl) != 0 {
		t.Errorf("dead-lettered: %v, want none", dl)
	}
	for k, v := range series(m, "porttrack_ais_lines_dropped_total") {
		if v != 0 {
			t.Errorf("%s = %v, want 0", k, v)
		}
	}

	d.stop(t)

	var kcatHint, vesselHint, nearHint bool
	for _, line := range strings.Split(d.stdout.String(), "\n") {
		line = strings.TrimSpace(line)
		kcatHint = kcatHint || strings.HasPrefix(line, "printf '%s\\n' '"+demoAISSentence+"' | kcat -P -b "+broker+" -t port.ais -k ")
		vesselHint = vesselHint || line == "curl -s http://"+d.httpAddr+"/v1/vessels/477553000"
		nearHint = nearHint || strings.HasPrefix(line, "curl -s 'http://"+d.httpAddr+"/v1/vessels?near=29.965,121.921&radius=5000")
	}
	if !kcatHint || !vesselHint || !nearHint {
		t.Errorf("demo stdout lacks the AIS hints (kcat line: %v, vessel curl: %v, near curl: %v):\n%s", kcatHint, vesselHint, nearHint, d.stdout.String())
	}
}

// TestDemoAISFlags checks the demo's AIS simulator flags: defaults, and
// usage errors (exit code 2) that name the setting.
func TestDemoAISFlags(t *testing.T) {
	f, err := parseDemoFlags(nil, io.Discard)
	if err != nil || f.simAISRate != 5 || f.simVessels != 40 {
		t.Errorf("defaults: rate %v, vessels %d, err %v; want 5, 40, nil", f.simAISRate, f.simVessels, err)
	}
	if f, err := parseDemoFlags([]string{"--sim-ais-rate", "0", "--sim-vessels", "400"}, io.Discard); err != nil || f.simAISRate != 0 || f.simVessels != 400 {
		t.Errorf("--sim-ais-rate 0 --sim-vessels 400: %+v, %v", f, err)
	}
	for _, args := range [][]string{
		{"--sim-ais-rate", "-1"}, {"--sim-ais-rate", "NaN"}, {"--sim-ais-rate", "Inf"},
		{"--sim-vessels", "0"}, {"--sim-vessels", "10001"}, {"--sim-rate", "NaN"},
	} {
		_, err := parseDemoFlags(args, io.Discard)
		var ee *exitError
		name := strings.TrimPrefix(args[0], "--")
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "invalid setting "+name) {
			t.Errorf("%q: %v, want a usage error naming %s", args, err, name)
		}
	}
}
