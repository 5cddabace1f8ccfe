package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// TestDispatchQueriesFromKafka sends a gate portal read, an EPCIS event in a
// yard block and a truck position through the demo's broker with
// kcat, and finds them through the dispatcher queries: the box's facility,
// the yard block's list, the trucks near the gate.
func TestDispatchQueriesFromKafka(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	box := func(serial string) string { return serial + string(state.ContainerCheckDigit(serial)) }
	gateBox, yardBox := box("PTKU200001"), box("PTKU200002")
	produce := func(topic, key, value string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", d.broker, "-t", topic, "-k", key)
		cmd.Stdin = strings.NewReader(value + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	produce("port.rfid", gateBox, `{"reader":"BLCT-GATE-L2","antenna":1,"epc":"urn:epc:id:bic:`+gateBox+`","t":"2026-11-22T08:00:00Z","dir":"in"}`)
	produce("port.rfid", yardBox, `{"type":"ObjectEvent","eventID":"urn:uuid:6f1d7c1e-0000-4000-8000-200000000002","eventTime":"2026-11-22T08:05:00Z","eventTimeZoneOffset":"+08:00",`+
		`"epcList":["urn:epc:id:bic:`+yardBox+`"],"action":"OBSERVE","bizStep":"holding","readPoint":{"id":"BLCT-YS-07"},"bizLocation":{"id":"CNNGB-BLCT-YARD-C"}}`)
	produce("port.transport", "浙B20001", `{"type":"truck.position","plate":"浙B20001","lat":29.9339,"lon":121.8801,"t":"2026-11-22T08:06:00Z"}`)

	for _, c := range []struct{ path, want string }{
		{"/v1/containers/" + gateBox, `"facility":{"id":"nbct-gate","kind":"gate","name":"BLCT gate"}`},
		{"/v1/containers/" + yardBox, `"facility":{"id":"nbct-yard-c","kind":"yard_block","name":"BLCT yard block C"},"block":"C"`},
		{"/v1/containers?facility=nbct-yard-c&count=true", `"containers":[{"id":"` + yardBox + `","since":"2026-11-22T08:05:00Z"}],"next_cursor":"","count":1}`},
		{"/v1/containers?facility=nbct-gate&at=2026-11-22T08:01:00Z", `"containers":[{"id":"` + gateBox + `","since":"2026-11-22T08:00:00Z"}]`},
		{"/v1/trucks?near=gate:nbct-gate&radius=500&count=true", `"plate":"浙B20001"`},
	} {
		waitFor(t, 15*time.Second, func() (bool, string) {
			d.exited(t)
			code, body, err := httpGet(d.base + c.path)
			if err != nil {
				return false, err.Error()
			}
			return code == http.StatusOK && strings.Contains(string(body), c.want),
				fmt.Sprintf("GET %s: %d %s, want it to contain %s", c.path, code, body, c.want)
		})
	}
	d.stop(t)
}
