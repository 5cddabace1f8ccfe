package query

import (
	"net/netip"
	"strings"
	"testing"
)

// TestSubscriptionCallbackDenied: a literal callback address in a range
// callbacks may not reach is refused 400 naming why, at create and update;
// the server's CallbackAllow re-opens the range.
func TestSubscriptionCallbackDenied(t *testing.T) {
	f := newDCSAFixture(t, false)
	sub := func(u string) []byte { return []byte(`{"callbackUrl":"` + u + `","secret":"` + testSecret + `"}`) }
	for u, why := range map[string]string{
		"http://127.0.0.1:8080/hook":    "loopback",
		"http://[::1%25lo]:8080/hook":   "zone",
		"http://169.254.169.254/latest": "link-local",
		"http://[::ffff:10.0.0.1]/":     "private",
		"http://localhost:8080/":        "loopback",
	} {
		code, _, body := f.do(t, "POST", "/v2/event-subscriptions", keyA, sub(u))
		if code != 400 || !strings.Contains(string(body), why) {
			t.Errorf("create with %s: %d %s, want 400 naming %s", u, code, body, why)
		}
	}
	code, _, body := f.do(t, "POST", "/v2/event-subscriptions", keyA, sub("https://example.com/hook"))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := between(string(body), `"subscriptionID":"`, `"`)
	if code, _, body := f.do(t, "PUT", "/v2/event-subscriptions/"+id, keyA, []byte(`{"callbackUrl":"http://10.1.2.3/"}`)); code != 400 || !strings.Contains(string(body), "private") {
		t.Errorf("update to 10.1.2.3: %d %s, want 400 naming private", code, body)
	}
	open := newDCSAFixture(t, false, func(c *Config) { c.CallbackAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	if code, _, body := open.do(t, "POST", "/v2/event-subscriptions", keyA, sub("http://127.0.0.1:8080/hook")); code != 201 {
		t.Errorf("loopback allowed: %d %s", code, body)
	}
}
