package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
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

// IngestConfig configures the ingest scenario. The zero value of every field
// selects its default.
type IngestConfig struct {
	Records    int   // records produced and then consumed, default 200000
	Partitions int   // partitions of port.rfid, default 6
	Containers int   // fleet size of the generator, default 20000
	Seed       int64 // generator seed, default 1
	// NoSync commits state batches without fsync (state.Options.NoSync).
	NoSync bool
	// Codec is the producer's compression: "none", "lz4" (default), "gzip",
	// "snappy" or "zstd".
	Codec string
	// Rounds is how many times the ceiling and the engine are each measured,
	// alternately; medians are reported. Default 3.
	Rounds int
	// DataDir is where a fresh working directory (broker log, state) is
	// created and removed afterwards; default the system's temp directory.
	DataDir string
	// Logger receives progress at Info and the engine's warnings; nil
	// discards them.
	Logger *slog.Logger
}

// Fetch settings shared by the ceiling and the engine: ingest's defaults,
// set explicitly on both so the two read paths fetch alike.
const (
	fetchMaxBytes = 4 << 20
	fetchMaxWait  = 250 * time.Millisecond
)

// Production settings (setup, not measured): batches close to kfake's
// message.max.bytes of ~1 MB (KAFKA.md), large WriteMessages calls.
const (
	produceChunk      = 48000
	produceBatchSize  = 4000
	produceBatchBytes = 900_000
)

// stallTimeout fails a measurement that makes no progress for this long.
const stallTimeout = 60 * time.Second

var codecs = map[string]kafka.Compression{
	"none":   0,
	"lz4":    kafka.Lz4,
	"gzip":   kafka.Gzip,
	"snappy": kafka.Snappy,
	"zstd":   kafka.Zstd,
}

// Codecs lists the accepted IngestConfig.Codec values.
func Codecs() []string { return slices.Sorted(maps.Keys(codecs)) }

func (c IngestConfig) withDefaults() IngestConfig {
	if c.Records == 0 {
		c.Records = 200_000
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Containers == 0 {
		c.Containers = 20_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Codec == "" {
		c.Codec = "lz4"
	}
	if c.Rounds == 0 {
		c.Rounds = 3
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
func (c IngestConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Records < 1 || c.Records > 100_000_000 {
		errs = append(errs, fmt.Errorf("records: %d out of range [1, 100000000]", c.Records))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions: %d out of range [1, 1000]", c.Partitions))
	}
	if c.Containers < 1 || c.Containers > 1_000_000 {
		errs = append(errs, fmt.Errorf("containers: %d out of range [1, 1000000]", c.Containers))
	}
	if _, ok := codecs[c.Codec]; !ok {
		errs = append(errs, fmt.Errorf("codec: %q is not one of %v", c.Codec, Codecs()))
	}
	if c.Rounds < 1 || c.Rounds > 100 {
		errs = append(errs, fmt.Errorf("rounds: %d out of range [1, 100]", c.Rounds))
	}
	return errors.Join(errs...)
}

// IngestResult is the outcome of RunIngest. Seconds and rates are medians
// over the rounds; Ratio is the median of the per-round ratios.
type IngestResult struct {
	Scenario   string `json:"scenario"` // "ingest"
	Records    int    `json:"records"`
	Partitions int    `json:"partitions"`
	Containers int    `json:"containers"`
	Codec      string `json:"codec"`
	NoSync     bool   `json:"no_sync"`
	Rounds     int    `json:"rounds"`
	CPUs       int    `json:"cpus"` // GOMAXPROCS

	// ProducedBytes is the key+value bytes of the records, uncompressed;
	// BrokerDiskBytes the broker's log on disk after producing.
	ProducedBytes   int64   `json:"produced_bytes"`
	BrokerDiskBytes int64   `json:"broker_disk_bytes"`
	ProduceSeconds  float64 `json:"produce_seconds"`

	// The ceiling: every partition fetched from offset 0 to its end with
	// the engine's client and read path, records counted and dropped.
	CeilingRecords int64   `json:"ceiling_records"`
	CeilingSeconds float64 `json:"ceiling_seconds"`
	CeilingRate    float64 `json:"ceiling_records_per_sec"`

	// The engine: from Run until every record is consumed, applied to the
	// store (fsync'd unless NoSync) and the engine reports Ready.
	EngineRecords int64   `json:"engine_records"` // events stored
	EngineSeconds float64 `json:"engine_seconds"`
	EngineRate    float64 `json:"engine_records_per_sec"`
	EngineBatches uint64  `json:"engine_batches"` // state batches (median)

	Ratio float64 `json:"ratio"` // engine rate / ceiling rate

	StateDiskBytes      uint64  `json:"state_disk_bytes"` // Pebble's size incl. WAL (median)
	StateBytesPerRecord float64 `json:"state_bytes_per_record"`

	PerRound []IngestRound `json:"per_round"`
}

// IngestRound holds one round's measurements.
type IngestRound struct {
	CeilingSeconds float64 `json:"ceiling_seconds"`
	CeilingRate    float64 `json:"ceiling_records_per_sec"`
	EngineSeconds  float64 `json:"engine_seconds"`
	EngineRate     float64 `json:"engine_records_per_sec"`
	EngineBatches  uint64  `json:"engine_batches"`
	Ratio          float64 `json:"ratio"`
	StateDiskBytes uint64  `json:"state_disk_bytes"`
}

// RunIngest measures ingest throughput from Kafka to durable state next to
// the raw fetch rate of the same records from the same broker with the same
// client. It starts an in-process kfake broker, produces cfg.Records
// generated records (setup, not measured), then alternately reads them all
// (the ceiling) and ingests them into a fresh store (the engine).
func RunIngest(ctx context.Context, cfg IngestConfig) (res IngestResult, err error) {
	if err := cfg.Validate(); err != nil {
		return res, fmt.Errorf("bench: ingest: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	res = IngestResult{
		Scenario: "ingest", Records: cfg.Records, Partitions: cfg.Partitions, Containers: cfg.Containers,
		Codec: cfg.Codec, NoSync: cfg.NoSync, Rounds: cfg.Rounds, CPUs: runtime.GOMAXPROCS(0),
	}

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return res, fmt.Errorf("bench: ingest: %w", err)
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-ingest-")
	if err != nil {
		return res, fmt.Errorf("bench: ingest: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench: ingest: remove %s: %w", dir, rerr)
		}
	}()

	topics := ingest.Topics{RFID: ingest.DefaultRFIDTopic, DLQ: ingest.DefaultDLQTopic}
	kafkaDir := filepath.Join(dir, "kafka")
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// In-memory mode costs 1.5-2.2x the stored bytes and grows under
		// read load (KAFKA.md).
		kfake.DataDir(kafkaDir),
		kfake.SeedTopics(int32(cfg.Partitions), topics.RFID, topics.DLQ),
	)
	if err != nil {
		return res, fmt.Errorf("bench: ingest: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	expected, err := produce(ctx, cfg, brokers, topics.RFID, &res)
	if err != nil {
		return res, err
	}
	if res.BrokerDiskBytes, err = dirSize(kafkaDir); err != nil {
		return res, fmt.Errorf("bench: ingest: %w", err)
	}
	log.Info("bench ingest: produced", "records", cfg.Records, "bytes", res.ProducedBytes,
		"broker_disk_bytes", res.BrokerDiskBytes, "seconds", res.ProduceSeconds)

	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "porttrack"} // as ingest's
	for round := range cfg.Rounds {
		var r IngestRound
		runtime.GC()
		n, d, err := fetchAll(ctx, dialer, brokers[0], topics.RFID, cfg.Partitions)
		if err != nil {
			return res, fmt.Errorf("bench: ingest: ceiling, round %d: %w", round+1, err)
		}
		if n != int64(cfg.Records) {
			return res, fmt.Errorf("bench: ingest: ceiling, round %d: read %d records, produced %d", round+1, n, cfg.Records)
		}
		res.CeilingRecords = n
		r.CeilingSeconds, r.CeilingRate = d.Seconds(), float64(n)/d.Seconds()
		log.Info("bench ingest: ceiling", "round", round+1, "records", n, "seconds", r.CeilingSeconds, "rate", r.CeilingRate)

		runtime.GC()
		er, err := runEngine(ctx, cfg, brokers, topics, filepath.Join(dir, "state-"+strconv.Itoa(round+1)), expected, nil)
		if err != nil {
			return res, fmt.Errorf("bench: ingest: engine, round %d: %w", round+1, err)
		}
		res.EngineRecords = er.stored
		r.EngineSeconds, r.EngineRate = er.d.Seconds(), float64(er.stored)/er.d.Seconds()
		r.EngineBatches, r.StateDiskBytes = er.batches, er.diskBytes
		r.Ratio = r.EngineRate / r.CeilingRate
		log.Info("bench ingest: engine", "round", round+1, "events", er.stored, "seconds", r.EngineSeconds,
			"rate", r.EngineRate, "ratio", r.Ratio, "batches", er.batches)
		res.PerRound = append(res.PerRound, r)
	}

	rounds := res.PerRound
	res.CeilingSeconds = median(rounds, func(r IngestRound) float64 { return r.CeilingSeconds })
	res.CeilingRate = median(rounds, func(r IngestRound) float64 { return r.CeilingRate })
	res.EngineSeconds = median(rounds, func(r IngestRound) float64 { return r.EngineSeconds })
	res.EngineRate = median(rounds, func(r IngestRound) float64 { return r.EngineRate })
	res.EngineBatches = uint64(median(rounds, func(r IngestRound) float64 { return float64(r.EngineBatches) }))
	res.Ratio = median(rounds, func(r IngestRound) float64 { return r.Ratio })
	res.StateDiskBytes = uint64(median(rounds, func(r IngestRound) float64 { return float64(r.StateDiskBytes) }))
	res.StateBytesPerRecord = float64(res.StateDiskBytes) / float64(res.EngineRecords)
	return res, nil
}

// produce generates cfg.Records records and writes them to topic. It returns
// the number of events the engine must store: the generator's good records
// (Bad and Duplicates are zero here, but the expectation follows the
// generator's own count).
func produce(ctx context.Context, cfg IngestConfig, brokers []string, topic string, res *IngestResult) (int64, error) {
	g := sim.NewGenerator(sim.Config{
		Containers: cfg.Containers,
		Seed:       cfg.Seed,
		Start:      time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), // same records for the same config
	})
	recs := g.Next(make([]sim.Record, 0, cfg.Records), cfg.Records)
	st := g.Stats()
	if st.Produced != int64(cfg.Records) {
		return 0, fmt.Errorf("bench: ingest: generator made %d records, want %d", st.Produced, cfg.Records)
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value}
		res.ProducedBytes += int64(len(r.Key) + len(r.Value))
	}
	recs = nil

	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,     // KAFKA.md pitfall 1
		BatchTimeout:           2 * time.Millisecond, // KAFKA.md pitfall 2
		BatchSize:              produceBatchSize,
		BatchBytes:             produceBatchBytes,
		Compression:            codecs[cfg.Codec],
		AllowAutoTopicCreation: false,
	}
	start := time.Now()
	// One goroutine with large calls: the writer fills every partition's
	// batches in parallel, and records of a container keep their order.
	for lo := 0; lo < len(msgs); lo += produceChunk {
		hi := min(lo+produceChunk, len(msgs))
		if err := w.WriteMessages(ctx, msgs[lo:hi]...); err != nil {
			w.Close()
			return 0, fmt.Errorf("bench: ingest: produce records %d-%d: %w", lo, hi, err)
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("bench: ingest: close writer: %w", err)
	}
	res.ProduceSeconds = time.Since(start).Seconds()
	return st.Produced - st.Bad - st.Duplicates, nil
}

// fetchAll reads every partition of topic from its first offset to its end,
// one goroutine and connection per partition, the way ingest's partition
// consumers do (LookupLeader, then ingest/fetch: read_committed Fetch
// requests and the streaming batch decoder, with ingest's default limits),
// and counts the records.
func fetchAll(ctx context.Context, dialer *kafka.Dialer, broker, topic string, partitions int) (int64, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	counts := make([]int64, partitions)
	errs := make([]error, partitions)
	var wg sync.WaitGroup
	for p := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[p], errs[p] = fetchPartition(ctx, dialer, broker, topic, p)
			if errs[p] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	var total int64
	for p := range partitions {
		if errs[p] != nil {
			return 0, d, fmt.Errorf("partition %d: %w", p, errs[p])
		}
		total += counts[p]
	}
	return total, d, nil
}

func fetchPartition(ctx context.Context, dialer *kafka.Dialer, broker, topic string, partition int) (int64, error) {
	conn, err := dialFetch(ctx, dialer, broker, topic, partition, engineFetch()) // ingest.Engine's fetch settings
	if err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	defer conn.Release()
	first, last, err := conn.Offsets(ctx)
	if err != nil {
		return 0, fmt.Errorf("read offsets: %w", err)
	}
	var n int64
	count := func(*fetch.Record) error { n++; return nil }
	for next := first; next < last; {
		res, err := conn.Fetch(ctx, next, count)
		if err != nil {
			return n, fmt.Errorf("fetch at %d: %w", next, err)
		}
		next = res.Next
	}
	return n, nil
}

type engineRun struct {
	d         time.Duration
	stored    int64
	batches   uint64
	diskBytes uint64
}

// runEngine ingests the topic into a fresh store in dir and times it from
// Run until every record is consumed and applied and the engine is Ready.
func runEngine(ctx context.Context, cfg IngestConfig, brokers []string, topics ingest.Topics, dir string, expected int64, before func(*portstate.State) (stop func(), err error)) (er engineRun, err error) {
	quiet := slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})
	store, err := portstate.Open(state.Options{Dir: dir, NoSync: cfg.NoSync, Logger: quiet})
	if err != nil {
		return er, err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	e, err := ingest.New(ingest.Config{
		Brokers:       brokers,
		GroupID:       "", // static assignment: no group join time in the figure
		Topics:        topics,
		FetchMaxBytes: fetchMaxBytes,
		FetchMaxWait:  fetchMaxWait,
		Deadlines:     store.Customs,
		Logger:        quiet,
	}, store.Store)
	if err != nil {
		return er, err
	}
	if before != nil {
		// Beside the engine (the stream scenario's clients), stopped before
		// the store closes.
		stop, err := before(store)
		if err != nil {
			return er, err
		}
		defer stop()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.Run(ctx); close(done) }() // a second receive gets nil

	records := uint64(cfg.Records)
	er.d, err = waitIngested(ctx, e, records, start, done)
	if err != nil {
		cancel()
		if rerr := <-done; rerr != nil {
			err = fmt.Errorf("%w (engine: %v)", err, rerr)
		}
		return er, err
	}
	st := e.Stats()
	sm := store.Metrics()
	cancel()
	if err := <-done; err != nil {
		return er, fmt.Errorf("engine: %w", err)
	}
	dead := e.DeadLettered()
	switch {
	case st.Consumed != records:
		return er, fmt.Errorf("consumed %d records, produced %d", st.Consumed, records)
	case int64(st.Stored) != expected || st.Duplicates != 0 || len(dead) != 0:
		return er, fmt.Errorf("stored %d events, want %d (duplicates %d, dead-lettered %v)", st.Stored, expected, st.Duplicates, dead)
	}
	er.stored, er.batches, er.diskBytes = int64(st.Stored), st.Batches, sm.DiskBytes
	return er, nil
}

// waitIngested polls e every 5 ms until it consumed every record and is
// Ready, and returns the time since start. Ready is set after the batch that
// reaches the start high-water mark was applied, so with Consumed it means
// every record is in the store.
func waitIngested(ctx context.Context, e *ingest.Engine, records uint64, start time.Time, done <-chan error) (time.Duration, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var last uint64
	lastChange := start
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-done:
			return 0, fmt.Errorf("engine stopped early: %v", err)
		case now := <-tick.C:
			c := e.Stats().Consumed
			if c >= records && e.Ready() {
				return now.Sub(start), nil
			}
			if c != last {
				last, lastChange = c, now
			} else if now.Sub(lastChange) > stallTimeout {
				return 0, fmt.Errorf("no progress for %s: consumed %d of %d records, ready %v", stallTimeout, c, records, e.Ready())
			}
		}
	}
}

// minLevel drops records below a level: the engine logs each partition
// catching up at Info, which is noise in a benchmark.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// median returns the median of f over rs (the mean of the middle two for an
// even count).
func median[T any](rs []T, f func(T) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
