package query

import (
	"bytes"
	"strings"
	"testing"
)

// TestOversizedBody413: a request body over the server's limit is answered
// 413 with a JSON error naming the limit, not 400.
func TestOversizedBody413(t *testing.T) {
	f := newDCSAFixture(t, false)
	big := append([]byte(`{"callbackUrl":"https://example.com/hook","x":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	big = append(big, `"}`...)
	code, h, body := f.do(t, "POST", "/v2/event-subscriptions", keyA, big)
	if code != 413 || string(h.ContentType()) != "application/json" || !strings.Contains(string(body), "1048576") {
		t.Fatalf("oversized body: %d %s %s, want 413 application/json naming the limit", code, h.ContentType(), body)
	}
}
