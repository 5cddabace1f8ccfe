package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// CustomsConfig configures the customs scenario: CEB documents end to end,
// from port.customs to results on porttrack.customs-results.
type CustomsConfig struct {
	// Orders is the number of e-commerce orders of the throughput phase
	// (each four CEB XML documents and two or three CEB622 receipts, plus a
	// container customs flow every five orders). Default 10000.
	Orders     int
	Partitions int // default 6
	NoSync     bool
	Rounds     int // throughput measurements; default 3
	// Rate (orders/s) and Duration pace the latency phase, run after the
	// last round on its engine. Defaults 200/s and 5 s.
	Rate     float64
	Duration time.Duration
	DataDir  string
	Logger   *slog.Logger
}

func (c CustomsConfig) withDefaults() CustomsConfig {
	if c.Orders == 0 {
		c.Orders = 10_000
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Rounds == 0 {
		c.Rounds = 3
	}
	if c.Rate == 0 {
		c.Rate = 200
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.DataDir == "" {
		c.DataDir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration.
func (c CustomsConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Orders < 1 || c.Orders > 10_000_000 {
		errs = append(errs, fmt.Errorf("orders: %d out of range [1, 10000000]", c.Orders))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions: %d out of range [1, 1000]", c.Partitions))
	}
	if c.Rounds < 1 || c.Rounds > 100 {
		errs = append(errs, fmt.Errorf("rounds: %d out of range [1, 100]", c.Rounds))
	}
	if !(c.Rate > 0 && c.Rate <= 100_000) || c.Duration < 0 {
		errs = append(errs, fmt.Errorf("rate: %g out of range (0, 100000] or negative duration", c.Rate))
	}
	return errors.Join(errs...)
}

// CustomsResult is the outcome of RunCustoms (medians over the rounds).
type CustomsResult struct {
	Scenario   string `json:"scenario"` // "customs"
	Orders     int    `json:"orders"`
	Documents  int64  `json:"documents"` // records produced (CEB XML and container JSON)
	Results    int64  `json:"results"`   // records expected on porttrack.customs-results
	Partitions int    `json:"partitions"`
	NoSync     bool   `json:"no_sync"`
	Rounds     int    `json:"rounds"`
	CPUs       int    `json:"cpus"`

	ProducedBytes int64 `json:"produced_bytes"`

	// The ceiling: every record of port.customs fetched with the engine's
	// client and read path, counted and dropped.
	CeilingSeconds float64 `json:"ceiling_seconds"`
	CeilingRate    float64 `json:"ceiling_documents_per_sec"`
	// The engine: from Run until every document is consumed, applied and
	// every result acknowledged by the broker on porttrack.customs-results.
	EngineSeconds float64 `json:"engine_seconds"`
	EngineRate    float64 `json:"engine_documents_per_sec"`
	Ratio         float64 `json:"ratio"`

	// The latency phase: orders produced at LatencyRate orders/s; for each,
	// the time from the broker's acknowledgement of its documents to its
	// three_doc_match record read from porttrack.customs-results.
	LatencyRate   float64 `json:"latency_orders_per_sec"`
	LatencyOrders int     `json:"latency_orders"`
	LatencyP50ms  float64 `json:"latency_p50_ms"`
	LatencyP99ms  float64 `json:"latency_p99_ms"`
	LatencyMaxms  float64 `json:"latency_max_ms"`

	PerRound []IngestRound `json:"per_round"`
}

// RunCustoms measures customs documents/s end to end and the result latency
// p99 next to the raw fetch ceiling of the same records, in one run, on an
// in-process kfake broker.
func RunCustoms(ctx context.Context, cfg CustomsConfig) (res CustomsResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("bench: customs: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	res = CustomsResult{Scenario: "customs", Orders: cfg.Orders, Partitions: cfg.Partitions, NoSync: cfg.NoSync,
		Rounds: cfg.Rounds, CPUs: runtime.GOMAXPROCS(0), LatencyRate: cfg.Rate}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-customs-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	topics := ingest.Topics{RFID: "port.rfid", AIS: "-", Transport: "-", Customs: ingest.DefaultCustomsTopic, DLQ: ingest.DefaultDLQTopic}
	resultTopic := state.DefaultCustomsResultTopic
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "kafka")),
		kfake.SeedTopics(int32(cfg.Partitions), topics.RFID, topics.Customs, topics.DLQ, resultTopic))
	if err != nil {
		return res, fmt.Errorf("bench: customs: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	gen := sim.NewCustomsGenerator(sim.CustomsConfig{Brokers: brokers, Seed: 11, Start: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		MismatchRate: 0.05, GBKRate: 0.2})
	var recs []sim.Record
	for gen.CustomsStats().Orders < int64(cfg.Orders) {
		recs = gen.Next(recs, 1)
	}
	recs = gen.Flush(recs)
	st := gen.CustomsStats()
	res.Documents = int64(len(recs))
	res.Results = st.Orders + st.Receipts
	w := newBenchWriter(brokers, topics.Customs)
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value}
		res.ProducedBytes += int64(len(r.Key) + len(r.Value))
	}
	for lo := 0; lo < len(msgs); lo += produceChunk {
		if err := w.WriteMessages(ctx, msgs[lo:min(lo+produceChunk, len(msgs))]...); err != nil {
			w.Close()
			return res, fmt.Errorf("bench: customs: produce: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	log.Info("bench customs: produced", "orders", st.Orders, "documents", res.Documents, "results expected", res.Results)

	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "porttrack"}
	for round := range cfg.Rounds {
		var r IngestRound
		runtime.GC()
		n, d, err := fetchAll(ctx, dialer, brokers[0], topics.Customs, cfg.Partitions)
		if err != nil {
			return res, fmt.Errorf("bench: customs: ceiling: %w", err)
		}
		if n != res.Documents {
			return res, fmt.Errorf("bench: customs: ceiling read %d records, produced %d", n, res.Documents)
		}
		r.CeilingSeconds, r.CeilingRate = d.Seconds(), float64(n)/d.Seconds()
		runtime.GC()
		last := round == cfg.Rounds-1
		d, lat, err := runCustomsEngine(ctx, cfg, brokers, topics, filepath.Join(dir, "state-"+strconv.Itoa(round)), &res, round, last)
		if err != nil {
			return res, fmt.Errorf("bench: customs: engine, round %d: %w", round+1, err)
		}
		r.EngineSeconds, r.EngineRate = d.Seconds(), float64(res.Documents)/d.Seconds()
		r.Ratio = r.EngineRate / r.CeilingRate
		log.Info("bench customs: round", "round", round+1, "ceiling_docs_per_s", r.CeilingRate, "engine_docs_per_s", r.EngineRate, "ratio", r.Ratio)
		res.PerRound = append(res.PerRound, r)
		if last {
			res.LatencyOrders = len(lat)
			if len(lat) > 0 {
				slices.Sort(lat)
				pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))].Seconds() * 1000 }
				res.LatencyP50ms, res.LatencyP99ms, res.LatencyMaxms = pct(0.50), pct(0.99), lat[len(lat)-1].Seconds()*1000
			}
		}
	}
	rs := res.PerRound
	res.CeilingSeconds = median(rs, func(r IngestRound) float64 { return r.CeilingSeconds })
	res.CeilingRate = median(rs, func(r IngestRound) float64 { return r.CeilingRate })
	res.EngineSeconds = median(rs, func(r IngestRound) float64 { return r.EngineSeconds })
	res.EngineRate = median(rs, func(r IngestRound) float64 { return r.EngineRate })
	res.Ratio = median(rs, func(r IngestRound) float64 { return r.Ratio })
	return res, nil
}

func newBenchWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond, BatchSize: produceBatchSize, BatchBytes: produceBatchBytes, Compression: kafka.Lz4}
}

// runCustomsEngine ingests port.customs into a fresh store until every
// expected result is published; with latency, it then runs the paced
// latency phase on the same engine.
func runCustomsEngine(ctx context.Context, cfg CustomsConfig, brokers []string, topics ingest.Topics, dir string, res *CustomsResult, round int, latency bool) (time.Duration, []time.Duration, error) {
	quiet := slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})
	// Distinct result topics per round would need more topics; the rounds
	// share porttrack.customs-results and count their own publications.
	store, err := portstate.Open(state.Options{Dir: dir, NoSync: cfg.NoSync, Logger: quiet})
	if err != nil {
		return 0, nil, err
	}
	defer func() { store.Close(); os.RemoveAll(dir) }()
	e, err := ingest.New(ingest.Config{Brokers: brokers, Topics: topics, FetchMaxBytes: fetchMaxBytes, FetchMaxWait: fetchMaxWait, Deadlines: store.Customs, Logger: quiet}, store.Store)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.Run(ctx); close(done) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var d time.Duration
	lastChange, lastPub := start, uint64(0)
	for d == 0 {
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case err := <-done:
			return 0, nil, fmt.Errorf("engine stopped early: %v", err)
		case now := <-tick.C:
			s := e.Stats()
			if s.Consumed >= uint64(res.Documents) && s.Published >= uint64(res.Results) {
				d = now.Sub(start)
				if s.Published != uint64(res.Results) {
					return 0, nil, fmt.Errorf("published %d results, want %d", s.Published, res.Results)
				}
			}
			if s.Published != lastPub {
				lastPub, lastChange = s.Published, now
			} else if now.Sub(lastChange) > stallTimeout {
				return 0, nil, fmt.Errorf("no progress: consumed %d of %d, published %d of %d", s.Consumed, res.Documents, s.Published, res.Results)
			}
		}
	}
	if dead := e.DeadLettered(); len(dead) != 0 {
		return 0, nil, fmt.Errorf("dead letters %v", dead)
	}
	var lat []time.Duration
	if latency {
		lat, err = customsLatency(ctx, cfg, brokers, topics.Customs)
	}
	cancel()
	if rerr := <-done; rerr != nil && err == nil {
		err = rerr
	}
	return d, lat, err
}

// customsLatency produces orders at cfg.Rate for cfg.Duration, one
// WriteMessages per order (its documents, the inventory last), and times
// each order from the acknowledgement to its three_doc_match record.
func customsLatency(ctx context.Context, cfg CustomsConfig, brokers []string, topic string) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	seen := map[string]time.Time{}
	follow, err := followResults(ctx, brokers[0], state.DefaultCustomsResultTopic, cfg.Partitions, func(at time.Time, v []byte) {
		if !bytes.Contains(v, []byte(`"three_doc_match"`)) {
			return
		}
		var r struct{ OrderNo string }
		if json.Unmarshal(v, &r) == nil {
			mu.Lock()
			if _, ok := seen[r.OrderNo]; !ok {
				seen[r.OrderNo] = at
			}
			mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	gen := sim.NewCustomsGenerator(sim.CustomsConfig{Brokers: brokers, Seed: 12, Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		NoReceipts: true, BoxEvery: 1 << 30})
	w := newBenchWriter(brokers, topic)
	defer w.Close()
	n := int(cfg.Rate * cfg.Duration.Seconds())
	start := time.Now()
	var orders []string
	for i := range n {
		if d := time.Until(start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		recs := gen.Flush(gen.Next(nil, 1)) // one order: its four documents
		msgs := make([]kafka.Message, len(recs))
		for j, r := range recs {
			msgs[j] = kafka.Message{Key: r.Key, Value: r.Value}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return nil, err
		}
		key := string(recs[0].Key)
		mu.Lock()
		sent[key] = time.Now()
		mu.Unlock()
		orders = append(orders, key)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got >= len(orders) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("latency phase: %d of %d results read", got, len(orders))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	follow.Wait()
	lat := make([]time.Duration, 0, len(orders))
	for _, o := range orders {
		lat = append(lat, seen[o].Sub(sent[o]))
	}
	return lat, nil
}

// followResults reads every partition of topic from its current end with
// the engine's read path (ingest/fetch, read_committed: only results of
// committed transactions) and calls fn with each record's arrival time. A
// partition whose fetch fails stops being followed (the latency phase then
// misses its results and says so).
func followResults(ctx context.Context, broker, topic string, partitions int, fn func(time.Time, []byte)) (*sync.WaitGroup, error) {
	dialer := &kafka.Dialer{Timeout: 10 * time.Second}
	// The engine's limits, with a short wait: a result is read as soon as
	// the broker has it.
	cfg := engineFetch()
	cfg.MaxBytes, cfg.MaxWait = 1<<20, 5*time.Millisecond
	var wg sync.WaitGroup
	for p := range partitions {
		conn, err := dialFetch(ctx, dialer, broker, topic, p, cfg)
		if err != nil {
			return nil, err
		}
		_, end, err := conn.Offsets(ctx)
		if err != nil {
			conn.Close()
			conn.Release()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = tailFrom(ctx, conn, end, func(r *fetch.Record) { fn(time.Now(), r.Value) })
		}()
	}
	return &wg, nil
}

// WriteTable writes r as a text table.
func (r CustomsResult) WriteTable(w io.Writer) {
	sync := "fsync on"
	if r.NoSync {
		sync = "fsync off (--no-sync)"
	}
	fmt.Fprintf(w, "customs: %d orders, %d documents (CEB XML, 20%% GB2312; container JSON), %d results, %d partitions, %s, %d CPUs, medians of %d rounds\n\n",
		r.Orders, r.Documents, r.Results, r.Partitions, sync, r.CPUs, r.Rounds)
	const row = "%-44s %9s %12s   %s\n"
	fmt.Fprintf(w, row, "path", "seconds", "documents/s", "per round")
	per := func(f func(IngestRound) float64, format string) string {
		var b bytes.Buffer
		for i, pr := range r.PerRound {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, format, f(pr))
		}
		return b.String()
	}
	fmt.Fprintf(w, row, "ceiling: fetch only", fmt.Sprintf("%.3f", r.CeilingSeconds), fmt.Sprintf("%.0f", r.CeilingRate),
		per(func(p IngestRound) float64 { return p.CeilingRate }, "%.0f"))
	fmt.Fprintf(w, row, "engine: decode, match, results acknowledged", fmt.Sprintf("%.3f", r.EngineSeconds), fmt.Sprintf("%.0f", r.EngineRate),
		per(func(p IngestRound) float64 { return p.EngineRate }, "%.0f"))
	fmt.Fprintf(w, row, "ratio engine/ceiling", "", fmt.Sprintf("%.3f", r.Ratio), per(func(p IngestRound) float64 { return p.Ratio }, "%.3f"))
	fmt.Fprintf(w, "\nresult latency at %.0f orders/s (%d orders; document ack -> three_doc_match read from porttrack.customs-results): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		r.LatencyRate, r.LatencyOrders, r.LatencyP50ms, r.LatencyP99ms, r.LatencyMaxms)
}
