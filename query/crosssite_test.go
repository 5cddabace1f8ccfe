package query

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// send sends req through the fixture's client and returns status, headers
// and body.
func (f *dcsaFixture) send(t *testing.T, req *fasthttp.Request) (int, *fasthttp.ResponseHeader, []byte) {
	t.Helper()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := f.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	h := new(fasthttp.ResponseHeader)
	resp.Header.CopyTo(h)
	return resp.StatusCode(), h, bytes.Clone(resp.Body())
}

// newReq builds a request to the fixture: method, URI, then header
// name/value pairs.
func newReq(method, uri, body string, headers ...string) *fasthttp.Request {
	req := new(fasthttp.Request)
	req.SetRequestURI("http://localhost" + uri)
	req.Header.SetMethod(method)
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.UseHostHeader = true
			req.Header.SetHost(headers[i+1])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.SetBodyString(body)
	}
	return req
}

func errorMessage(body []byte) string {
	var e struct {
		Error   struct{ Message string } `json:"error"`
		Message string                   `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	json.Unmarshal(body, &e)
	if e.Error.Message != "" {
		return e.Error.Message
	}
	if len(e.Errors) > 0 {
		return e.Errors[0].Message
	}
	return e.Message
}

// TestCrossSiteRequestsRefused replays the cross-site attacks on the open
// demo: a text/plain POST from a foreign page, a rebound Host name; both
// are refused 403 with a JSON error naming why, and nothing is created.
func TestCrossSiteRequestsRefused(t *testing.T) {
	f := newDCSAFixture(t, true)
	sub := `{"callbackUrl":"https://example.com/hook","secret":"` + testSecret + `"}`
	for _, c := range []struct {
		name    string
		req     *fasthttp.Request
		code    int
		message string
	}{
		{"foreign origin, text/plain", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "text/plain", "Origin", "http://evil.example"), 403, "Origin"},
		{"foreign origin, JSON", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "application/json", "Origin", "http://evil.example"), 403, "Origin"},
		{"foreign origin, GET", newReq("GET", "/v1/containers/"+boxesA[0], "", "Origin", "http://evil.example"), 403, "Origin"},
		{"null origin", newReq("GET", "/v1/containers/"+boxesA[0], "", "Origin", "null"), 403, "Origin"},
		{"rebound host", newReq("GET", "/v1/containers/"+boxesA[0], "", "Host", "evil.example"), 403, "Host"},
		{"rebound host with port", newReq("POST", "/v2/event-subscriptions", sub, "Host", "evil.example:8080", "Content-Type", "application/json"), 403, "Host"},
		{"rebound host on metrics", newReq("GET", "/metrics", "", "Host", "evil.example"), 403, "Host"},
		{"text/plain without origin", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "text/plain"), 415, "application/json"},
		{"form without origin", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "application/x-www-form-urlencoded"), 415, "application/json"},
		{"no content type", newReq("POST", "/v2/event-subscriptions", sub), 415, "application/json"},
		{"geo+json on subscriptions", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "application/geo+json"), 415, "application/json"},
	} {
		code, h, body := f.send(t, c.req)
		if code != c.code || !bytes.HasPrefix(h.ContentType(), []byte("application/json")) || !strings.Contains(errorMessage(body), c.message) {
			t.Errorf("%s: %d %s %s, want %d and a JSON error naming %s", c.name, code, h.ContentType(), body, c.code, c.message)
		}
		if len(h.Peek("Access-Control-Allow-Origin")) > 0 {
			t.Errorf("%s: answered with Access-Control-Allow-Origin %s", c.name, h.Peek("Access-Control-Allow-Origin"))
		}
	}
	if code, _, body := f.do(t, "GET", "/v2/event-subscriptions", "", nil); code != 200 || string(body) != "[]" {
		t.Errorf("subscriptions after the attempts: %d %s, want none", code, body)
	}
	// What the demo's own users send is answered.
	for _, c := range []struct {
		name string
		req  *fasthttp.Request
		code int
	}{
		{"localhost", newReq("GET", "/v1/containers/"+boxesA[0], "", "Host", "localhost:8080"), 200},
		{"127.0.0.1", newReq("GET", "/v1/containers/"+boxesA[0], "", "Host", "127.0.0.1:8080"), 200},
		{"::1", newReq("GET", "/v1/containers/"+boxesA[0], "", "Host", "[::1]:8080"), 200},
		{"a.localhost", newReq("GET", "/healthz", "", "Host", "porttrack.localhost"), 200},
		{"JSON with charset", newReq("POST", "/v2/event-subscriptions", sub, "Content-Type", "Application/JSON; charset=utf-8"), 201},
		{"geo+json fence", newReq("PUT", "/v1/geofences/yard-x", `{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[121.85,29.92],[121.86,29.92],[121.86,29.93],[121.85,29.92]]]}}`, "Content-Type", "application/geo+json"), 201},
	} {
		if code, _, body := f.send(t, c.req); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
	}
}

// TestCORSAllowList: an origin listed in CORSOrigins gets its preflight
// answered and Access-Control-Allow-Origin on its answers; another origin's
// preflight is refused; a bad entry is a configuration error.
func TestCORSAllowList(t *testing.T) {
	const app = "https://app.example.com"
	f := newDCSAFixture(t, false, func(c *Config) { c.CORSOrigins = []string{"https://App.Example.com"} })
	code, h, body := f.send(t, newReq("OPTIONS", "/v2/event-subscriptions", "", "Origin", app,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type"))
	if code != 204 || string(h.Peek("Access-Control-Allow-Origin")) != app || !strings.Contains(string(h.Peek("Access-Control-Allow-Methods")), "POST") ||
		!strings.Contains(string(h.Peek("Access-Control-Allow-Headers")), "Authorization") || string(h.Peek("Vary")) != "Origin" {
		t.Errorf("preflight of %s: %d %s %s", app, code, h.Header(), body)
	}
	code, h, body = f.send(t, newReq("OPTIONS", "/v2/event-subscriptions", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"))
	if code != 403 || len(h.Peek("Access-Control-Allow-Origin")) > 0 || len(h.Peek("Access-Control-Allow-Methods")) > 0 {
		t.Errorf("preflight of another origin: %d %s %s", code, h.Header(), body)
	}
	code, h, body = f.send(t, newReq("GET", "/v1/containers/"+boxesA[0], "", "Origin", app, "Authorization", "Bearer "+keyPort))
	if code != 200 || string(h.Peek("Access-Control-Allow-Origin")) != app {
		t.Errorf("GET from %s: %d %s %s", app, code, h.Header(), body)
	}
	// The allowed origin still needs a key (the server is not open).
	if code, _, body := f.send(t, newReq("GET", "/v1/containers/"+boxesA[0], "", "Origin", app)); code != 401 {
		t.Errorf("GET from %s without a key: %d %s", app, code, body)
	}
	// A closed server answers any Host: it authenticates every caller.
	if code, _, body := f.send(t, newReq("GET", "/v1/containers/"+boxesA[0], "", "Host", "porttrack.example.com", "Authorization", "Bearer "+keyPort)); code != 200 {
		t.Errorf("closed server, Host porttrack.example.com: %d %s", code, body)
	}
	for _, bad := range []string{"*", "app.example.com", "https://app.example.com/path", "ftp://app.example.com", "https://*.example.com", "null"} {
		if _, err := New(Config{Store: f.store, CORSOrigins: []string{bad}}); err == nil {
			t.Errorf("CORSOrigins %q accepted", bad)
		}
	}
}

// TestSameOriginPage: the page the server serves itself (/map) sends its
// own Origin on writes; it passes without being in the allow-list, on the
// open demo too, and a rebound name does not.
func TestSameOriginPage(t *testing.T) {
	for _, open := range []bool{false, true} {
		f := newDCSAFixture(t, open)
		code, h, body := f.send(t, newReq("POST", "/v1/stream/token", "", "Origin", "http://localhost", "Authorization", "Bearer "+keyPort))
		if code != 200 || len(h.Peek("Access-Control-Allow-Origin")) > 0 {
			t.Errorf("open=%v: same-origin POST: %d %s", open, code, body)
		}
		if code, _, body := f.send(t, newReq("POST", "/v1/stream/token", "", "Origin", "http://evil.example", "Authorization", "Bearer "+keyPort)); code != 403 {
			t.Errorf("open=%v: foreign origin: %d %s", open, code, body)
		}
	}
	f := newDCSAFixture(t, true)
	if code, _, body := f.send(t, newReq("POST", "/v1/stream/token", "", "Origin", "http://rebound.example", "Host", "rebound.example")); code != 403 {
		t.Errorf("rebound name on the open demo: %d %s", code, body)
	}
}
