package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// TestKcatIntoDemo is the demo's promise end to end: `porttrack demo` runs,
// an EPCIS event sent with the real kcat (librdkafka), in every codec, shows
// up on the HTTP API within a second, and the demo stops cleanly.
func TestKcatIntoDemo(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	broker, base := d.broker, d.base

	for i, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			serial := fmt.Sprintf("PTKU%06d", 100001+i)
			box := serial + string(state.ContainerCheckDigit(serial))
			if err := state.CheckContainer(box); err != nil {
				t.Fatalf("test container %s: %v", box, err)
			}
			eventID := fmt.Sprintf("urn:uuid:6f1d7c1e-0000-4000-8000-%012d", i+1)
			event := fmt.Sprintf(`{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",`+
				`"type":"ObjectEvent","eventID":%q,"eventTime":%q,"eventTimeZoneOffset":"+08:00",`+
				`"epcList":["urn:epc:id:bic:%s"],"action":"OBSERVE","bizStep":"arriving",`+
				`"readPoint":{"id":"BLCT-GATE-L1"},"bizLocation":{"id":"CNNGB-BLCT-GATE"}}`,
				eventID, time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), box)

			kctx, kcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer kcancel()
			cmd := exec.CommandContext(kctx, kcat, "-P", "-b", broker, "-t", "port.rfid", "-k", box, "-z", codec)
			cmd.Stdin = strings.NewReader(event + "\n")
			var kout bytes.Buffer
			cmd.Stdout, cmd.Stderr = &kout, &kout
			kstart := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, kout.String())
			}
			sent := time.Now()

			var body []byte
			var seenAt time.Time
			waitForEvery(t, 15*time.Second, 2*time.Millisecond, func() (bool, string) {
				d.exited(t)
				code, b, err := httpGet(base + "/v1/containers/" + box)
				if err != nil {
					return false, err.Error()
				}
				if code != http.StatusOK {
					return false, fmt.Sprintf("GET /v1/containers/%s: %d %s", box, code, b)
				}
				seenAt, body = time.Now(), b
				return true, ""
			})
			latency := seenAt.Sub(sent)
			t.Logf("codec %s: kcat ran %s; %s visible %s after kcat exited", codec,
				sent.Sub(kstart).Round(time.Millisecond), box, latency.Round(time.Millisecond))
			if latency > time.Second {
				t.Errorf("codec %s: %s became visible %s after kcat exited, want within 1s", codec, box, latency)
			}

			var got struct {
				ID        string `json:"id"`
				Status    string `json:"status"`
				LastEvent struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Location string `json:"location"`
				} `json:"last_event"`
				EventCount int `json:"event_count"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("container JSON %s: %v", body, err)
			}
			if got.ID != box || got.Status != "gated_in" || got.LastEvent.Type != "GTIN" ||
				got.LastEvent.ID != eventID || got.LastEvent.Location != "CNNGB-BLCT-GATE" || got.EventCount != 1 {
				t.Errorf("GET /v1/containers/%s = %s\nwant id %s, status gated_in, last_event {id %s, type GTIN, location CNNGB-BLCT-GATE}, event_count 1",
					box, body, box, eventID)
			}
		})
	}

	// Exactly the five records arrived, each decoded: nothing was
	// dead-lettered (an empty or mangled record would be).
	// The counters move just after the commit that made the boxes visible.
	var m map[string]float64
	waitFor(t, 5*time.Second, func() (bool, string) {
		var err error
		if m, err = scrape(base + "/metrics"); err != nil {
			return false, err.Error()
		}
		c, a := m["porttrack_ingest_records_consumed_total"], m["porttrack_ingest_records_applied_total"]
		return c == 5 && a == 5, fmt.Sprintf("consumed %v and applied %v records, want 5 and 5", c, a)
	})
	if dl := series(m, "porttrack_ingest_records_dead_lettered_total"); len(dl) != 0 {
		t.Errorf("dead-lettered: %v, want none", dl)
	}

	d.stop(t)

	var curl, kcatHint bool
	for _, line := range strings.Split(d.stdout.String(), "\n") {
		line = strings.TrimSpace(line)
		curl = curl || strings.HasPrefix(line, "curl -s http://"+d.httpAddr+"/v1/containers/")
		kcatHint = kcatHint || strings.Contains(line, "| kcat -P -b "+broker+" -t port.rfid")
	}
	if !curl || !kcatHint {
		t.Errorf("demo stdout lacks the hints (curl line: %v, kcat line: %v):\n%s", curl, kcatHint, d.stdout.String())
	}
}
