package query

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func BenchmarkDCSAFirstPage(b *testing.B) {
	t := &testing.T{}
	f := newDCSAFixture(t, false)
	req := &fasthttp.RequestCtx{}
	req.Request.SetRequestURI("/v2/events?limit=20")
	req.Request.Header.Set("Authorization", "Bearer "+keyPort)
	h := f.srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req.Response.Reset()
		h(req)
		if req.Response.StatusCode() != 200 {
			b.Fatal(req.Response.StatusCode())
		}
	}
}
