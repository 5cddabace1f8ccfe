package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// FreshnessConfig configures the freshness scenario: how long an event takes
// from the producer to a query answer while the engine ingests a steady
// background load. The zero value of every field selects its default.
type FreshnessConfig struct {
	// LoadRate is the background load in records/s (RFID, from the
	// simulator's fleet generator), default 5000; negative: no load.
	LoadRate float64
	// Probes is the number of probe events, default 300, one every
	// ProbeEvery (default 20 ms).
	Probes     int
	ProbeEvery time.Duration
	Partitions int  // of port.rfid, default 6
	NoSync     bool // state batches without fsync
	DataDir    string
	Logger     *slog.Logger
}

func (c FreshnessConfig) withDefaults() FreshnessConfig {
	if c.LoadRate == 0 {
		c.LoadRate = 5000
	}
	if c.Probes == 0 {
		c.Probes = 300
	}
	if c.ProbeEvery == 0 {
		c.ProbeEvery = 20 * time.Millisecond
	}
	if c.Partitions == 0 {
		c.Partitions = 6
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
func (c FreshnessConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.LoadRate > 1_000_000 {
		errs = append(errs, fmt.Errorf("load rate: %v out of range (at most 1000000 records/s)", c.LoadRate))
	}
	if c.Probes < 1 || c.Probes > 1_000_000 {
		errs = append(errs, fmt.Errorf("probes: %d out of range [1, 1000000]", c.Probes))
	}
	if c.ProbeEvery < time.Millisecond || c.ProbeEvery > time.Minute {
		errs = append(errs, fmt.Errorf("probe interval: %s out of range [1ms, 1m]", c.ProbeEvery))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions: %d out of range [1, 1000]", c.Partitions))
	}
	return errors.Join(errs...)
}

// FreshnessResult is the outcome of RunFreshness. Latencies are in
// milliseconds, from just before the probe's WriteMessages call.
type FreshnessResult struct {
	Scenario   string  `json:"scenario"` // "freshness"
	Probes     int     `json:"probes"`
	LoadRate   float64 `json:"load_rate"`          // target records/s
	LoadActual float64 `json:"load_records_per_s"` // produced during the probes
	Partitions int     `json:"partitions"`
	NoSync     bool    `json:"no_sync"`
	CPUs       int     `json:"cpus"`

	// Queryable: the probe's container is visible to Store.Container, the
	// read the query API makes for GET /v1/containers/{id}.
	Queryable LatencyMs `json:"queryable_ms"`
	// Fetched (the ceiling): a plain consumer tailing the same partitions
	// with the same client and read path has the probe record.
	Fetched LatencyMs `json:"fetched_ms"`
	// Acked: the producer's WriteMessages returned (RequireAll).
	Acked LatencyMs `json:"acked_ms"`

	// RatioP50 and RatioP99 are Queryable / Fetched at p50 and p99.
	RatioP50 float64 `json:"ratio_p50"`
	RatioP99 float64 `json:"ratio_p99"`
}

// LatencyMs summarises latencies in milliseconds.
type LatencyMs struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latencyMs(h *histogram) LatencyMs {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	s := h.summary()
	return LatencyMs{P50: ms(s.P50), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max), Mean: ms(s.Mean)}
}

// probePoll is how often a probe's container is looked up in the store.
const probePoll = 100 * time.Microsecond

// RunFreshness starts a kfake broker, the ingest engine on a fresh store
// and a background producer at cfg.LoadRate, then produces cfg.Probes probe
// events, one container each, and measures for each when the engine makes
// it queryable and when a plain tailing consumer fetches it.
func RunFreshness(ctx context.Context, cfg FreshnessConfig) (res FreshnessResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	res = FreshnessResult{Scenario: "freshness", Probes: cfg.Probes, LoadRate: max(cfg.LoadRate, 0),
		Partitions: cfg.Partitions, NoSync: cfg.NoSync, CPUs: runtime.GOMAXPROCS(0)}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-freshness-")
	if err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench: freshness: remove %s: %w", dir, rerr)
		}
	}()
	topics := ingest.Topics{RFID: ingest.DefaultRFIDTopic, AIS: "-", Transport: "-", DLQ: ingest.DefaultDLQTopic}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "kafka")),
		kfake.SeedTopics(int32(cfg.Partitions), topics.RFID, topics.DLQ))
	if err != nil {
		return res, fmt.Errorf("bench: freshness: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	quiet := slog.New(minLevel{log.Handler(), slog.LevelWarn})
	store, err := portstate.Open(state.Options{Dir: filepath.Join(dir, "state"), NoSync: cfg.NoSync, Logger: quiet})
	if err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench: freshness: close store: %w", cerr)
		}
	}()
	e, err := ingest.New(ingest.Config{Brokers: brokers, Topics: topics, FetchMaxBytes: fetchMaxBytes,
		FetchMaxWait: fetchMaxWait, Deadlines: store.Customs, Logger: quiet}, store.Store)
	if err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	engineDone := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); engineDone <- e.Run(ctx) }()

	// The ceiling: tail every partition from its current end, noting when
	// each probe key arrives.
	probes := sim.ContainerNumbers(0x70726f6265, cfg.Probes) // "probe": a seed of its own
	fetchedAt := make([]atomic.Int64, cfg.Probes)
	index := make(map[string]int, cfg.Probes)
	for i, n := range probes {
		index[n] = i
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "porttrack"}
	tailErr := make(chan error, cfg.Partitions)
	tailReady := make(chan struct{}, cfg.Partitions)
	for p := range cfg.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tailPartition(ctx, dialer, brokers[0], topics.RFID, p, index, fetchedAt, tailReady); err != nil && ctx.Err() == nil {
				tailErr <- fmt.Errorf("tail partition %d: %w", p, err)
			}
		}()
	}
	for range cfg.Partitions {
		select {
		case <-tailReady:
		case err := <-tailErr:
			return res, fmt.Errorf("bench: freshness: %w", err)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	if err := waitReady(ctx, e, engineDone); err != nil {
		return res, fmt.Errorf("bench: freshness: %w", err)
	}

	var loaded atomic.Int64
	loadErr := make(chan error, 1)
	if cfg.LoadRate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := sim.Run(ctx, sim.Config{Brokers: brokers, Topic: topics.RFID, Rate: cfg.LoadRate,
				Containers: 20_000, Seed: 1, Start: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)})
			loaded.Store(st.Produced)
			if err != nil {
				loadErr <- err
			}
		}()
	}
	// Warm up under load before the first probe.
	warm := time.NewTimer(time.Second)
	select {
	case <-warm.C:
	case <-ctx.Done():
		return res, ctx.Err()
	}

	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topics.RFID, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, // KAFKA.md pitfalls 1, 2
	}
	defer w.Close()
	var queryable, fetched, acked histogram
	loadStart := time.Now()
	tick := time.NewTicker(cfg.ProbeEvery)
	defer tick.Stop()
	for i, n := range probes {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-loadErr:
			return res, fmt.Errorf("bench: freshness: background load: %w", err)
		case err := <-engineDone:
			return res, fmt.Errorf("bench: freshness: engine stopped: %v", err)
		case <-tick.C:
		}
		v := fmt.Appendf(nil, `{"reader":"BLCT-GATE-L1","antenna":1,"epc":"urn:epc:id:bic:%s","t":"%s","rssi":-50,"dir":"in"}`,
			n, time.Now().UTC().Format(time.RFC3339Nano))
		t0 := time.Now()
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(n), Value: v}); err != nil {
			return res, fmt.Errorf("bench: freshness: probe %d: %w", i, err)
		}
		acked.record(time.Since(t0))
		// Poll until queryable; a probe lost for 30 s fails the run.
		for {
			_, err := store.Container(n)
			if err == nil {
				queryable.record(time.Since(t0))
				break
			}
			if !errors.Is(err, state.ErrNotFound) {
				return res, fmt.Errorf("bench: freshness: probe %d: %w", i, err)
			}
			if time.Since(t0) > 30*time.Second {
				return res, fmt.Errorf("bench: freshness: probe %d (%s) not queryable after 30 s", i, n)
			}
			time.Sleep(probePoll)
		}
		// The tailing consumer may be later than the engine: wait for it
		// (bounded) so every probe has both figures.
		for fetchedAt[i].Load() == 0 {
			select {
			case err := <-tailErr:
				return res, fmt.Errorf("bench: freshness: %w", err)
			default:
			}
			if time.Since(t0) > 30*time.Second {
				return res, fmt.Errorf("bench: freshness: probe %d (%s) not fetched after 30 s", i, n)
			}
			time.Sleep(probePoll)
		}
		fetched.record(time.Duration(fetchedAt[i].Load() - t0.UnixNano()))
	}
	elapsed := time.Since(loadStart)
	cancel()
	wg.Wait()
	select {
	case err := <-loadErr:
		return res, fmt.Errorf("bench: freshness: background load: %w", err)
	default:
	}
	res.LoadActual = float64(loaded.Load()) / (elapsed + time.Second).Seconds()
	res.Queryable, res.Fetched, res.Acked = latencyMs(&queryable), latencyMs(&fetched), latencyMs(&acked)
	if res.Fetched.P50 > 0 {
		res.RatioP50 = res.Queryable.P50 / res.Fetched.P50
	}
	if res.Fetched.P99 > 0 {
		res.RatioP99 = res.Queryable.P99 / res.Fetched.P99
	}
	log.Info("bench freshness: done", "queryable_p50_ms", res.Queryable.P50, "fetched_p50_ms", res.Fetched.P50)
	return res, nil
}

// tailPartition reads a partition from its end on with the engine's read
// path (ingest/fetch: read_committed, the engine's fetch settings and
// record limits) and stores the arrival time of each probe it sees.
func tailPartition(ctx context.Context, dialer *kafka.Dialer, broker, topic string, partition int,
	index map[string]int, at []atomic.Int64, ready chan<- struct{}) error {
	conn, err := dialFetch(ctx, dialer, broker, topic, partition, engineFetch())
	if err != nil {
		return err
	}
	// The end under read_committed: the last stable offset.
	_, end, err := conn.Offsets(ctx)
	if err != nil {
		conn.Close()
		conn.Release()
		return fmt.Errorf("read the end offset: %w", err)
	}
	ready <- struct{}{}
	return tailFrom(ctx, conn, end, func(r *fetch.Record) {
		if i, ok := index[string(r.Key)]; ok {
			at[i].CompareAndSwap(0, time.Now().UnixNano())
		}
	})
}

// waitReady waits until the engine reports Ready.
func waitReady(ctx context.Context, e *ingest.Engine, done <-chan error) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(stallTimeout)
	for !e.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return fmt.Errorf("engine stopped early: %v", err)
		case now := <-tick.C:
			if now.After(deadline) {
				return fmt.Errorf("engine not ready after %s", stallTimeout)
			}
		}
	}
	return nil
}

// WriteTable writes r as a text table.
func (r FreshnessResult) WriteTable(w io.Writer) {
	sync := "fsync on"
	if r.NoSync {
		sync = "fsync off (--no-sync)"
	}
	fmt.Fprintf(w, "freshness: %d probes under a load of %.0f records/s (target %.0f), %d partitions, %s, %d CPUs\n\n",
		r.Probes, r.LoadActual, r.LoadRate, r.Partitions, sync, r.CPUs)
	const row = "%-42s %9s %9s %9s %9s\n"
	fmt.Fprintf(w, row, "event produced ->", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
	for _, l := range []struct {
		name string
		l    LatencyMs
	}{{"acked by the broker (RequireAll)", r.Acked}, {"ceiling: fetched by a tailing consumer", r.Fetched}, {"engine: queryable (Store.Container)", r.Queryable}} {
		fmt.Fprintf(w, row, l.name, f3(l.l.P50), f3(l.l.P99), f3(l.l.P999), f3(l.l.Max))
	}
	fmt.Fprintf(w, "%-42s %9.2f %9.2f\n", "ratio queryable/fetched", r.RatioP50, r.RatioP99)
}

func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
