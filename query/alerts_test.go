package query

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAlertAcks: a dispatcher acknowledges an alert (201 with who and
// when), a second one is told the first stands (200), another dispatcher
// sees it; logistics callers may not.
func TestAlertAcks(t *testing.T) {
	f := newDCSAFixture(t, false)
	code, _, body := f.do(t, "POST", "/v1/alerts/c0ffee/ack", keyPort, []byte(`{"by":"Li Wei"}`))
	var a struct{ Alert, By, Tenant, At string }
	if code != 201 || json.Unmarshal(body, &a) != nil || a.Alert != "c0ffee" || a.By != "Li Wei" || a.Tenant != "port" || a.At == "" {
		t.Fatalf("ack: %d %s", code, body)
	}
	code, _, body = f.do(t, "POST", "/v1/alerts/c0ffee/ack", keyPort, nil)
	if code != 200 || !strings.Contains(string(body), `"by":"Li Wei"`) {
		t.Fatalf("second ack: %d %s", code, body)
	}
	code, _, body = f.do(t, "GET", "/v1/alerts/acks?ids=nope,c0ffee", keyPort, nil)
	if code != 200 || !strings.HasPrefix(string(body), `{"acks":[{"alert":"c0ffee","by":"Li Wei"`) {
		t.Fatalf("acks: %d %s", code, body)
	}
	if code, _, body := f.do(t, "POST", "/v1/alerts/x/ack", keyPort, []byte(`{"by":"a\nb"}`)); code != 400 {
		t.Errorf("control character in by: %d %s", code, body)
	}
	if code, _, _ := f.do(t, "GET", "/v1/alerts/acks?ids="+strings.Repeat("a,", 200)+"a", keyPort, nil); code != 400 {
		t.Errorf("201 ids: %d", code)
	}
	if code, _, _ := f.do(t, "POST", "/v1/alerts/c0ffee/ack", keyA, nil); code != 403 {
		t.Errorf("logistics ack: %d", code)
	}
}
