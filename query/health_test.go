package query

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestHealthDegraded: /healthz and /readyz keep their status codes and add
// "degraded" to their body while Config.Degraded lists something.
func TestHealthDegraded(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var degraded []string
	ready := true
	srv, err := New(Config{Store: store, Open: true, Ready: func() bool { return ready }, Degraded: func() []string { return degraded }})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	get := func(path string) (int, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("localhost")
		h(&ctx)
		return ctx.Response.StatusCode(), string(ctx.Response.Body())
	}
	for _, c := range []struct {
		degraded []string
		ready    bool
		path     string
		code     int
		body     string
	}{
		{nil, true, "/healthz", 200, `{"status":"ok"}`},
		{nil, true, "/readyz", 200, `{"status":"ready"}`},
		{[]string{"outbox: oldest unpublished entry is 2m0s old (threshold 1m0s)"}, true, "/healthz", 200,
			`{"status":"ok","degraded":["outbox: oldest unpublished entry is 2m0s old (threshold 1m0s)"]}`},
		{[]string{"outbox: x"}, true, "/readyz", 200, `{"status":"ready","degraded":["outbox: x"]}`},
		{[]string{"outbox: x"}, false, "/readyz", 503,
			`{"status":"not_ready","reason":"partitions not assigned or not caught up","degraded":["outbox: x"]}`},
	} {
		degraded, ready = c.degraded, c.ready
		if code, body := get(c.path); code != c.code || body != c.body {
			t.Errorf("%s (degraded %q, ready %v) = %d %s, want %d %s", c.path, c.degraded, c.ready, code, body, c.code, c.body)
		}
	}
}
