package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// TestMain turns the test binary into the geo scenario's load generator
// when RunGeo starts it as its child.
func TestMain(m *testing.M) {
	if os.Getenv(LoadGenEnv) != "" {
		if err := RunGeoLoadGen(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunGeo checks the harness, not the speed: a tiny run must answer
// radius queries as a brute-force scan does (RunGeo fails otherwise), and
// Redis must agree within its precision; every case must complete requests
// without errors and report consistent figures.
func TestRunGeo(t *testing.T) {
	redis := "redis-server"
	if _, err := exec.LookPath(redis); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server is not installed; CI must install it (.ci/run): %v", err)
		}
		t.Logf("redis-server is not installed: running without the Redis reference")
		redis = "-"
	}
	withRedis := redis != "-"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := GeoConfig{
		Objects: 2000, Duration: 200 * time.Millisecond, Conns: 4, UpdateRate: 2000, Partitions: 2, SweepRates: []float64{300},
		// The feed at the test's own priority: go test runs other packages
		// beside this one, and a niced feed may then produce nothing in a
		// 200 ms window (bench --quick in .ci/run runs it niced).
		FeedNice:    -1,
		RedisServer: redis, LoadGen: []string{os.Args[0], "-test.run=^$"}, DataDir: dir,
	}
	res, err := RunGeo(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Scenario != "geo" || res.Objects != 2000 || res.Conns != 4 || res.Limit != 50 || res.RadiusM != 2000 || res.LoadBatches != 1 {
		t.Errorf("config not reported: %+v", res)
	}
	ck := res.Checks
	if ck.Centers != 5 || ck.Trucks == 0 || ck.Points != 5 {
		t.Errorf("checks: %+v", ck)
	}
	if withRedis && (ck.RedisTrucks == 0 || res.RedisVersion == "") {
		t.Errorf("Redis not checked: %+v, version %q", ck, res.RedisVersion)
	}

	want := []string{"point", "radius", "ceiling", "redis", "radius_open", "radius_open_sweep", "radius_updates", "radius_updates_open"}
	if !withRedis {
		want = []string{"point", "radius", "ceiling", "radius_open", "radius_open_sweep", "radius_updates", "radius_updates_open"}
	}
	var names []string
	for _, c := range res.Cases {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("cases %v, want %v", names, want)
	}
	ceiling, radius := res.find("ceiling"), res.find("radius")
	for _, c := range res.Cases {
		switch {
		case c.Requests <= 0 || c.Errors != 0 || !(c.Rate > 0) || !(c.Seconds > 0):
			t.Errorf("%s: %d requests, %d errors, %v/s in %v s", c.Name, c.Requests, c.Errors, c.Rate, c.Seconds)
		case math.Abs(c.Rate-float64(c.Requests)/c.Seconds) > 1e-6*c.Rate:
			t.Errorf("%s: rate %v, want requests/seconds %v", c.Name, c.Rate, float64(c.Requests)/c.Seconds)
		case !(c.P50Us > 0 && c.P50Us <= c.P99Us && c.P99Us <= c.P999Us && c.P999Us <= c.MaxUs):
			t.Errorf("%s: percentiles p50 %v p99 %v p99.9 %v max %v", c.Name, c.P50Us, c.P99Us, c.P999Us, c.MaxUs)
		case !(c.LoadGenCPUUs > 0):
			t.Errorf("%s: load generator CPU %v µs/request", c.Name, c.LoadGenCPUUs)
		}
		switch c.Name {
		case "point", "radius", "ceiling", "radius_open", "radius_open_sweep":
			if c.ServerCPU != "porttrack" || !(c.ServerCPUUs > 0) {
				t.Errorf("%s: server CPU %q %v µs", c.Name, c.ServerCPU, c.ServerCPUUs)
			}
			if c.BytesPerReq <= 0 {
				t.Errorf("%s: %v bytes per answer", c.Name, c.BytesPerReq)
			}
		case "redis":
			// /proc/<pid>/stat counts 10 ms ticks: a 200 ms case may show 0.
			if c.ServerCPU != "redis" || c.ServerCPUUs < 0 || c.ItemsPerReq <= 0 || c.ItemsPerReq > 50 {
				t.Errorf("redis: server CPU %q %v µs, %v members per reply", c.ServerCPU, c.ServerCPUUs, c.ItemsPerReq)
			}
		default:
			if c.ServerCPU != "" {
				t.Errorf("%s: server CPU %q measured while updates run", c.Name, c.ServerCPU)
			}
		}
		if c.Mode == "closed" {
			if c.HandlerP99Us != 0 || c.BeforeHandlerP99Us != 0 {
				t.Errorf("%s: closed loop with a server-side split", c.Name)
			}
			if got, want := c.RatioCeiling, c.Rate/ceiling.Rate; got != want {
				t.Errorf("%s: ratio to ceiling %v, want %v", c.Name, got, want)
			}
		} else {
			// Below saturation: half of the closed-loop case's rate, with
			// the updates for (g).
			closed := radius
			if c.Name == "radius_updates_open" {
				closed = res.find("radius_updates")
			}
			want := math.Round(closed.Rate / 2)
			if c.Name == "radius_open_sweep" {
				want = 300
			}
			if c.Mode != "open" || c.TargetRate != want || c.RatioCeiling != 0 || c.RatioRedis != 0 {
				t.Errorf("%s: mode %s, target %v (closed loop %v/s), ratios %v %v", c.Name, c.Mode, c.TargetRate, closed.Rate, c.RatioCeiling, c.RatioRedis)
			}
			// The server's split: both parts measured, each within the
			// end-to-end latency (the handler's part is inside it; the
			// part before it starts at the send, after the due time).
			if !(c.BeforeHandlerP50Us > 0 && c.BeforeHandlerP50Us <= c.BeforeHandlerP99Us && c.BeforeHandlerP99Us <= c.MaxUs &&
				c.HandlerP50Us > 0 && c.HandlerP50Us <= c.HandlerP99Us && c.HandlerP99Us <= c.MaxUs) {
				t.Errorf("%s: before the handler p50 %v p99 %v, in it p50 %v p99 %v, max latency %v µs", c.Name,
					c.BeforeHandlerP50Us, c.BeforeHandlerP99Us, c.HandlerP50Us, c.HandlerP99Us, c.MaxUs)
			}
		}
	}
	if withRedis {
		redis := res.find("redis")
		for _, name := range []string{"radius", "radius_updates"} {
			if c := res.find(name); c.RatioRedis != c.Rate/redis.Rate {
				t.Errorf("%s: ratio to Redis %v, want %v", name, c.RatioRedis, c.Rate/redis.Rate)
			}
		}
		if res.find("point").RatioRedis != 0 {
			t.Error("point lookups compared with Redis radius searches")
		}
	}

	m := res.Memory
	if m.RSSBefore == 0 || m.RSSAfter == 0 || m.GoAfter == 0 || m.RSSAfterQueries == 0 || m.CacheBytes != 64<<20 {
		t.Errorf("memory not reported: %+v", m)
	}
	if withRedis && (m.RedisRSSAfter == 0 || m.RedisUsedMemoryTo <= m.RedisUsedMemoryFrom) {
		t.Errorf("Redis memory not reported: %+v", m)
	}
	if u := res.Updates; u == nil || len(u.Windows) != 2 || u.TargetRate != 2000 || u.DeadLettered != 0 {
		t.Errorf("updates: %+v", u)
	} else {
		for _, w := range u.Windows {
			if !(w.Produced > 0 && w.Consumed > 0 && w.Seconds > 0 && w.ProcessCPUCores > 0) {
				t.Errorf("update window %+v", w)
			}
		}
	}
	// The working directory is removed.
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("data dir after the run: %v, %v", ents, err)
	}

	var buf bytes.Buffer
	res.WriteTable(&buf)
	for _, c := range res.Cases {
		if !strings.Contains(buf.String(), c.Label) {
			t.Errorf("table lacks %q:\n%s", c.Label, buf.String())
		}
	}
	for _, s := range []string{"requests/s", "server CPU µs/q", "memory after loading", "updates: target 2000/s"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "objects", "memory", "checks", "cases", "updates"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js)
		}
	}
	if obj["scenario"] != "geo" {
		t.Errorf("scenario %v", obj["scenario"])
	}
}

func TestGeoConfigValidate(t *testing.T) {
	for _, c := range []GeoConfig{
		{LoadGen: []string{"x"}},
		{LoadGen: []string{"x"}, Cases: []string{"point", "ceiling"}},
		{LoadGen: []string{"x"}, Cases: []string{"radius_updates", "radius_updates_open"}},
		{LoadGen: []string{"x"}, Cases: []string{"radius_open"}, Rate: 1000},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range []GeoConfig{
		{}, // no load generator
		{LoadGen: []string{"x"}, Objects: -1},
		{LoadGen: []string{"x"}, Objects: maxGeoObjects + 1},
		{LoadGen: []string{"x"}, Duration: time.Millisecond},
		{LoadGen: []string{"x"}, Conns: 2000},
		{LoadGen: []string{"x"}, Rate: -1},
		{LoadGen: []string{"x"}, UpdateRate: math.NaN()},
		{LoadGen: []string{"x"}, RadiusM: -5},
		{LoadGen: []string{"x"}, Limit: 1001},
		{LoadGen: []string{"x"}, FeedNice: 20},
		{LoadGen: []string{"x"}, Cases: []string{"radius", "nearest"}},
		{LoadGen: []string{"x"}, Cases: []string{"radius_open"}},         // no rate, no (b)
		{LoadGen: []string{"x"}, Cases: []string{"radius_updates_open"}}, // no rate, no (b) or (f)
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

func TestBenchPlates(t *testing.T) {
	for _, i := range []int{0, 1, 35, 36, 999_999, maxGeoObjects - 1} {
		p := string(appendBenchPlate(nil, i))
		if err := state.CheckPlate(p); err != nil {
			t.Errorf("plate %q of %d: %v", p, i, err)
		}
		if len(p) != len("浙B12345") {
			t.Errorf("plate %q of %d: %d bytes, want %d as a real one", p, i, len(p), len("浙B12345"))
		}
		if j, ok := benchPlateIndex(p); !ok || j != i {
			t.Errorf("benchPlateIndex(%q) = %d, %v, want %d", p, j, ok, i)
		}
	}
	if string(appendBenchPlate(nil, 37)) != "浙B00011" {
		t.Errorf("plate of 37: %q", appendBenchPlate(nil, 37))
	}
	for _, p := range []string{"", "浙B0000", "沪B00001", "浙B0000a"} {
		if _, ok := benchPlateIndex(p); ok {
			t.Errorf("benchPlateIndex(%q) accepted", p)
		}
	}
}

// TestCompareNear checks that the radius check catches wrong answers and
// tolerates only differences at the cut.
func TestCompareNear(t *testing.T) {
	all := []nearHit{{"A", 10}, {"B", 20}, {"C", 30}, {"D", 30}, {"E", 40}}
	dist := map[string]float64{"A": 10, "B": 20, "C": 30, "D": 30, "E": 40, "F": 60}
	exact := func(p string) (float64, bool) { d, ok := dist[p]; return d, ok }
	strict := func(float64) float64 { return 0.05 }
	for _, tc := range []struct {
		name     string
		got      []nearHit
		limit    int
		cutTol   float64
		boundary int
		ok       bool
	}{
		{"exact", all[:3], 3, 0, 0, true},
		{"tie at the cut", []nearHit{{"A", 10}, {"B", 20}, {"D", 30}}, 3, 0, 2, true},
		{"all within radius", all, 50, 0, 0, true},
		{"missing a near one", []nearHit{{"A", 10}, {"C", 30}, {"D", 30}}, 3, 0, 0, false},
		{"extra far one", []nearHit{{"A", 10}, {"B", 20}, {"E", 40}}, 3, 0, 0, false},
		{"far one within cutTol", []nearHit{{"A", 10}, {"B", 20}, {"E", 40}}, 3, 10, 2, true},
		{"outside the radius", append(all[:5:5], nearHit{"F", 60}), 50, 0, 0, false},
		{"wrong distance", []nearHit{{"A", 11}, {"B", 20}, {"C", 30}}, 3, 0, 0, false},
		{"not nearest first", []nearHit{{"B", 20}, {"A", 10}, {"C", 30}}, 3, 0, 0, false},
		{"duplicate", []nearHit{{"A", 10}, {"A", 10}, {"B", 20}}, 3, 0, 0, false},
		{"unknown plate", []nearHit{{"Z", 1}}, 3, 0, 0, false},
		{"over the limit", all[:4], 3, 0, 0, false},
		{"short answer", all[:2], 3, 0, 0, false},
		{"short at the radius within cutTol", all[:4], 50, 15, 1, true},
		{"short at the radius", all[:4], 50, 0, 0, false},
	} {
		b, err := compareNear(all, tc.got, exact, 50, tc.limit, strict, tc.cutTol)
		if (err == nil) != tc.ok || (tc.ok && b != tc.boundary) {
			t.Errorf("%s: boundary %d, err %v; want ok %v, boundary %d", tc.name, b, err, tc.ok, tc.boundary)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for v := 1; v <= 100_000; v++ {
		h.record(time.Duration(v) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		got, want := h.quantile(q), time.Duration(q*100_000)*time.Microsecond
		if got < want || float64(got) > float64(want)*(1+1.0/histSub) {
			t.Errorf("quantile %v = %v, want %v (+%.1f%%)", q, got, want, 100.0/histSub)
		}
	}
	if s := h.summary(); s.Max != 100*time.Millisecond || s.Mean != time.Duration(50_000_500)*time.Nanosecond {
		t.Errorf("summary %+v", s)
	}
	// Buckets are contiguous and ordered.
	for i := 1; i <= histIndex(time.Hour); i++ {
		if histIndex(histTop(i-1)+1) != i || histIndex(histTop(i)) != i {
			t.Fatalf("bucket %d: top of previous %v, top %v", i, histTop(i-1), histTop(i))
		}
	}
	var empty histogram
	if empty.quantile(0.99) != 0 {
		t.Error("empty histogram")
	}
}

func TestRESP(t *testing.T) {
	if got := string(appendCommand(nil, "GEOADD", "k", "121.5")); got != "*3\r\n$6\r\nGEOADD\r\n$1\r\nk\r\n$5\r\n121.5\r\n" {
		t.Errorf("appendCommand: %q", got)
	}
	in := "*2\r\n*2\r\n$9\r\n浙B00001\r\n$9\r\n1234.5678\r\n*2\r\n$1\r\nB\r\n$3\r\n0.5\r\n" + ":42\r\n+OK\r\n-ERR wrong\r\n$-1\r\n"
	r := bufio.NewReader(strings.NewReader(in + in))
	v, err := readReply(r)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v) != "[[浙B00001 1234.5678] [B 0.5]]" {
		t.Errorf("readReply: %v", v)
	}
	for _, want := range []any{int64(42), "OK"} {
		if v, err := readReply(r); err != nil || v != want {
			t.Errorf("readReply: %v, %v; want %v", v, err, want)
		}
	}
	if _, err := readReply(r); err == nil || err.Error() != "redis: ERR wrong" {
		t.Errorf("error reply: %v", err)
	}
	if v, err := readReply(r); err != nil || v != nil {
		t.Errorf("nil reply: %v, %v", v, err)
	}
	if n, err := skipReply(r); n != 2 || err != nil {
		t.Errorf("skipReply: %d, %v", n, err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		r := bufio.NewReader(strings.NewReader(in))
		_, _ = skipReply(r)
	}); allocs > 2 { // the reader and its buffer
		t.Errorf("skipReply allocates %v times", allocs)
	}
}
