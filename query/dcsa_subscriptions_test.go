package query

import (
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

var testSecret = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))

// TestSubscriptionsCRUD walks a subscription through create, list, get,
// update, secret reset and delete, validating each answer against the
// spec, and checks that tenants never see each other's subscriptions.
func TestSubscriptionsCRUD(t *testing.T) {
	// The callbacks are on loopback, which callbacks are denied by default.
	f := newDCSAFixture(t, false, func(c *Config) { c.CallbackAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	v := loadSpec(t)
	call := func(method, uri, key, body string) (int, map[string]any, []byte) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		code, h, resp := f.do(t, method, uri, key, b)
		v.checkWithBody(t, method, uri, b, code, h, resp)
		var m map[string]any
		json.Unmarshal(resp, &m)
		return code, m, resp
	}
	code, created, body := call("POST", "/v2/event-subscriptions", keyA,
		`{"callbackUrl":"http://127.0.0.1:9/hook","secret":"`+testSecret+`","eventType":["EQUIPMENT","SHIPMENT"],"equipmentEventTypeCode":["GTIN"],"carrierBookingReference":"BKG-A"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id, _ := created["subscriptionID"].(string)
	if id == "" || created["secret"] != nil || created["carrierBookingReference"] != "BKG-A" {
		t.Fatalf("created %s", body)
	}
	if code, m, body := call("GET", "/v2/event-subscriptions/"+id, keyA, ""); code != 200 || m["callbackUrl"] != "http://127.0.0.1:9/hook" {
		t.Fatalf("get: %d %s", code, body)
	}
	// Another tenant: as if it did not exist.
	for _, c := range []struct{ method, uri, body string }{
		{"GET", "/v2/event-subscriptions/" + id, ""},
		{"PUT", "/v2/event-subscriptions/" + id, `{"callbackUrl":"http://127.0.0.1:9/stolen"}`},
		{"PUT", "/v2/event-subscriptions/" + id + "/secret", `{"secret":"` + testSecret + `"}`},
		{"DELETE", "/v2/event-subscriptions/" + id, ""},
	} {
		if code, _, body := call(c.method, c.uri, keyB, c.body); code != 404 {
			t.Errorf("tenant B %s %s: %d %s", c.method, c.uri, code, body)
		}
	}
	for _, uri := range []string{"/v2/event-subscriptions/" + id + "/deliveries", "/v2/event-subscriptions/" + id + "/dead-letters"} {
		if code, _, _ := f.do(t, "GET", uri, keyB, nil); code != 404 {
			t.Errorf("tenant B GET %s: %d", uri, code)
		}
		if code, _, body := f.do(t, "GET", uri, keyA, nil); code != 200 {
			t.Errorf("tenant A GET %s: %d %s", uri, code, body)
		}
	}
	if code, _, _ := f.do(t, "POST", "/v2/event-subscriptions/"+id+"/redeliver?since=2026-01-01T00:00:00Z", keyB, nil); code != 404 {
		t.Errorf("tenant B redeliver: %d", code)
	}
	if code, _, body := f.do(t, "POST", "/v2/event-subscriptions/"+id+"/redeliver?since=2026-01-01T00:00:00Z", keyA, nil); code != 202 {
		t.Errorf("tenant A redeliver: %d %s", code, body)
	}
	code, _, body = call("GET", "/v2/event-subscriptions", keyB, "")
	if code != 200 || string(body) != "[]" {
		t.Errorf("tenant B list: %d %s", code, body)
	}
	// Pages of one through tenant A's subscriptions.
	if code, _, body := call("POST", "/v2/event-subscriptions", keyA, `{"callbackUrl":"https://example.com/b","secret":"`+testSecret+`"}`); code != 201 {
		t.Fatalf("second create: %d %s", code, body)
	}
	seen := 0
	uri := "/v2/event-subscriptions?limit=1"
	for uri != "" && seen < 5 {
		code, h, body := f.do(t, "GET", uri, keyA, nil)
		v.check(t, "GET", uri, code, h, body)
		var l []map[string]any
		if code != 200 || json.Unmarshal(body, &l) != nil || len(l) != 1 {
			t.Fatalf("list page %s: %d %s", uri, code, body)
		}
		seen++
		uri = ""
		if n := h.Peek("Next-Page"); len(n) > 0 {
			uri = "/v2/event-subscriptions?limit=1&cursor=" + string(n)
		}
	}
	if seen != 2 {
		t.Errorf("listed %d subscriptions, want 2", seen)
	}
	code, m, body := call("PUT", "/v2/event-subscriptions/"+id, keyA, `{"subscriptionID":"`+id+`","callbackUrl":"http://127.0.0.1:9/new","transportEventTypeCode":["ARRI"]}`)
	if code != 200 || m["callbackUrl"] != "http://127.0.0.1:9/new" || m["carrierBookingReference"] != nil {
		t.Errorf("update: %d %s", code, body)
	}
	if code, _, body := call("PUT", "/v2/event-subscriptions/"+id+"/secret", keyA, `{"secret":"`+testSecret+`"}`); code != 204 {
		t.Errorf("secret: %d %s", code, body)
	}
	for _, bad := range []string{
		`{"secret":"` + testSecret + `"}`,
		`{"callbackUrl":"ftp://x/","secret":"` + testSecret + `"}`,
		`{"callbackUrl":"http://u:p@x/","secret":"` + testSecret + `"}`,
		`{"callbackUrl":"http://x/","secret":"c2hvcnQ="}`,
		`{"callbackUrl":"http://x/"}`,
		`{"callbackUrl":"http://x/","secret":"` + testSecret + `","eventType":["BOAT"]}`,
		`{"callbackUrl":"http://x/","secret":"` + testSecret + `","colour":"red"}`,
		`not json`,
	} {
		if code, _, body := call("POST", "/v2/event-subscriptions", keyA, bad); code != 400 {
			t.Errorf("POST %s: %d %s", bad, code, body)
		}
	}
	if code, _, body := call("DELETE", "/v2/event-subscriptions/"+id, keyA, ""); code != 204 {
		t.Errorf("delete: %d %s", code, body)
	}
	if code, _, _ := call("GET", "/v2/event-subscriptions/"+id, keyA, ""); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
	if code, _, _ := call("GET", "/v2/event-subscriptions", "", ""); code != 401 {
		t.Errorf("list without a key: %d", code)
	}
}
