package query

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// BenchmarkContainerGet: GET /v1/containers/{id} in process for a box with
// n events in its history, discharged halfway (so its current visit holds
// n/2 of them): what the answer's legs cost as histories grow.
func BenchmarkContainerGet(b *testing.B) {
	for _, n := range []int{5, 50, 500} {
		b.Run(fmt.Sprint("events=", n), func(b *testing.B) {
			store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			evs := make([]state.Event, n)
			for i := range evs {
				evs[i] = state.Event{ID: fmt.Sprint("e", i), Container: "MSKU9070323", Code: state.CodeGTIN, Time: int64(i+1) * 1e9, Location: "CNNGB-BLCT", Source: "bench"}
			}
			evs[n/2].Code = state.CodeDISC
			if _, err := store.Apply(&state.Batch{Topic: "port.rfid", Next: 1, Events: evs}); err != nil {
				b.Fatal(err)
			}
			srv, err := New(Config{Store: store, Open: true})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				ctx.Request.SetRequestURI("/v1/containers/MSKU9070323")
				ctx.Request.Header.SetHost("localhost") // the open API answers loopback names only
				ctx.Response.Reset()
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
