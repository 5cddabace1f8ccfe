package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// TestFenceAlertThroughKafka is the geofence promise end to end: a fence
// PUT over HTTP, truck positions produced with kcat into port.transport,
// and the enter alerts (the truck's and the box it carries) read back from
// porttrack.alerts with kcat within a second.
func TestFenceAlertThroughKafka(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)

	fence := `{"type":"Feature","properties":{"name":"Customer yard"},"geometry":{"type":"Polygon","coordinates":[[[121.85,29.92],[121.86,29.92],[121.86,29.93],[121.85,29.93],[121.85,29.92]]]}}`
	req, _ := http.NewRequest(http.MethodPut, d.base+"/v1/geofences/customer-yard", strings.NewReader(fence))
	req.Header.Set("Content-Type", "application/geo+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /v1/geofences/customer-yard: %d %s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alerts := consumeTopic(ctx, t, kcat, d.broker, "porttrack.alerts")
	next := alerts.next
	produce := func(topic, key, value string) time.Time {
		return kcatProduce(ctx, t, kcat, d.broker, topic, key, value)
	}

	// Two positions inside, 31 s apart by event time: longer than the
	// default minimum dwell (30 s), so the second confirms the enter.
	plate, box := "浙B12345", "MSKU9070323"
	t0 := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	pos := func(t time.Time) string {
		return fmt.Sprintf(`{"type":"truck.position","plate":%q,"lat":29.925,"lon":121.855,"t":%q,"speed":5,"container":%q}`,
			plate, t.Format(time.RFC3339), box)
	}
	sent := produce("port.transport", plate, pos(t0)+"\n"+pos(t0.Add(31*time.Second))+"\n")

	got := map[string]state.FenceAlert{}
	var last time.Time
	for range 2 {
		l := next("enter alert")
		var a state.FenceAlert
		if err := json.Unmarshal([]byte(l.text), &a); err != nil {
			t.Fatalf("alert %s: %v", l.text, err)
		}
		got[a.Object.Type] = a
		last = l.at
	}
	latency := last.Sub(sent)
	t.Logf("enter alerts read back by kcat %s after the positions were produced", latency.Round(time.Millisecond))
	if latency > time.Second {
		t.Errorf("alerts arrived %s after kcat produced the positions, want within 1 s", latency)
	}
	for typ, id := range map[string]string{"truck": plate, "container": box} {
		a, ok := got[typ]
		if !ok {
			t.Errorf("no alert for the %s; got %+v", typ, got)
			continue
		}
		if a.Kind != "geofence" || a.Event != "enter" || a.Fence != "customer-yard" || a.Tenant != "" || a.Object.ID != id ||
			a.Time != t0.Format(time.RFC3339) || a.DwellS != 31 || a.Lat != 29.925 || a.Lon != 121.855 || len(a.ID) != 32 {
			t.Errorf("%s alert %+v: want an enter of customer-yard at %s, dwell 31 s", typ, a, t0.Format(time.RFC3339))
		}
	}

	code, body, err := httpGet(d.base + "/v1/geofences/customer-yard/inside")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /inside: %d %s %v", code, body, err)
	}
	want := fmt.Sprintf(`{"fence":"customer-yard","objects":[{"type":"container","id":%q,"since":%q},{"type":"truck","id":%q,"since":%q}],"truncated":false}`,
		box, t0.Format(time.RFC3339), plate, t0.Format(time.RFC3339))
	if string(body) != want {
		t.Errorf("GET /inside = %s\nwant %s", body, want)
	}
	m, err := scrape(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if m[`porttrack_geofence_transitions_total{event="enter"}`] != 2 || m["porttrack_geofence_evaluations_total"] < 2 || m["porttrack_geofences"] != 1 {
		t.Errorf("fence metrics: %v", series(m, "porttrack_geofence_transitions_total"))
	}
	d.stop(t)
}
