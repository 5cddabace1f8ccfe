package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestConnectionGuardThroughKafka is the connection guard end to end: a
// rail.plan produced with kcat into port.transport puts a box that is not
// yet discharged at risk; its gate-in at the rail station (EPCIS, produced
// with kcat into port.rfid) puts it on track. Each deciding record changes
// GET /v1/trains/{id} and emits a connection alert on porttrack.alerts,
// read back with kcat within a second.
func TestConnectionGuardThroughKafka(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alerts := consumeTopic(ctx, t, kcat, d.broker, "porttrack.alerts")

	const train, box, station = "X8417", "MSKU9070323", "beilun-rail-station"
	now := time.Now().UTC().Truncate(time.Second)
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
	plan := fmt.Sprintf(`{"type":"rail.plan","train":%q,"service":"YW-BL","from_station":%q,"to_station":"CNYIW-ICD","departure":%q,"cutoff":%q,"wagons":[{"wagon":"4567890","containers":[%q]}],"t":%q}`,
		train, station, rfc(now.Add(6*time.Hour)), rfc(now.Add(4*time.Hour)), box, rfc(now))

	type alert struct {
		Kind, Container, Verdict string
		Departure                struct{ Mode, ID, Station string }
		Reasons                  []struct{ Code string }
	}
	expect := func(sent time.Time, verdict string, reasons ...string) {
		t.Helper()
		l := alerts.next(verdict + " alert")
		var a alert
		if err := json.Unmarshal([]byte(l.text), &a); err != nil {
			t.Fatalf("alert %s: %v", l.text, err)
		}
		var codes []string
		for _, r := range a.Reasons {
			codes = append(codes, r.Code)
		}
		if a.Kind != "connection" || a.Container != box || a.Verdict != verdict || a.Departure.ID != train || a.Departure.Mode != "rail" ||
			fmt.Sprint(codes) != fmt.Sprint(reasons) {
			t.Errorf("alert %s, want %s %v", l.text, verdict, reasons)
		}
		latency := l.at.Sub(sent)
		t.Logf("%s alert read back %s after kcat produced the deciding record", verdict, latency.Round(time.Millisecond))
		if latency > time.Second {
			t.Errorf("%s alert %s after the deciding record, want within 1 s", verdict, latency)
		}
		code, body, err := httpGet(d.base + "/v1/trains/" + train)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /v1/trains/%s: %d %s %v", train, code, body, err)
		}
		var p struct {
			Counts map[string]int
			Wagons []struct {
				Containers []struct{ Container, Verdict string }
			}
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Counts[verdict] != 1 || len(p.Wagons) != 1 || len(p.Wagons[0].Containers) != 1 || p.Wagons[0].Containers[0].Verdict != verdict {
			t.Errorf("GET /v1/trains/%s = %s, want the box %s", train, body, verdict)
		}
	}

	// Not seen yet: discharge 6h + transfer 2h + load 1h passes the 4h cutoff.
	sent := kcatProduce(ctx, t, kcat, d.broker, "port.transport", train, plan+"\n")
	expect(sent, "at_risk", "not_discharged", "no_truck_appointment", "late")

	// Gated in at the rail station (its facility in the reader table,
	// which the port model places at the station): only the loading (1h)
	// is left.
	event := fmt.Sprintf(`{"type":"ObjectEvent","eventID":"urn:uuid:6f1d7c1e-0000-4000-8000-000000008417","eventTime":%q,"eventTimeZoneOffset":"+08:00",`+
		`"epcList":["urn:epc:id:bic:%s"],"action":"OBSERVE","bizStep":"arriving","readPoint":{"id":"BLRS-GATE-1"},"bizLocation":{"id":"CNNGB-BEILUN-RAIL"}}`,
		rfc(now.Add(time.Minute)), box)
	sent = kcatProduce(ctx, t, kcat, d.broker, "port.rfid", box, event+"\n")
	expect(sent, "on_track")
	d.stop(t)
}
