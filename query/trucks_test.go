package query

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// parseTruckLine parses a script line
// "truck plate time lat lon [speed heading [container]]"; "-" is an
// unknown speed or heading.
func parseTruckLine(t *testing.T, l string) state.TruckReport {
	t.Helper()
	f := strings.Fields(l)
	bad := func(why string) { t.Fatalf("trucks line %q: %s", l, why) }
	if len(f) != 5 && len(f) != 7 && len(f) != 8 || f[0] != "truck" {
		bad("want truck plate time lat lon [speed heading [container]]")
	}
	plate, err := state.ParsePlate(f[1])
	if err != nil {
		bad(err.Error())
	}
	ts, err := time.Parse(time.RFC3339Nano, f[2])
	if err != nil {
		bad(err.Error())
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			bad(err.Error())
		}
		return v
	}
	r := state.TruckReport{Plate: plate, Time: ts.UnixNano(), Lat: num(f[3]), Lon: num(f[4]),
		SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt}
	if len(f) >= 7 {
		if f[5] != "-" {
			r.SpeedKmh = num(f[5])
		}
		if f[6] != "-" {
			r.Heading = int(num(f[6]))
		}
	}
	if len(f) == 8 {
		r.Container = f[7]
	}
	return r
}

func TestTruckRoutesMetrics(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := New(Config{Store: store, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/v1/trucks/%E6%B5%99B12345", "/v1/trucks/%E6%B5%99B12345/track", "/v1/trucks?near=29.9,121.8", "/metrics"} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("localhost") // the open API answers loopback names only
		h(&ctx)
		if path != "/metrics" {
			continue
		}
		body := string(ctx.Response.Body())
		for _, route := range []string{"/v1/trucks/{plate}", "/v1/trucks/{plate}/track", "/v1/trucks"} {
			if want := `porttrack_http_request_duration_seconds_count{route="` + route + `"} 1`; !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	}
}
