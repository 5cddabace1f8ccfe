package query

import (
	"strings"
	"testing"
)

// TestMapPage: /map and its assets are served from the binary with a
// Content-Security-Policy that names no other origin, without a key; the
// page refers to nothing outside this server.
func TestMapPage(t *testing.T) {
	f := newDCSAFixture(t, false)
	for _, p := range []string{"/map", "/map/map.js", "/map/map.css"} {
		code, h, body := f.do(t, "GET", p, "", nil)
		if code != 200 || len(body) == 0 {
			t.Fatalf("%s: %d", p, code)
		}
		csp := string(h.Peek("Content-Security-Policy"))
		if csp != mapCSP || strings.Contains(csp, "http") || strings.Contains(csp, "*") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		for _, ext := range []string{"http://", "https://", "//cdn", "unpkg", "googleapis"} {
			if strings.Contains(string(body), ext) {
				t.Errorf("%s refers to %s", p, ext)
			}
		}
	}
	if code, _, _ := f.do(t, "GET", "/map/nope.js", "", nil); code != 404 {
		t.Errorf("unknown asset: %d", code)
	}
	if code, _, _ := f.do(t, "GET", "/map/..%2fweb.go", "", nil); code != 404 {
		t.Errorf("path outside web/: %d", code)
	}
}
