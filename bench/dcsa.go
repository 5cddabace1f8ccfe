package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/ingest/deliver"
	"github.com/porttrack/porttrack/query"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// DCSAConfig configures the dcsa scenario: GET /v2/events under concurrent
// closed-loop load next to a trivial handler on the same HTTP stack, then
// webhook fan-out of new events to many subscribers. The zero value of
// every field selects its default.
type DCSAConfig struct {
	Events      int           // container events in the DCSA log before the query cases, default 100000
	Duration    time.Duration // measured time of each query case, default 5 s
	Conns       int           // concurrent connections, default 16
	Subscribers int           // webhook subscriptions of the fan-out case, default 100
	// FanoutEvents are the events applied after the subscriptions exist;
	// each subscriber receives all of them. Default 2000.
	FanoutEvents int
	DataDir      string // where a fresh working directory is made; default the temp directory
	Logger       *slog.Logger
}

func (c DCSAConfig) withDefaults() DCSAConfig {
	if c.Events == 0 {
		c.Events = 100_000
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Conns == 0 {
		c.Conns = 16
	}
	if c.Subscribers == 0 {
		c.Subscribers = 100
	}
	if c.FanoutEvents == 0 {
		c.FanoutEvents = 2000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration.
func (c DCSAConfig) Validate() error {
	if c.Events < 0 || c.Duration < 0 || c.Conns < 0 || c.Subscribers < 0 || c.FanoutEvents < 0 {
		return errors.New("bench dcsa: negative setting")
	}
	return nil
}

// DCSACase is one measured query case.
type DCSACase struct {
	Name     string        `json:"name"`
	Path     string        `json:"path"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	PerSec   float64       `json:"per_sec"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	P999     time.Duration `json:"p999_ns"`
	Bytes    int64         `json:"bytes"`
}

// DCSAResult is what the dcsa scenario measured.
type DCSAResult struct {
	Scenario       string     `json:"scenario"`
	Events         int        `json:"events"`
	Conns          int        `json:"conns"`
	Cases          []DCSACase `json:"cases"`
	Subscribers    int        `json:"subscribers"`
	FanoutEvents   int        `json:"fanout_events"`
	FanoutSeconds  float64    `json:"fanout_seconds"`
	FanoutPerSec   float64    `json:"fanout_events_per_sec"` // events delivered, summed over subscribers
	FanoutPosts    uint64     `json:"fanout_posts"`
	ApplyPerSec    float64    `json:"apply_events_per_sec"` // ingest into the store during fan-out
	ApplyBaseline  float64    `json:"apply_events_per_sec_no_subscribers"`
	SignatureFails int64      `json:"signature_failures"`
}

var dcsaBoxes = func() []string {
	// ISO 6346 numbers with valid check digits: owner BNCU, serials 0..n.
	out := make([]string, 0, 5000)
	for i := 0; len(out) < cap(out); i++ {
		id := fmt.Sprintf("BNCU%06d", i)
		for d := 0; d < 10; d++ {
			if state.CheckContainer(fmt.Sprintf("%s%d", id, d)) == nil {
				out = append(out, fmt.Sprintf("%s%d", id, d))
				break
			}
		}
	}
	return out
}()

// applyDCSAEvents applies n container events (batches of 500) starting at
// event number first: boxes cycle through dcsaBoxes, each linked to one of
// ten bookings.
func applyDCSAEvents(s *portstate.State, first, n int) error {
	codes := []state.Code{state.CodeGTIN, state.CodeLOAD, state.CodeDISC, state.CodeGTOT, state.CodeINSP}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]state.Event, 0, 500)
	for i := first; i < first+n; i++ {
		box := dcsaBoxes[i%len(dcsaBoxes)]
		e := state.Event{ID: fmt.Sprintf("bench-%d", i), Container: box, Code: codes[i%len(codes)],
			Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), Location: "CNNGB-BLCT", Source: "bench"}
		if i < len(dcsaBoxes) {
			e.Refs = []state.Ref{{Kind: state.LinkBooking, Value: fmt.Sprintf("BKG-%d", i%10)}}
		}
		evs = append(evs, e)
		if len(evs) == cap(evs) || i == first+n-1 {
			if _, err := s.Apply(&state.Batch{Topic: "port.rfid", Next: int64(i + 1), Events: evs}); err != nil {
				return err
			}
			evs = evs[:0]
		}
	}
	return nil
}

// RunDCSA runs the dcsa scenario.
func RunDCSA(ctx context.Context, cfg DCSAConfig) (DCSAResult, error) {
	if err := cfg.Validate(); err != nil {
		return DCSAResult{}, err
	}
	cfg = cfg.withDefaults()
	res := DCSAResult{Scenario: "dcsa", Events: cfg.Events, Conns: cfg.Conns, Subscribers: cfg.Subscribers, FanoutEvents: cfg.FanoutEvents}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-dcsa-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	store, err := portstate.Open(state.Options{Dir: filepath.Join(dir, "state"), NoSync: true, Logger: cfg.Logger, MaxSubscriptions: max(cfg.Subscribers, 1)})
	if err != nil {
		return res, err
	}
	defer store.Close()
	const portKey, logisticsKey = "bench-port-key-0123456789", "bench-logistics-key-0123456789"
	if _, err := store.Tenants.CreateAPIKey(portKey, tenant.APIKey{Tenant: "port", Role: state.RolePort}); err != nil {
		return res, err
	}
	if _, err := store.Tenants.CreateAPIKey(logisticsKey, tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"BKG-3"}}}); err != nil {
		return res, err
	}
	cfg.Logger.Info("bench dcsa: loading events", "events", cfg.Events)
	if err := applyDCSAEvents(store, 0, cfg.Events); err != nil {
		return res, err
	}

	// The API and the trivial handler, each on its own loopback listener.
	srv, err := query.New(query.Config{Store: store, Logger: cfg.Logger})
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go srv.Serve(ln)
	defer srv.Shutdown()
	ceil := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`[]`)
	}}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go ceil.Serve(cln)
	defer ceil.Shutdown()

	mid := ""
	if err := store.DCSA.Scan(uint64(cfg.Events/2), false, func(e *state.DCSAEvent) bool { mid = e.ID; return false }); err != nil {
		return res, err
	}
	cases := []struct{ name, addr, path, key string }{
		{"trivial handler (ceiling)", cln.Addr().String(), "/ceiling", ""},
		{"first page, limit 20", ln.Addr().String(), "/v2/events?limit=20", portKey},
		{"eventType=EQUIPMENT&equipmentEventTypeCode=GTIN, limit 100", ln.Addr().String(), "/v2/events?eventType=EQUIPMENT&equipmentEventTypeCode=GTIN&limit=100", portKey},
		{"newest first, limit 20", ln.Addr().String(), "/v2/events?sort=eventCreatedDateTime:DESC&limit=20", portKey},
		{"logistics tenant, first page, limit 20", ln.Addr().String(), "/v2/events?limit=20", logisticsKey},
		{"by eventID", ln.Addr().String(), "/v2/events/" + mid, portKey},
		{"equipmentReference (equipment index), limit 20", ln.Addr().String(), "/v2/events?equipmentReference=" + dcsaBoxes[7] + "&limit=20", portKey},
	}
	for _, c := range cases {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		cfg.Logger.Info("bench dcsa: query case", "case", c.name)
		r, err := closedLoad(ctx, c.addr, c.path, c.key, cfg.Conns, cfg.Duration)
		if err != nil {
			return res, fmt.Errorf("bench dcsa %s: %w", c.name, err)
		}
		r.Name = c.name
		res.Cases = append(res.Cases, r)
	}
	if err := runFanout(ctx, cfg, store, &res); err != nil {
		return res, err
	}
	return res, nil
}

// closedLoad runs conns closed-loop connections for d and summarises the
// latencies (the load runs in this process: both the API and the ceiling
// share the machine with it alike).
func closedLoad(ctx context.Context, addr, path, key string, conns int, d time.Duration) (DCSACase, error) {
	out := DCSACase{Path: path}
	var mu sync.Mutex
	var all histogram
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &fasthttp.HostClient{Addr: addr, MaxConns: 1, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + path)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			var h histogram
			var n, errs, bytes int64
			var ferr error
			for time.Now().Before(end) && ctx.Err() == nil {
				t := time.Now()
				err := hc.Do(req, resp)
				if err == nil && resp.StatusCode() != 200 {
					err = fmt.Errorf("status %d: %.200s", resp.StatusCode(), resp.Body())
				}
				if err != nil {
					errs++
					if ferr == nil {
						ferr = err
					}
					continue
				}
				h.record(time.Since(t))
				n++
				bytes += int64(len(resp.Body()))
			}
			mu.Lock()
			defer mu.Unlock()
			all.merge(&h)
			out.Requests += n
			out.Errors += errs
			out.Bytes += bytes
			if firstErr == nil {
				firstErr = ferr
			}
		}()
	}
	wg.Wait()
	if out.Requests == 0 && firstErr != nil {
		return out, firstErr
	}
	out.PerSec = float64(out.Requests) / time.Since(start).Seconds()
	s := all.summary()
	out.P50, out.P99, out.P999 = s.P50, s.P99, s.P999
	return out, nil
}

// runFanout creates the subscriptions, applies FanoutEvents events and
// times their delivery to every subscriber; the receiver checks every
// signature. It also measures Apply throughput with and without the
// deliverer running.
func runFanout(ctx context.Context, cfg DCSAConfig, store *portstate.State, res *DCSAResult) error {
	baseStart := time.Now()
	if err := applyDCSAEvents(store, cfg.Events, cfg.FanoutEvents); err != nil {
		return err
	}
	res.ApplyBaseline = float64(cfg.FanoutEvents) / time.Since(baseStart).Seconds()

	secret := bytes.Repeat([]byte{'k'}, 32)
	var received, badSig atomic.Int64
	counts := make([]atomic.Int64, cfg.Subscribers)
	ids := make(map[string]int, cfg.Subscribers)
	rcvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	var idsMu sync.RWMutex
	mux.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Notification-Signature") != deliver.Sign(secret, body) {
			badSig.Add(1)
			w.WriteHeader(401)
			return
		}
		n := int64(bytes.Count(body, []byte(`"eventID"`)))
		idsMu.RLock()
		i, ok := ids[r.Header.Get("Subscription-ID")]
		idsMu.RUnlock()
		if ok {
			counts[i].Add(n)
		}
		received.Add(n)
		w.WriteHeader(204)
	})
	hs := &http.Server{Handler: mux}
	go hs.Serve(rcvLn)
	defer hs.Close()
	url := "http://" + rcvLn.Addr().String() + "/hook"
	owner, err := store.Tenants.CreateAPIKey("bench-port-key-0123456789", tenant.APIKey{Tenant: "port", Role: state.RolePort})
	if err != nil {
		return err
	}
	for i := range cfg.Subscribers {
		sub := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: "port", Role: state.RolePort, KeyID: owner.ID, CallbackURL: url, Secret: secret}
		if err := store.DCSA.PutSubscription(&sub, true, nil); err != nil {
			return err
		}
		idsMu.Lock()
		ids[sub.ID] = i
		idsMu.Unlock()
	}
	// The receiver listens on loopback, which callbacks are denied by default.
	d, err := deliver.New(deliver.Config{Log: store.DCSA, Links: store.Tenants, Poll: 20 * time.Millisecond, MaxBatch: 500, Logger: cfg.Logger,
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		return err
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(dctx) }()
	defer func() { cancel(); <-done }()

	cfg.Logger.Info("bench dcsa: fan-out", "subscribers", cfg.Subscribers, "events", cfg.FanoutEvents)
	start := time.Now()
	if err := applyDCSAEvents(store, cfg.Events+cfg.FanoutEvents, cfg.FanoutEvents); err != nil {
		return err
	}
	res.ApplyPerSec = float64(cfg.FanoutEvents) / time.Since(start).Seconds()
	want := int64(cfg.FanoutEvents)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		all := true
		for i := range counts {
			if counts[i].Load() < want {
				all = false
				break
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench dcsa: fan-out incomplete: %d of %d events delivered", received.Load(), want*int64(cfg.Subscribers))
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.FanoutSeconds = time.Since(start).Seconds()
	res.FanoutPerSec = float64(received.Load()) / res.FanoutSeconds
	res.FanoutPosts = d.Metrics().Posts
	res.SignatureFails = badSig.Load()
	if res.SignatureFails != 0 {
		return fmt.Errorf("bench dcsa: %d webhook signatures did not verify", res.SignatureFails)
	}
	return nil
}

// WriteTable prints the result.
func (r DCSAResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "dcsa: GET /v2/events over a log of %d events, %d connections, closed loop\n", r.Events, r.Conns)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\treq/s\tp50\tp99\tp99.9\terrors\t")
	for _, c := range r.Cases {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%d\t\n", c.Name, c.PerSec, dcsaRound(c.P50), dcsaRound(c.P99), dcsaRound(c.P999), c.Errors)
	}
	tw.Flush()
	fmt.Fprintf(w, "webhook fan-out: %d events to %d subscribers: %.2f s, %.0f events/s delivered (%d POSTs, every signature verified)\n",
		r.FanoutEvents, r.Subscribers, r.FanoutSeconds, r.FanoutPerSec, r.FanoutPosts)
	fmt.Fprintf(w, "ingest (Apply) during fan-out: %.0f events/s; without subscribers: %.0f events/s\n", r.ApplyPerSec, r.ApplyBaseline)
}

func dcsaRound(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(100 * time.Nanosecond).String()
	}
}
