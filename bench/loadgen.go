package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// The geo scenario's load generator runs in a child process so that the
// bench process's CPU time (getrusage RUSAGE_SELF) is the server's alone:
// the parent serves, the child loads. The two speak JSON lines over the
// child's stdin and stdout:
//
//	parent → child   a loadJob
//	child  → parent  {"event":"ready"}          connections open, warm-up done
//	parent → child   {"go":true}                the parent has sampled its CPU
//	child  → parent  {"event":"done","result":…} or {"event":"error",…}
//
// and so on for the next job; the child exits when its stdin closes.

// LoadGenEnv is set (to "1") in the environment of the load generator child
// the geo scenario starts. A binary started with it must call RunGeoLoadGen
// instead of doing its usual work (a test binary checks it in TestMain;
// porttrack starts the child as `porttrack bench geo-load`).
const LoadGenEnv = "PORTTRACK_BENCH_GEO_LOADGEN"

// Load job kinds.
const (
	kindPoint   = "point"   // GET /v1/trucks/{plate}
	kindRadius  = "radius"  // GET /v1/trucks?near=&radius=&limit=
	kindCeiling = "ceiling" // GET of the trivial handler
	kindRedis   = "redis"   // GEOSEARCH over RESP
	// kindFeed is not a load: the child runs the broker and the producer
	// of the update cases (geo_feed.go) until its stdin closes.
	kindFeed = "feed"
)

// loadPool is the number of distinct requests a job cycles through: plates
// or centres drawn from the seed, rendered before the run.
const loadPool = 1 << 18

type loadJob struct {
	Kind     string        `json:"kind"`
	Addr     string        `json:"addr"` // host:port
	Conns    int           `json:"conns"`
	Duration time.Duration `json:"duration"`
	Warmup   time.Duration `json:"warmup"`
	// Rate > 0 runs open loop: requests are due at this total rate, spread
	// evenly over the connections, and latency counts from the due time.
	Rate     float64 `json:"rate"`
	Seed     uint64  `json:"seed"`
	Objects  int     `json:"objects"`
	RadiusM  float64 `json:"radius_m"`
	Limit    int     `json:"limit"`
	RedisKey string  `json:"redis_key"`
	// StampSent (HTTP) sends each request's send time in SentHeader, for
	// the server side's split of latency (geo_split.go).
	StampSent bool `json:"stamp_sent,omitempty"`
	// Feed jobs: the broker's log directory, the partitions of the input
	// topic and the records per second to produce into it.
	DataDir    string  `json:"data_dir,omitempty"`
	Partitions int     `json:"partitions,omitempty"`
	UpdateRate float64 `json:"update_rate,omitempty"`
}

type loadResult struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	// Items is the sum of the top-level array lengths of Redis replies (the
	// members returned); Bytes the HTTP response bodies.
	Items int64 `json:"items"`
	Bytes int64 `json:"bytes"`
	// Latency is per request, from send (closed loop) or from the due time
	// (open loop). SendLag (open loop) is how late requests were sent.
	Latency latencySummary `json:"latency"`
	SendLag latencySummary `json:"send_lag"`
	// CPUSeconds is the load generator's own CPU time in the window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// ShortSliceThreads is how many of the generator's threads run with a
	// short scheduler time slice (0 where Linux does not offer it).
	ShortSliceThreads int `json:"short_slice_threads"`
}

// loadGenSlice is the time slice the generator's threads ask for.
const loadGenSlice = 100 * time.Microsecond

type latencySummary struct {
	P50, P99, P999, Max, Mean time.Duration
}

type loadMsg struct {
	Event  string      `json:"event"`
	Error  string      `json:"error,omitempty"`
	Result *loadResult `json:"result,omitempty"`
	// Feed children: the broker's addresses (ready) and the records the
	// broker acknowledged so far (stats).
	Brokers  []string `json:"brokers,omitempty"`
	Produced int64    `json:"produced,omitempty"`
}

type goMsg struct {
	Go    bool `json:"go"`
	Stats bool `json:"stats,omitempty"` // feed children: report the records produced
}

// RunGeoLoadGen is the load generator child of the geo scenario: it reads
// jobs from in and writes results to out until in is closed.
func RunGeoLoadGen(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	for {
		var job loadJob
		if err := dec.Decode(&job); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("bench: load generator: read job: %w", err)
		}
		if job.Kind == kindFeed {
			return runFeed(ctx, &job, dec, enc)
		}
		res, err := runLoadJob(ctx, &job, func() error {
			if err := enc.Encode(loadMsg{Event: "ready"}); err != nil {
				return err
			}
			var g goMsg
			return dec.Decode(&g)
		})
		if err != nil {
			if err := enc.Encode(loadMsg{Event: "error", Error: err.Error()}); err != nil {
				return err
			}
			continue
		}
		if err := enc.Encode(loadMsg{Event: "done", Result: &res}); err != nil {
			return err
		}
	}
}

// loadConn is one connection of the load generator.
type loadConn interface {
	// do sends a request of the pool and reads the whole answer.
	do(req []byte) (items, bytes int, err error)
	close()
}

func runLoadJob(ctx context.Context, job *loadJob, ready func() error) (res loadResult, err error) {
	if job.Conns < 1 || job.Duration <= 0 {
		return res, fmt.Errorf("bad job: %d connections, duration %s", job.Conns, job.Duration)
	}
	pool, err := renderPool(job)
	if err != nil {
		return res, err
	}
	// A connection waiting for its next request's due time sleeps in
	// nanosleep(2) and holds its processor meanwhile; with fewer processors
	// than connections, answers that arrived would wait until some sleep
	// ended to be read (about 1 ms at 2,000 requests/s). One processor per
	// connection, and two to spare, keeps one free to poll the network.
	// (Open loop only: in closed loop no connection sleeps, and the extra
	// processors only make the generator's threads contend with the
	// server's.)
	if job.Rate > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.NumCPU(), job.Conns+2)))
	}
	conns := make([]loadConn, job.Conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}()
	for i := range conns {
		if conns[i], err = dialLoad(job); err != nil {
			return res, err
		}
	}
	workers := make([]*loadWorker, job.Conns)
	for i := range workers {
		workers[i] = &loadWorker{id: i, conn: conns[i], pool: pool, next: i * len(pool) / job.Conns}
	}
	if job.Warmup > 0 {
		runWorkers(workers, func(w *loadWorker) { w.closedLoop(ctx, time.Now().Add(job.Warmup), false) })
		for _, w := range workers {
			if w.errs > 0 {
				return res, fmt.Errorf("warm-up: %d errors, first: %v", w.errs, w.firstErr)
			}
			w.reset()
		}
	}
	// The generator stands for clients on other machines: its threads ask
	// for short time slices so that, when one wakes to send a request or
	// read an answer, it preempts whatever runs instead of queueing behind
	// it for a slice (about 1.5 ms on 2 cores). Without this, its own send
	// lag was 1.1-1.6 ms at the p99 while updates ran.
	// Open loop only, too: in closed loop the generator's preempting the
	// server at every wake-up halves the throughput both reach.
	if job.Rate > 0 {
		res.ShortSliceThreads = shortSlices(loadGenSlice)
		defer shortSlices(0) // back to the default slice for the next job
	}
	if err := ready(); err != nil {
		return res, err
	}
	cpu0 := processCPU()
	start := time.Now()
	end := start.Add(job.Duration)
	if job.Rate > 0 {
		interval := float64(job.Conns) / job.Rate // seconds between one connection's requests
		runWorkers(workers, func(w *loadWorker) {
			// Connection i's requests are due at i/Rate, i/Rate + C/Rate, ...:
			// together an even stream at Rate.
			w.openLoop(ctx, start, end, time.Duration(float64(w.id)/job.Rate*1e9), time.Duration(interval*1e9))
		})
	} else {
		runWorkers(workers, func(w *loadWorker) { w.closedLoop(ctx, end, true) })
	}
	cpu1 := processCPU()
	var lat, lag histogram
	last := start
	for _, w := range workers {
		lat.merge(&w.lat)
		lag.merge(&w.lag)
		res.Requests += w.n
		res.Errors += w.errs
		res.Items += w.items
		res.Bytes += w.bytes
		if w.firstErr != nil && res.FirstError == "" {
			res.FirstError = w.firstErr.Error()
		}
		if w.last.After(last) {
			last = w.last
		}
	}
	res.Seconds = last.Sub(start).Seconds()
	res.Latency = lat.summary()
	if job.Rate > 0 {
		res.SendLag = lag.summary()
	}
	res.CPUSeconds = (cpu1 - cpu0).Seconds()
	return res, ctx.Err()
}

func runWorkers(ws []*loadWorker, f func(*loadWorker)) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	wg.Wait()
}

// loadWorker drives one connection.
type loadWorker struct {
	id       int
	conn     loadConn
	pool     [][]byte
	next     int
	lat, lag histogram
	n, errs  int64
	items    int64
	bytes    int64
	firstErr error
	last     time.Time // completion of the last request
}

func (w *loadWorker) reset() {
	w.lat, w.lag = histogram{}, histogram{}
	w.n, w.errs, w.items, w.bytes, w.firstErr = 0, 0, 0, 0, nil
}

// maxConsecutiveErrors stops a connection that only fails (the server is
// gone): the run is then reported as failed anyway.
const maxConsecutiveErrors = 100

func (w *loadWorker) one() bool {
	req := w.pool[w.next]
	w.next++
	if w.next == len(w.pool) {
		w.next = 0
	}
	items, n, err := w.conn.do(req)
	if err != nil {
		w.errs++
		if w.firstErr == nil {
			w.firstErr = err
		}
		return false
	}
	w.items += int64(items)
	w.bytes += int64(n)
	return true
}

// closedLoop sends the next request as soon as the previous answer is in,
// until end.
func (w *loadWorker) closedLoop(ctx context.Context, end time.Time, record bool) {
	failed := 0
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		ok := w.one()
		t1 := time.Now()
		w.last = t1
		if !ok {
			if failed++; failed >= maxConsecutiveErrors {
				return
			}
			continue
		}
		failed = 0
		w.n++
		if record {
			w.lat.record(t1.Sub(t0))
		}
	}
}

// openLoop sends request k at start+phase+k·interval, or at once when that
// time has passed (the connection is busy or the timer was late), and
// records latency from the due time: a slow answer delays the requests
// queued behind it and they are charged for it, as a real client's would be
// (no coordinated omission).
func (w *loadWorker) openLoop(ctx context.Context, start, end time.Time, phase, interval time.Duration) {
	failed := 0
	for k := 0; ctx.Err() == nil; k++ {
		due := start.Add(phase + time.Duration(k)*interval)
		if !due.Before(end) {
			return
		}
		sleepUntil(due)
		sent := time.Now()
		ok := w.one()
		t1 := time.Now()
		w.last = t1
		if !ok {
			if failed++; failed >= maxConsecutiveErrors {
				return
			}
			continue
		}
		failed = 0
		w.n++
		w.lat.record(t1.Sub(due))
		w.lag.record(sent.Sub(due))
	}
}

// sleepUntil returns at t (or at once when t has passed), a few tens of
// microseconds late at most on an idle core. The Go runtime waits for its
// timers in epoll_wait, whose timeout is in whole milliseconds, so a
// runtime timer is up to 1 ms late: as much as the latency being measured.
// So it sleeps on a runtime timer until 1.5 ms before t, then in
// nanosleep(2) on the goroutine's own thread. The nanosleep stays short on
// purpose: the runtime's monitor takes back the processor of a thread in a
// system call longer than 10 ms and, once it does, polls every 20 µs
// instead of backing off to 10 ms; a core woken that often never looks
// idle long enough for Linux to move waiting threads to it (its newly-idle
// balancing skips a core idle on average less than 0.5 ms), which left
// threads waiting milliseconds behind a busy core beside an idle one.
func sleepUntil(t time.Time) {
	const fine = 1500 * time.Microsecond
	if d := time.Until(t) - fine; d > 0 {
		time.Sleep(d)
	}
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		ts := syscall.NsecToTimespec(int64(min(d, fine)))
		_ = syscall.Nanosleep(&ts, nil) // EINTR: loop and sleep the rest
	}
}

// renderPool renders the job's requests: URLs for HTTP, RESP commands for
// Redis. Plates and centres come from the seed, so (b) and (d) ask about the
// same centres in the same order on each connection.
func renderPool(job *loadJob) ([][]byte, error) {
	base := "http://" + job.Addr
	switch job.Kind {
	case kindCeiling:
		return [][]byte{[]byte(base + "/ceiling")}, nil
	case kindPoint:
		if job.Objects < 1 {
			return nil, errors.New("point job without objects")
		}
		rng := rand.New(rand.NewPCG(job.Seed, streamPlates))
		pool := make([][]byte, loadPool)
		var pb []byte
		for i := range pool {
			pb = appendBenchPlate(pb[:0], rng.IntN(job.Objects))
			pool[i] = []byte(base + "/v1/trucks/" + url.PathEscape(string(pb)))
		}
		return pool, nil
	case kindRadius, kindRedis:
		centers := geoCenters(job.Seed, streamCenters, loadPool)
		pool := make([][]byte, len(centers))
		radius := strconv.FormatFloat(job.RadiusM, 'f', -1, 64)
		limit := strconv.Itoa(job.Limit)
		for i, c := range centers {
			lat, lon := c.text()
			if job.Kind == kindRadius {
				pool[i] = []byte(base + "/v1/trucks?near=" + lat + "," + lon + "&radius=" + radius + "&limit=" + limit)
			} else {
				pool[i] = appendCommand(nil, "GEOSEARCH", job.RedisKey, "FROMLONLAT", lon, lat,
					"BYRADIUS", radius, "m", "ASC", "COUNT", limit, "WITHDIST")
			}
		}
		return pool, nil
	}
	return nil, fmt.Errorf("unknown job kind %q", job.Kind)
}

func dialLoad(job *loadJob) (loadConn, error) {
	if job.Kind == kindRedis {
		c, err := net.DialTimeout("tcp", job.Addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		return &redisLoadConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
	}
	// One HostClient of one connection per worker: C workers hold exactly
	// C keep-alive connections.
	hc := &fasthttp.HostClient{
		Addr:                job.Addr,
		MaxConns:            1,
		MaxConnWaitTimeout:  10 * time.Second,
		ReadTimeout:         10 * time.Second,
		WriteTimeout:        10 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	return &httpLoadConn{hc: hc, req: fasthttp.AcquireRequest(), resp: fasthttp.AcquireResponse(), stamp: job.StampSent}, nil
}

type httpLoadConn struct {
	hc    *fasthttp.HostClient
	req   *fasthttp.Request
	resp  *fasthttp.Response
	stamp bool
	buf   []byte
}

func (c *httpLoadConn) do(u []byte) (int, int, error) {
	c.req.SetRequestURIBytes(u)
	if c.stamp {
		c.buf = strconv.AppendInt(c.buf[:0], time.Now().UnixNano(), 10)
		c.req.Header.SetBytesV(SentHeader, c.buf)
	}
	if err := c.hc.Do(c.req, c.resp); err != nil {
		return 0, 0, err
	}
	if sc := c.resp.StatusCode(); sc != fasthttp.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: status %d: %.200s", u, sc, c.resp.Body())
	}
	return 0, len(c.resp.Body()), nil
}

func (c *httpLoadConn) close() {
	c.hc.CloseIdleConnections()
	fasthttp.ReleaseRequest(c.req)
	fasthttp.ReleaseResponse(c.resp)
}

type redisLoadConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *redisLoadConn) do(cmd []byte) (int, int, error) {
	if err := c.c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return 0, 0, err
	}
	if _, err := c.c.Write(cmd); err != nil {
		return 0, 0, err
	}
	n, err := skipReply(c.r)
	return n, 0, err
}

func (c *redisLoadConn) close() { c.c.Close() }

// processCPU is this process's user+system CPU time (getrusage
// RUSAGE_SELF: every thread, no children).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// histogram is a log-linear latency histogram (HDR-style): values below
// histSub ns exactly, then histSub buckets per power of two, so a
// reported percentile is at most 1/histSub (1.6%) above the true value.
// Percentiles report the top of their bucket.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum, max time.Duration
}

const (
	histSub     = 64
	histBuckets = histSub * (64 - 6 + 1)
)

func histIndex(v time.Duration) int {
	if v < histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128)
	return (e+1)*histSub + int(v>>e) - histSub
}

// histTop is the largest value of bucket i.
func histTop(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	e := i/histSub - 1
	m := i%histSub + histSub
	return time.Duration((m+1)<<e - 1)
}

func (h *histogram) record(v time.Duration) {
	h.counts[histIndex(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at or below which a fraction q of the
// recorded values lie.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histTop(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) summary() latencySummary {
	s := latencySummary{P50: h.quantile(0.50), P99: h.quantile(0.99), P999: h.quantile(0.999), Max: h.max}
	if h.n > 0 {
		s.Mean = h.sum / time.Duration(h.n)
	}
	return s
}

// loadGenProc is the parent's handle on the load generator child.
type loadGenProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	enc    *json.Encoder
	dec    *json.Decoder
	stderr *tailBuffer
}

func startLoadGen(argv []string) (*loadGenProc, error) {
	if len(argv) == 0 {
		return nil, errors.New("no load generator command")
	}
	p := &loadGenProc{stderr: &tailBuffer{max: 8 << 10}}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), LoadGenEnv+"=1")
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start load generator %v: %w", argv, err)
	}
	p.enc = json.NewEncoder(p.stdin)
	p.dec = json.NewDecoder(bufio.NewReader(stdout))
	return p, nil
}

// run runs one job. started is called when the child is ready, right before
// it is told to go; stopped right after its result arrived. The window
// between them holds the child's measurement window.
func (p *loadGenProc) run(job loadJob, started, stopped func()) (loadResult, error) {
	if err := p.enc.Encode(job); err != nil {
		return loadResult{}, p.failed(err)
	}
	var m loadMsg
	if err := p.dec.Decode(&m); err != nil {
		return loadResult{}, p.failed(err)
	}
	if m.Event != "ready" {
		return loadResult{}, fmt.Errorf("load generator: %s %s", m.Event, m.Error)
	}
	started()
	if err := p.enc.Encode(goMsg{Go: true}); err != nil {
		return loadResult{}, p.failed(err)
	}
	m = loadMsg{}
	if err := p.dec.Decode(&m); err != nil {
		return loadResult{}, p.failed(err)
	}
	stopped()
	if m.Event != "done" || m.Result == nil {
		return loadResult{}, fmt.Errorf("load generator: %s %s", m.Event, m.Error)
	}
	return *m.Result, nil
}

func (p *loadGenProc) failed(err error) error {
	return fmt.Errorf("load generator: %w (stderr: %s)", err, p.stderr)
}

// close ends the child (EOF on its stdin) and waits for it; a child that
// does not exit within 10 s is killed.
func (p *loadGenProc) close() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return p.failed(err)
		}
		return nil
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
		return errors.New("load generator did not exit; killed")
	}
}
