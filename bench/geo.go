package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/query"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// GeoConfig configures the geo scenario: truck position queries (point
// lookup, radius search) through the HTTP API, next to a trivial handler on
// the same HTTP stack and to Redis GEOSEARCH on the same points. The zero
// value of every field selects its default.
type GeoConfig struct {
	Objects  int           // trucks, default 1000000
	Duration time.Duration // measured time of each case, default 5 s
	Conns    int           // concurrent connections of the load generator, default 16
	// Rate is the request rate of the open-loop radius cases; 0 means half
	// the closed-loop radius throughput measured in the same run: of (b)
	// for (e), of (f), with the updates, for (g).
	Rate float64
	// SweepRates are further request rates of the open-loop radius case
	// without updates, each measured as a row (e') after (e): where the p99
	// stays under a target as the load grows.
	SweepRates []float64
	// UpdateRate is the truck.position records produced per second during
	// the update cases, default 20000; negative skips them.
	UpdateRate float64
	Partitions int     // partitions of port.transport, default 6
	RadiusM    float64 // radius of the radius queries, default 2000 m
	Limit      int     // limit of the radius queries, default 50
	Seed       uint64  // positions, plates and centres; default 1
	// Checks is the number of random centres whose radius answers are
	// compared with a brute-force scan (and the point lookups checked),
	// default 5.
	Checks int
	// Cases names the cases to run (GeoCaseNames); empty runs all of them.
	// The open-loop cases need Rate when the closed-loop radius case does
	// not run.
	Cases []string
	// FeedNice is the niceness the feed child (the update cases' broker
	// and producer) runs at, default 10; negative: the bench's own.
	FeedNice int
	// TraceFile, when set, receives a Go execution trace of each case's
	// measured window (each case overwrites the last).
	TraceFile string
	// RedisServer is the redis-server binary (default "redis-server", looked
	// up in PATH); "-" skips the Redis reference.
	RedisServer string
	// LoadGen is the command line of the load generator child, a binary
	// that calls RunGeoLoadGen when LoadGenEnv is set (porttrack: the
	// executable with "bench", "geo-load"). Required.
	LoadGen []string
	// DataDir is where a fresh working directory (state, broker log, Redis)
	// is created and removed afterwards; default the system's temp directory.
	DataDir string
	// Logger receives progress at Info; nil discards it.
	Logger *slog.Logger
}

// The port area: Ningbo-Zhoushan and its hinterland, about 87 × 44 km.
const (
	geoLatMin, geoLatMax = 29.70, 30.10
	geoLonMin, geoLonMax = 121.50, 122.40
)

// Streams of the scenario's PCG generators (all seeded with GeoConfig.Seed):
// each use draws from its own stream, so the radius case and Redis get the
// same centres, and changing one use never shifts another.
const (
	streamPositions = 1 + iota
	streamPlates    // point lookup targets
	streamCenters   // radius query centres, HTTP and Redis alike
	streamChecks
	streamUpdates
)

const (
	geoBatch      = 10_000          // trucks per Store.Apply and per Redis pipeline
	geoRedisCmd   = 1000            // members per GEOADD
	geoRedisKey   = "trucks"        // the Redis sorted set
	geoCacheBytes = int64(64 << 20) // Pebble's block cache: state's default, set explicitly
	geoSetupTopic = "bench.geo.setup"
	maxGeoObjects = 20_000_000 // 36^5 plates exist; memory is the real bound
)

// geoStart is the observation time of the loaded positions.
var geoStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (c GeoConfig) withDefaults() GeoConfig {
	if c.Objects == 0 {
		c.Objects = 1_000_000
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Conns == 0 {
		c.Conns = 16
	}
	if c.UpdateRate == 0 {
		c.UpdateRate = 20_000
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.RadiusM == 0 {
		c.RadiusM = 2000
	}
	if c.Limit == 0 {
		c.Limit = 50
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Checks == 0 {
		c.Checks = 5
	}
	if c.FeedNice == 0 {
		c.FeedNice = 10
	}
	if c.RedisServer == "" {
		c.RedisServer = "redis-server"
	}
	if c.DataDir == "" {
		c.DataDir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after defaults; errors name the field.
func (c GeoConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Objects < 1 || c.Objects > maxGeoObjects {
		errs = append(errs, fmt.Errorf("objects: %d out of range [1, %d]", c.Objects, maxGeoObjects))
	}
	if c.Duration < 10*time.Millisecond || c.Duration > time.Hour {
		errs = append(errs, fmt.Errorf("duration: %s out of range [10ms, 1h]", c.Duration))
	}
	if c.Conns < 1 || c.Conns > 1024 {
		errs = append(errs, fmt.Errorf("conns: %d out of range [1, 1024]", c.Conns))
	}
	if !(c.Rate >= 0) || c.Rate > 10_000_000 {
		errs = append(errs, fmt.Errorf("rate: %v out of range [0, 10000000] (0: half the closed-loop throughput)", c.Rate))
	}
	if math.IsNaN(c.UpdateRate) || c.UpdateRate > 10_000_000 {
		errs = append(errs, fmt.Errorf("update rate: %v out of range (negative: no update cases)", c.UpdateRate))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions: %d out of range [1, 1000]", c.Partitions))
	}
	if !(c.RadiusM > 0 && c.RadiusM <= 1_000_000) {
		errs = append(errs, fmt.Errorf("radius: %v m out of range (0, 1000000]", c.RadiusM))
	}
	if c.Limit < 1 || c.Limit > 1000 {
		errs = append(errs, fmt.Errorf("limit: %d out of range [1, 1000]", c.Limit))
	}
	if c.Checks < 1 || c.Checks > 1000 {
		errs = append(errs, fmt.Errorf("checks: %d out of range [1, 1000]", c.Checks))
	}
	for _, r := range c.SweepRates {
		if !(r > 0) || r > 10_000_000 {
			errs = append(errs, fmt.Errorf("sweep rates: %v out of range (0, 10000000]", r))
		}
	}
	if c.FeedNice > 19 {
		errs = append(errs, fmt.Errorf("feed nice: %d out of range (at most 19; negative: the bench's priority)", c.FeedNice))
	}
	if len(c.LoadGen) == 0 {
		errs = append(errs, errors.New("load gen: the load generator command is required"))
	}
	for _, name := range c.Cases {
		if !slices.Contains(GeoCaseNames, name) {
			errs = append(errs, fmt.Errorf("cases: unknown case %q (cases: %s)", name, strings.Join(GeoCaseNames, ", ")))
		}
	}
	if c.Rate == 0 && ((c.runs("radius_open") && !c.runs("radius")) ||
		(c.runs("radius_updates_open") && !c.runs("radius") && !c.runs("radius_updates"))) {
		errs = append(errs, errors.New("cases: an open-loop case needs a rate when its closed-loop case does not run"))
	}
	return errors.Join(errs...)
}

// GeoCaseNames are the cases of the geo scenario, in the order they run.
var GeoCaseNames = []string{"point", "radius", "ceiling", "redis", "radius_open", "radius_open_sweep", "radius_updates", "radius_updates_open"}

// runs reports whether the case named runs.
func (c GeoConfig) runs(name string) bool { return len(c.Cases) == 0 || slices.Contains(c.Cases, name) }

// GeoResult is the outcome of RunGeo.
type GeoResult struct {
	Scenario   string  `json:"scenario"` // "geo"
	Objects    int     `json:"objects"`
	Conns      int     `json:"conns"`
	Duration   float64 `json:"duration_seconds"` // per case
	RadiusM    float64 `json:"radius_m"`
	Limit      int     `json:"limit"`
	Seed       uint64  `json:"seed"`
	CPUs       int     `json:"cpus"` // GOMAXPROCS of the server process
	Partitions int     `json:"partitions"`

	// Setup, not measured: loading the trucks into the store (Store.Apply,
	// batches of 10000, no fsync) and into Redis (GEOADD pipelines).
	LoadSeconds float64 `json:"load_seconds"`
	LoadBatches int     `json:"load_batches"`
	// StateDiskBytes is Pebble's size after loading (sstables and WAL): set
	// against the block cache, it tells how much of the working set of
	// random lookups the cache can hold.
	StateDiskBytes   uint64  `json:"state_disk_bytes"`
	RedisLoadSeconds float64 `json:"redis_load_seconds,omitempty"`
	RedisVersion     string  `json:"redis_version,omitempty"` // "" when Redis was skipped
	// SettleSeconds is how long the run waited after setup for the process
	// to go idle (Pebble's compactions of the loaded data), and Settled
	// whether it did before the cap.
	SettleSeconds float64 `json:"settle_seconds"`
	Settled       bool    `json:"settled"`

	Memory  GeoMemory   `json:"memory"`
	Checks  GeoChecks   `json:"checks"`
	Cases   []GeoCase   `json:"cases"`
	Updates *GeoUpdates `json:"updates,omitempty"`
}

// GeoMemory is resident memory per object. Every figure is read after
// runtime.GC and debug.FreeOSMemory.
type GeoMemory struct {
	// RSS of the bench process (VmRSS) before and after loading the store.
	RSSBefore    uint64  `json:"rss_before_bytes"`
	RSSAfter     uint64  `json:"rss_after_bytes"`
	RSSPerObject float64 `json:"rss_per_object"`
	// Go's share of it (runtime/metrics: mapped minus released): the
	// position index and the rest of the store's Go state.
	GoBefore    uint64  `json:"go_before_bytes"`
	GoAfter     uint64  `json:"go_after_bytes"`
	GoPerObject float64 `json:"go_per_object"`
	// NonGoPerObject is the rest of the growth: C allocations, which are
	// Pebble's block cache and memtables (cgo manual memory).
	NonGoPerObject float64 `json:"non_go_per_object"`
	// CacheBytes is Pebble's block cache capacity (state.Options.CacheBytes).
	CacheBytes int64 `json:"cache_bytes"`
	// After the query cases (the block cache warm): RSS growth since before
	// loading, per object, with and without the whole cache capacity.
	RSSAfterQueries                    uint64  `json:"rss_after_queries_bytes"`
	RSSAfterQueriesPerObject           float64 `json:"rss_after_queries_per_object"`
	RSSAfterQueriesMinusCachePerObject float64 `json:"rss_after_queries_minus_cache_per_object"`
	// Redis, from INFO memory before and after GEOADD.
	RedisRSSBefore      uint64  `json:"redis_rss_before_bytes,omitempty"`
	RedisRSSAfter       uint64  `json:"redis_rss_after_bytes,omitempty"`
	RedisRSSPerObject   float64 `json:"redis_rss_per_object,omitempty"`
	RedisUsedPerObject  float64 `json:"redis_used_memory_per_object,omitempty"`
	RedisUsedMemoryFrom uint64  `json:"redis_used_memory_before_bytes,omitempty"`
	RedisUsedMemoryTo   uint64  `json:"redis_used_memory_after_bytes,omitempty"`
}

// GeoChecks counts what was checked before measuring. A failed check fails
// the run.
type GeoChecks struct {
	Centers     int `json:"centers"`      // radius answers compared with a brute-force scan
	Trucks      int `json:"trucks"`       // trucks in those HTTP answers
	RedisTrucks int `json:"redis_trucks"` // members in Redis's answers for the same centres
	// RedisBoundary counts members on which Redis and the exact answer
	// differ at the edge of the answer (the radius, or the limit-th
	// distance), within Redis's error: 52-bit geohash positions and an
	// Earth radius of 6372797.56 m against geo's 6371008.8 m.
	RedisBoundary int `json:"redis_boundary"`
	Points        int `json:"points"` // point lookups checked against the loaded position
}

// GeoCase is one measured case.
type GeoCase struct {
	Name       string  `json:"name"`  // point, radius, ceiling, redis, radius_open, radius_updates, radius_updates_open
	Label      string  `json:"label"` // as in the table
	Mode       string  `json:"mode"`  // "closed" or "open" loop
	TargetRate float64 `json:"target_rate,omitempty"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"requests_per_sec"`
	P50Us      float64 `json:"p50_us"`
	P99Us      float64 `json:"p99_us"`
	P999Us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	MeanUs     float64 `json:"mean_us"`
	// SendLagP99Us (open loop) is the 99th percentile of how late the load
	// generator sent requests: when it is large next to P99Us, the
	// generator, not the server, was late.
	SendLagP99Us float64 `json:"send_lag_p99_us,omitempty"`
	// The server's side of open-loop HTTP cases (geo_split.go): from the
	// generator's send to the handler's start, and in the handler.
	BeforeHandlerP50Us float64 `json:"before_handler_p50_us,omitempty"`
	BeforeHandlerP99Us float64 `json:"before_handler_p99_us,omitempty"`
	HandlerP50Us       float64 `json:"handler_p50_us,omitempty"`
	HandlerP99Us       float64 `json:"handler_p99_us,omitempty"`
	// ServerCPUUs is the server's CPU time per request: the bench process
	// (getrusage RUSAGE_SELF; the load generator is a child process) or the
	// Redis process (/proc/<pid>/stat). ServerCPU says which; "" when not
	// measured (the update cases, where the process also runs the broker,
	// the producer and ingest).
	ServerCPUUs  float64 `json:"server_cpu_us_per_query"`
	ServerCPU    string  `json:"server_cpu"`
	LoadGenCPUUs float64 `json:"loadgen_cpu_us_per_query"`
	// LoadGenShortSlices is how many of the load generator's threads ran
	// with a short scheduler time slice (loadgen.go).
	LoadGenShortSlices int     `json:"loadgen_short_slice_threads"`
	BytesPerReq        float64 `json:"bytes_per_query,omitempty"` // HTTP body
	ItemsPerReq        float64 `json:"items_per_query,omitempty"` // Redis members
	// Ratios of closed-loop throughput (0: not applicable).
	RatioCeiling float64 `json:"ratio_to_ceiling,omitempty"`
	RatioRedis   float64 `json:"ratio_to_redis,omitempty"`
}

// GeoUpdates describes the update traffic of the update cases.
type GeoUpdates struct {
	TargetRate float64           `json:"target_rate"`
	FeedNice   int               `json:"feed_nice"` // niceness of the feed child
	Windows    []GeoUpdateWindow `json:"windows"`
	// Backlog is what was produced but not yet consumed at the end of the
	// last window.
	Backlog      int64  `json:"backlog_at_end"`
	DeadLettered uint64 `json:"dead_lettered"`
}

// GeoUpdateWindow is the update traffic during one measured case.
type GeoUpdateWindow struct {
	Case     string  `json:"case"`
	Seconds  float64 `json:"seconds"`
	Produced float64 `json:"produced_per_sec"` // acknowledged by the broker
	Consumed float64 `json:"consumed_per_sec"` // engine Stats().Consumed delta / seconds
	// ProcessCPUCores is the bench process's CPU (the query API, ingest
	// and the store) over the window, in cores; FeedCPUCores the feed
	// child's (broker and producer).
	ProcessCPUCores float64 `json:"process_cpu_cores"`
	FeedCPUCores    float64 `json:"feed_cpu_cores"`
}

// geoRun holds a run's moving parts.
type geoRun struct {
	cfg          GeoConfig
	log          *slog.Logger
	res          *GeoResult
	lats, lons   []float64
	store        *portstate.State
	queryAddr    string
	ceilingAddr  string
	redis        *redisServer
	lg           *loadGenProc
	checkClient  *fasthttp.Client
	warmup       time.Duration
	radiusRate   float64 // closed-loop radius throughput
	redisRate    float64
	ceilingRate  float64
	closedRadius []int // indexes of closed-loop radius cases in res.Cases
	split        serverSplit
}

// RunGeo measures truck queries through the query API. It loads
// cfg.Objects trucks at seeded random positions in the port area into a
// fresh store and into a redis-server it starts (setup, not measured),
// checks radius answers against a brute-force scan, then measures, with a
// load generator in a child process: (a) point lookups, (b) radius
// searches, (c) a trivial handler on the same HTTP stack (the ceiling),
// (d) Redis GEOSEARCH on the same centres, (b) at a fixed rate in open
// loop, and (b) again in both modes while truck.position updates flow
// through Kafka into the same store.
func RunGeo(ctx context.Context, cfg GeoConfig) (res GeoResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("bench: geo: %w", err)
	}
	cfg = cfg.withDefaults()
	res = GeoResult{
		Scenario: "geo", Objects: cfg.Objects, Conns: cfg.Conns, Duration: cfg.Duration.Seconds(),
		RadiusM: cfg.RadiusM, Limit: cfg.Limit, Seed: cfg.Seed, CPUs: runtime.GOMAXPROCS(0), Partitions: cfg.Partitions,
	}
	wrap := func(err error) error { return fmt.Errorf("bench: geo: %w", err) }
	r := &geoRun{cfg: cfg, log: cfg.Logger, res: &res, warmup: min(max(cfg.Duration/5, 20*time.Millisecond), time.Second)}

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return res, wrap(err)
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-geo-")
	if err != nil {
		return res, wrap(err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = wrap(fmt.Errorf("remove %s: %w", dir, rerr))
		}
	}()

	if r.lg, err = startLoadGen(cfg.LoadGen); err != nil {
		return res, wrap(err)
	}
	defer func() {
		if cerr := r.lg.close(); cerr != nil && err == nil {
			err = wrap(cerr)
		}
	}()

	r.lats, r.lons = geoPositions(cfg.Seed, cfg.Objects)
	quiet := slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})
	r.store, err = portstate.Open(state.Options{Dir: filepath.Join(dir, "state"), NoSync: true, CacheBytes: geoCacheBytes, Logger: quiet})
	if err != nil {
		return res, wrap(err)
	}
	defer func() {
		if cerr := r.store.Close(); cerr != nil && err == nil {
			err = wrap(fmt.Errorf("close store: %w", cerr))
		}
	}()
	stopServers, err := r.serve(quiet)
	if err != nil {
		return res, wrap(err)
	}
	defer stopServers()
	r.checkClient = &fasthttp.Client{ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	defer r.checkClient.CloseIdleConnections()

	if err := r.loadStore(); err != nil {
		return res, wrap(err)
	}
	if cfg.RedisServer != "-" {
		if r.redis, err = startRedis(ctx, cfg.RedisServer, dir); err != nil {
			return res, wrap(err)
		}
		defer r.redis.stop()
		if err := r.loadRedis(); err != nil {
			return res, wrap(err)
		}
	}
	if err := r.check(); err != nil {
		return res, wrap(err)
	}
	r.log.Info("bench geo: checked", "centres", res.Checks.Centers, "trucks", res.Checks.Trucks,
		"redis_trucks", res.Checks.RedisTrucks, "redis_boundary", res.Checks.RedisBoundary, "points", res.Checks.Points)
	r.checkClient.CloseIdleConnections()

	settleMax := min(max(4*cfg.Duration, 2*time.Second), 30*time.Second)
	d, ok := settle(ctx, settleMax)
	res.SettleSeconds, res.Settled = d.Seconds(), ok
	r.log.Info("bench geo: settled", "seconds", res.SettleSeconds, "idle", ok)

	if err := r.queryCases(ctx); err != nil {
		return res, wrap(err)
	}
	m, err := readMem()
	if err != nil {
		return res, wrap(err)
	}
	mem := &res.Memory
	mem.RSSAfterQueries = m.rss
	mem.RSSAfterQueriesPerObject = (float64(m.rss) - float64(mem.RSSBefore)) / float64(cfg.Objects)
	mem.RSSAfterQueriesMinusCachePerObject = (float64(m.rss) - float64(mem.RSSBefore) - float64(geoCacheBytes)) / float64(cfg.Objects)

	if cfg.UpdateRate > 0 && (cfg.runs("radius_updates") || cfg.runs("radius_updates_open")) {
		if err := r.updateCases(ctx, dir, quiet); err != nil {
			return res, wrap(err)
		}
	}
	r.ratios()
	return res, nil
}

// serve starts the query API and the ceiling handler on loopback ports.
func (r *geoRun) serve(log *slog.Logger) (stop func(), err error) {
	qs, err := query.New(query.Config{Store: r.store, Logger: log, Open: true, Wrap: r.split.wrap})
	if err != nil {
		return nil, err
	}
	qln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		qln.Close()
		return nil, err
	}
	// The ceiling: the HTTP stack and settings of the query API, a handler
	// that does nothing but write a small fixed JSON body.
	body := []byte(`{"status":"ok"}`)
	cs := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.Response.SetBodyRaw(body)
		},
		Name:                 "porttrack",
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         30 * time.Second,
		IdleTimeout:          2 * time.Minute,
		MaxRequestBodySize:   1 << 20,
		NoDefaultContentType: true,
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); qs.Serve(qln) }()
	go func() { defer wg.Done(); cs.Serve(cln) }()
	r.queryAddr, r.ceilingAddr = qln.Addr().String(), cln.Addr().String()
	return func() {
		// Every client connection is closed by now; do not hang on one
		// that is not.
		done := make(chan struct{})
		go func() {
			qs.Shutdown()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cs.ShutdownWithContext(ctx)
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.log.Warn("bench geo: HTTP servers did not shut down in 10 s")
		}
	}, nil
}

// geoPositions returns n positions drawn uniformly from the port area.
func geoPositions(seed uint64, n int) (lats, lons []float64) {
	rng := rand.New(rand.NewPCG(seed, streamPositions))
	lats, lons = make([]float64, n), make([]float64, n)
	for i := range n {
		lats[i] = geoLatMin + rng.Float64()*(geoLatMax-geoLatMin)
		lons[i] = geoLonMin + rng.Float64()*(geoLonMax-geoLonMin)
	}
	return lats, lons
}

// geoPoint is a query centre with 6 decimals (0.1 m), the precision it is
// sent with, so every consumer of its text sees the same point.
type geoPoint struct{ lat, lon float64 }

func (p geoPoint) text() (lat, lon string) {
	return strconv.FormatFloat(p.lat, 'f', 6, 64), strconv.FormatFloat(p.lon, 'f', 6, 64)
}

func geoCenters(seed, stream uint64, n int) []geoPoint {
	rng := rand.New(rand.NewPCG(seed, stream))
	ps := make([]geoPoint, n)
	for i := range ps {
		ps[i] = geoPoint{
			lat: math.Round((geoLatMin+rng.Float64()*(geoLatMax-geoLatMin))*1e6) / 1e6,
			lon: math.Round((geoLonMin+rng.Float64()*(geoLonMax-geoLonMin))*1e6) / 1e6,
		}
	}
	return ps
}

const plateDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// appendBenchPlate appends truck i's plate: 浙B (Ningbo) and i in five
// base-36 digits, the length of a real plate (9 bytes).
func appendBenchPlate(dst []byte, i int) []byte {
	dst = append(dst, "浙B"...)
	var d [5]byte
	for k := len(d) - 1; k >= 0; k-- {
		d[k] = plateDigits[i%36]
		i /= 36
	}
	return append(dst, d[:]...)
}

// benchPlateIndex inverts appendBenchPlate.
func benchPlateIndex(plate string) (int, bool) {
	rest, ok := strings.CutPrefix(plate, "浙B")
	if !ok || len(rest) != 5 {
		return 0, false
	}
	i := 0
	for k := range len(rest) {
		d := strings.IndexByte(plateDigits, rest[k])
		if d < 0 {
			return 0, false
		}
		i = i*36 + d
	}
	return i, true
}

// loadStore applies every truck's position in batches, measuring the
// process's memory before and after.
func (r *geoRun) loadStore() error {
	before, err := readMem()
	if err != nil {
		return err
	}
	start := time.Now()
	t0 := geoStart.UnixNano()
	reps := make([]state.TruckReport, 0, geoBatch)
	var pb []byte
	n := r.cfg.Objects
	for lo := 0; lo < n; lo += geoBatch {
		hi := min(lo+geoBatch, n)
		reps = reps[:0]
		for i := lo; i < hi; i++ {
			pb = appendBenchPlate(pb[:0], i)
			reps = append(reps, state.TruckReport{
				Plate: string(pb), Time: t0, Lat: r.lats[i], Lon: r.lons[i],
				SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt,
			})
		}
		res, err := r.store.Apply(&state.Batch{Topic: geoSetupTopic, Next: int64(hi), Trucks: reps})
		if err != nil {
			return fmt.Errorf("load trucks %d-%d: %w", lo, hi, err)
		}
		if res.TruckReports != hi-lo {
			return fmt.Errorf("load trucks %d-%d: %d applied", lo, hi, res.TruckReports)
		}
		r.res.LoadBatches++
	}
	clear(reps) // the store owns its plates; the bench keeps none
	r.res.LoadSeconds = time.Since(start).Seconds()
	r.res.StateDiskBytes = r.store.Metrics().DiskBytes
	after, err := readMem()
	if err != nil {
		return err
	}
	m := &r.res.Memory
	m.RSSBefore, m.RSSAfter, m.GoBefore, m.GoAfter, m.CacheBytes = before.rss, after.rss, before.goRes, after.goRes, geoCacheBytes
	m.RSSPerObject = (float64(after.rss) - float64(before.rss)) / float64(n)
	m.GoPerObject = (float64(after.goRes) - float64(before.goRes)) / float64(n)
	m.NonGoPerObject = m.RSSPerObject - m.GoPerObject
	r.log.Info("bench geo: loaded the store", "trucks", n, "seconds", r.res.LoadSeconds,
		"rss_per_object", m.RSSPerObject, "go_per_object", m.GoPerObject)
	return nil
}

// loadRedis loads the same points with GEOADD, geoBatch members per
// pipeline of geoRedisCmd-member commands.
func (r *geoRun) loadRedis() error {
	c, err := dialRedis(r.redis.addr)
	if err != nil {
		return err
	}
	defer c.close()
	info, err := redisInfo(c, "server")
	if err != nil {
		return err
	}
	r.res.RedisVersion = info["redis_version"]
	before, err := redisMemory(c)
	if err != nil {
		return err
	}
	start := time.Now()
	var buf, pb []byte
	n := r.cfg.Objects
	for lo := 0; lo < n; lo += geoBatch {
		hi := min(lo+geoBatch, n)
		buf, cmds := buf[:0], 0
		for c0 := lo; c0 < hi; c0 += geoRedisCmd {
			c1 := min(c0+geoRedisCmd, hi)
			buf = appendArrayHeader(buf, 2+3*(c1-c0))
			buf = appendBulk(buf, "GEOADD")
			buf = appendBulk(buf, geoRedisKey)
			for i := c0; i < c1; i++ {
				// Shortest round-trip text: Redis parses the same doubles.
				buf = appendBulk(buf, strconv.FormatFloat(r.lons[i], 'f', -1, 64))
				buf = appendBulk(buf, strconv.FormatFloat(r.lats[i], 'f', -1, 64))
				pb = appendBenchPlate(pb[:0], i)
				buf = appendBulk(buf, pb)
			}
			cmds++
		}
		if _, err := c.w.Write(buf); err != nil {
			return err
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		for range cmds {
			if _, err := readReply(c.r); err != nil {
				return fmt.Errorf("redis GEOADD: %w", err)
			}
		}
	}
	r.res.RedisLoadSeconds = time.Since(start).Seconds()
	v, err := c.do("ZCARD", geoRedisKey)
	if err != nil {
		return err
	}
	if v != int64(n) {
		return fmt.Errorf("redis holds %v members, loaded %d", v, n)
	}
	after, err := redisMemory(c)
	if err != nil {
		return err
	}
	num := func(m map[string]string, k string) uint64 {
		u, _ := strconv.ParseUint(m[k], 10, 64)
		return u
	}
	m := &r.res.Memory
	m.RedisRSSBefore, m.RedisRSSAfter = num(before, "used_memory_rss"), num(after, "used_memory_rss")
	m.RedisUsedMemoryFrom, m.RedisUsedMemoryTo = num(before, "used_memory"), num(after, "used_memory")
	m.RedisRSSPerObject = (float64(m.RedisRSSAfter) - float64(m.RedisRSSBefore)) / float64(n)
	m.RedisUsedPerObject = (float64(m.RedisUsedMemoryTo) - float64(m.RedisUsedMemoryFrom)) / float64(n)
	r.log.Info("bench geo: loaded redis", "version", r.res.RedisVersion, "seconds", r.res.RedisLoadSeconds,
		"rss_per_object", m.RedisRSSPerObject)
	return nil
}

// redisMemory returns INFO memory once used_memory_rss is fresh: Redis
// samples its RSS in its cron, every 100 ms at the default hz of 10, so a
// read right after loading would show the RSS from before.
func redisMemory(c *respConn) (map[string]string, error) {
	time.Sleep(250 * time.Millisecond)
	return redisInfo(c, "memory")
}

// job returns a load job of kind against addr with the run's settings.
func (r *geoRun) job(kind, addr string, rate float64) loadJob {
	return loadJob{
		Kind: kind, Addr: addr, Conns: r.cfg.Conns, Duration: r.cfg.Duration, Warmup: r.warmup, Rate: rate,
		Seed: r.cfg.Seed, Objects: r.cfg.Objects, RadiusM: r.cfg.RadiusM, Limit: r.cfg.Limit, RedisKey: geoRedisKey,
		StampSent: rate > 0 && kind != kindRedis,
	}
}

// cpuSource measures a server's CPU time; nil means not measured.
type cpuSource struct {
	name string
	read func() (time.Duration, error)
}

// measure runs one case. started and stopped, when not nil, run at the
// edges of the measurement window.
func (r *geoRun) measure(name, label string, job loadJob, cpu *cpuSource, started, stopped func()) (GeoCase, error) {
	runtime.GC() // start each case with the same heap debt
	var c0, c1 time.Duration
	var cerr error
	var tf *os.File
	var before, in latencySummary
	var splitN uint64
	res, err := r.lg.run(job, func() {
		if r.cfg.TraceFile != "" {
			var err error
			if tf, err = os.Create(r.cfg.TraceFile); err == nil {
				err = trace.Start(tf)
			}
			if err != nil {
				r.log.Warn("bench geo: no trace", "err", err)
			}
		}
		if cpu != nil {
			c0, cerr = cpu.read()
		}
		if job.StampSent {
			r.split.start()
		}
		if started != nil {
			started()
		}
	}, func() {
		if job.StampSent {
			before, in, splitN = r.split.stop()
		}
		if stopped != nil {
			stopped()
		}
		if cpu != nil && cerr == nil {
			c1, cerr = cpu.read()
		}
		if tf != nil {
			trace.Stop()
			tf.Close()
		}
	})
	if err != nil {
		return GeoCase{}, fmt.Errorf("case %s: %w", name, err)
	}
	if cerr != nil {
		return GeoCase{}, fmt.Errorf("case %s: server CPU: %w", name, cerr)
	}
	if res.Errors > 0 {
		return GeoCase{}, fmt.Errorf("case %s: %d of %d requests failed, first: %s", name, res.Errors, res.Requests+res.Errors, res.FirstError)
	}
	if res.Requests == 0 || res.Seconds <= 0 {
		return GeoCase{}, fmt.Errorf("case %s: no request completed", name)
	}
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	gc := GeoCase{
		Name: name, Label: label, Mode: "closed", TargetRate: job.Rate,
		Requests: res.Requests, Seconds: res.Seconds, Rate: float64(res.Requests) / res.Seconds,
		P50Us: us(res.Latency.P50), P99Us: us(res.Latency.P99), P999Us: us(res.Latency.P999),
		MaxUs: us(res.Latency.Max), MeanUs: us(res.Latency.Mean),
		LoadGenCPUUs:       res.CPUSeconds * 1e6 / float64(res.Requests),
		LoadGenShortSlices: res.ShortSliceThreads,
		BytesPerReq:        float64(res.Bytes) / float64(res.Requests),
		ItemsPerReq:        float64(res.Items) / float64(res.Requests),
	}
	if job.Rate > 0 {
		gc.Mode = "open"
		gc.SendLagP99Us = us(res.SendLag.P99)
	}
	if job.StampSent {
		if splitN == 0 {
			return GeoCase{}, fmt.Errorf("case %s: the server saw no stamped request", name)
		}
		gc.BeforeHandlerP50Us, gc.BeforeHandlerP99Us = us(before.P50), us(before.P99)
		gc.HandlerP50Us, gc.HandlerP99Us = us(in.P50), us(in.P99)
	}
	if cpu != nil {
		gc.ServerCPU = cpu.name
		gc.ServerCPUUs = us(c1-c0) / float64(res.Requests)
	}
	r.log.Info("bench geo: case", "case", name, "requests_per_sec", gc.Rate, "p50_us", gc.P50Us, "p99_us", gc.P99Us,
		"p999_us", gc.P999Us, "server_cpu_us", gc.ServerCPUUs, "loadgen_cpu_us", gc.LoadGenCPUUs)
	return gc, nil
}

// queryCases runs (a) to (d) and the open-loop radius case.
func (r *geoRun) queryCases(ctx context.Context) error {
	self := &cpuSource{"porttrack", func() (time.Duration, error) { return processCPU(), nil }}
	add := func(c GeoCase, err error) error {
		if err != nil {
			return err
		}
		r.res.Cases = append(r.res.Cases, c)
		return ctx.Err()
	}
	if r.cfg.runs("point") {
		if err := add(r.measure("point", "(a) point: GET /v1/trucks/{plate}", r.job(kindPoint, r.queryAddr, 0), self, nil, nil)); err != nil {
			return err
		}
	}
	if r.cfg.runs("radius") {
		if err := add(r.measure("radius", "(b) radius: GET /v1/trucks?near=", r.job(kindRadius, r.queryAddr, 0), self, nil, nil)); err != nil {
			return err
		}
		r.radiusRate = r.res.Cases[len(r.res.Cases)-1].Rate
		r.closedRadius = append(r.closedRadius, len(r.res.Cases)-1)
	}
	if r.cfg.runs("ceiling") {
		if err := add(r.measure("ceiling", "(c) ceiling: trivial handler", r.job(kindCeiling, r.ceilingAddr, 0), self, nil, nil)); err != nil {
			return err
		}
		r.ceilingRate = r.res.Cases[len(r.res.Cases)-1].Rate
	}
	if r.redis != nil && r.cfg.runs("redis") {
		rs := &cpuSource{"redis", r.redis.cpu}
		if err := add(r.measure("redis", "(d) Redis GEOSEARCH, same centres", r.job(kindRedis, r.redis.addr, 0), rs, nil, nil)); err != nil {
			return err
		}
		r.redisRate = r.res.Cases[len(r.res.Cases)-1].Rate
	}
	if r.cfg.runs("radius_open") {
		rate := r.openRate()
		label := fmt.Sprintf("(e) radius, open loop at %.0f/s", rate)
		if err := add(r.measure("radius_open", label, r.job(kindRadius, r.queryAddr, rate), self, nil, nil)); err != nil {
			return err
		}
	}
	if r.cfg.runs("radius_open_sweep") {
		for _, rate := range r.cfg.SweepRates {
			label := fmt.Sprintf("(e') radius, open loop at %.0f/s", rate)
			if err := add(r.measure("radius_open_sweep", label, r.job(kindRadius, r.queryAddr, rate), self, nil, nil)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *geoRun) openRate() float64 {
	if r.cfg.Rate > 0 {
		return r.cfg.Rate
	}
	return math.Round(r.radiusRate / 2)
}

// ratios fills the throughput ratios of the closed-loop cases.
func (r *geoRun) ratios() {
	for i := range r.res.Cases {
		c := &r.res.Cases[i]
		if c.Mode != "closed" {
			continue
		}
		if r.ceilingRate > 0 {
			c.RatioCeiling = c.Rate / r.ceilingRate
		}
		if r.redisRate > 0 && slices.Contains(r.closedRadius, i) {
			c.RatioRedis = c.Rate / r.redisRate
		}
	}
}

// memSnap is resident memory: the process's VmRSS and Go's share of it.
type memSnap struct{ rss, goRes uint64 }

// readMem collects garbage, returns free memory to the OS, and reads the
// process's resident memory.
func readMem() (memSnap, error) {
	runtime.GC()
	debug.FreeOSMemory()
	var m memSnap
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return m, fmt.Errorf("resident memory: %w", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) != 2 || f[1] != "kB" {
				return m, fmt.Errorf("resident memory: unexpected %q", line)
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return m, fmt.Errorf("resident memory: %w", err)
			}
			m.rss = kb << 10
		}
	}
	if m.rss == 0 {
		return m, errors.New("resident memory: no VmRSS in /proc/self/status")
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	m.goRes = s[0].Value.Uint64() - s[1].Value.Uint64()
	return m, nil
}

// settle waits until the process is idle (under 5% of a core over 250 ms)
// or max has passed: Pebble compacts the freshly loaded data in the
// background, and that must not be charged to the first case.
func settle(ctx context.Context, max time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < max && ctx.Err() == nil {
		c0, t0 := processCPU(), time.Now()
		time.Sleep(250 * time.Millisecond)
		if float64(processCPU()-c0)/float64(time.Since(t0)) < 0.05 {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}
