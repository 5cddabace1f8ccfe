package query

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// BenchmarkTruckQueries: the truck point lookup and the radius query (2 km,
// nearest 50) in process, without the network, over 200,000 trucks at the
// bench's port density (lat 29.70–30.10, lon 121.50–122.40 holds a million,
// so the area is scaled to a fifth): what the handlers cost above the HTTP
// exchange that `porttrack bench geo` measures.
func BenchmarkTruckQueries(b *testing.B) {
	const n = 200_000
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	const latSpan, lonSpan = 0.4 / 2.236, 0.9 / 2.236 // a fifth of the area
	reps := make([]state.TruckReport, 0, 10_000)
	for i := range n {
		lat := 29.70 + rng.Float64()*latSpan
		lon := 121.50 + rng.Float64()*lonSpan
		reps = append(reps, state.TruckReport{
			Plate: fmt.Sprintf("浙B%05d", i), Time: 1_795_000_000e9 + int64(i), Lat: float64(int64(lat*1e6)) / 1e6, Lon: float64(int64(lon*1e6)) / 1e6,
			SpeedKmh: float64(rng.IntN(600)) / 10, Heading: rng.IntN(360),
		})
		if len(reps) == cap(reps) {
			if _, err := store.Apply(&state.Batch{Topic: "port.transport", Next: int64(i + 1), Trucks: reps}); err != nil {
				b.Fatal(err)
			}
			reps = reps[:0]
		}
	}
	srv, err := New(Config{Store: store, Open: true})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	uris := make([]string, 1024)
	run := func(b *testing.B) {
		var ctx fasthttp.RequestCtx
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ctx.Request.SetRequestURI(uris[i%len(uris)])
			ctx.Request.Header.SetHost("localhost") // the open API answers loopback names only
			i++
			ctx.Response.Reset()
			h(&ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	}
	b.Run("point", func(b *testing.B) {
		for i := range uris {
			uris[i] = fmt.Sprintf("/v1/trucks/%%E6%%B5%%99B%05d", rng.IntN(n))
		}
		run(b)
	})
	b.Run("radius", func(b *testing.B) {
		for i := range uris {
			lat := 29.70 + 0.02 + rng.Float64()*(latSpan-0.04)
			lon := 121.50 + 0.02 + rng.Float64()*(lonSpan-0.04)
			uris[i] = "/v1/trucks?near=" + strconv.FormatFloat(lat, 'f', 5, 64) + "," + strconv.FormatFloat(lon, 'f', 5, 64) + "&radius=2000&limit=50"
		}
		run(b)
	})
}
