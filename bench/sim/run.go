package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Stats counts produced records; Bad and Duplicates are included in Produced.
type Stats struct {
	Produced, Bad, Duplicates int64
}

const (
	maxBatch = 500                   // records per WriteMessages call
	pacing   = 10 * time.Millisecond // with Rate > 0, a batch holds about this much traffic
)

// Run produces cfg's traffic into cfg.Topic until cfg.Total records are
// written or ctx is done; both end with a nil error. It returns the records
// acknowledged by the brokers (RequireAll); a batch cut short by ctx is not
// counted, although some of it may have been written.
func Run(ctx context.Context, cfg Config) (st Stats, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	g := NewGenerator(cfg)
	start := time.Now()
	cfg.Logger.Info("sim: producing", "brokers", cfg.Brokers, "topic", cfg.Topic, "rate", cfg.Rate,
		"total", cfg.Total, "containers", cfg.Containers, "seed", cfg.Seed)
	defer func() {
		cfg.Logger.Info("sim: stopped", "produced", st.Produced, "bad", st.Bad,
			"duplicates", st.Duplicates, "elapsed", time.Since(start), "error", err)
	}()
	return produce(ctx, producer{
		brokers: cfg.Brokers, topic: cfg.Topic, rate: cfg.Rate, total: cfg.Total,
		next: g.Next, stats: g.Stats,
		paced: func() int64 { return g.Stats().Produced },
	})
}

// producer is one generator's stream into Kafka.
type producer struct {
	brokers []string
	topic   string
	rate    float64 // paced units per second; <= 0: as fast as possible
	total   int64   // records; 0: until ctx is done
	next    func(dst []Record, n int) []Record
	stats   func() Stats
	paced   func() int64 // units produced so far (records or sentences)
}

// produce writes p's records in batches until p.total records are written
// or ctx is done; both end with a nil error. It returns the records the
// brokers acknowledged (RequireAll); a batch cut short by ctx is not
// counted, although some of it may have been written.
func produce(ctx context.Context, p producer) (st Stats, err error) {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(p.brokers...),
		Topic:                  p.topic,
		Balancer:               &kafka.Murmur2Balancer{}, // the Java client's partitioner
		RequiredAcks:           kafka.RequireAll,         // the default (none) loses writes silently
		BatchTimeout:           2 * time.Millisecond,     // the default 1 s delays every write
		BatchSize:              1000,
		Compression:            kafka.Lz4,
		AllowAutoTopicCreation: false,
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sim: close writer: %w", cerr)
		}
	}()
	start := time.Now()
	batch := maxBatch
	if p.rate > 0 {
		batch = int(min(max(p.rate*pacing.Seconds(), 1), maxBatch))
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		recs []Record
		msgs = make([]kafka.Message, 0, batch)
	)
	for p.total == 0 || st.Produced < p.total {
		if p.rate > 0 {
			// The batch is due when its first unit is: no drift, and a
			// late batch goes out at once.
			due := start.Add(time.Duration(float64(p.paced()) / p.rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return st, nil
				case <-timer.C:
				}
			}
		}
		if ctx.Err() != nil {
			return st, nil
		}
		n := batch
		if p.total > 0 {
			n = int(min(int64(n), p.total-st.Produced))
		}
		recs = p.next(recs[:0], n)
		msgs = msgs[:0]
		for _, r := range recs {
			// A record's time is its simulated time when the generator
			// sets one (zero: the writer stamps it).
			msgs = append(msgs, kafka.Message{Key: r.Key, Value: r.Value, Time: r.Time})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return st, nil
			}
			return st, fmt.Errorf("sim: write %d records to %s: %w", len(msgs), p.topic, err)
		}
		st = p.stats()
	}
	return st, nil
}
