package query

import (
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

func TestMetricsEndpoint(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := New(Config{Store: store, Open: true, Metrics: []func(io.Writer){func(w io.Writer) { io.WriteString(w, "extra_metric 7\n") }}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/v1/containers/CSQU3054383", "/v1/containers/CSQU3054383", "/healthz", "/metrics"} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("localhost") // the open API answers loopback names only
		h(&ctx)
		if path == "/metrics" {
			body := string(ctx.Response.Body())
			for _, want := range []string{
				`porttrack_http_request_duration_seconds_count{route="/v1/containers/{id}"} 2`,
				`porttrack_http_request_duration_seconds_count{route="/healthz"} 1`,
				`porttrack_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 1`,
				"extra_metric 7",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		}
	}
}
