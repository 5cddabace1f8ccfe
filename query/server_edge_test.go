package query

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestOversizedBody413: a request body over the server's limit is answered
// 413 with a JSON error naming the limit, not 400. The request declares
// its length and the server answers before reading the body (so the test
// writes none: a client still writing would race the server's close).
func TestOversizedBody413(t *testing.T) {
	f := newDCSAFixture(t, false)
	conn, err := f.client.Dial("localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v2/event-subscriptions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + keyA +
		"\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 413 || string(resp.Header.ContentType()) != "application/json" || !strings.Contains(string(resp.Body()), "1048576") {
		t.Fatalf("oversized body: %d %s %s, want 413 application/json naming the limit", resp.StatusCode(), resp.Header.ContentType(), resp.Body())
	}
}
