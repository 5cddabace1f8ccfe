package sim

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/segmentio/kafka-go"
)

// DayProgress is RunDay's progress, reported through DayConfig.Progress.
type DayProgress struct {
	Elapsed time.Duration
	// SimTime is the production time of the latest record written.
	SimTime time.Time
	// Stats counts the records written and acknowledged.
	Stats DayStats
	// Rate is records/s over the last report interval, AvgRate over the run.
	Rate, AvgRate float64
	// ETA is the estimated wall time to the end; negative when unknown.
	ETA time.Duration
	// Done is set on the last report.
	Done bool
}

// RunDay produces the day of cfg into Kafka until the simulated time ends,
// cfg.Total records are written or ctx is done; the last two end with a nil
// error as well. The writer partitions with murmur2 over the record key, as
// Kafka's Java client does, so the topics are co-partitioned by container.
//
// Pacing: with Rate 0 a record is due when the simulated clock, running
// Speedup times the wall clock from Start, reaches its production time;
// with Rate > 0 records are due at Rate records/s, evenly (sustained) or
// Burst by Burst (burst mode); with Rate < 0 nothing waits.
func RunDay(ctx context.Context, cfg DayConfig) (st DayStats, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return DayStats{}, err
	}
	g := NewDayGenerator(cfg)
	cfg.Logger.Info("sim: producing the day model", "brokers", cfg.Brokers, "scale", cfg.Scale,
		"duration", cfg.Duration, "speedup", cfg.Speedup, "rate", cfg.Rate, "burst", cfg.Burst,
		"seed", cfg.Seed, "start", g.Start(), "plan", fmt.Sprintf("%+v", g.Plan()))
	w := &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Murmur2Balancer{}, // the Java client's partitioner
		RequiredAcks: kafka.RequireAll,         // the default (none) loses writes silently
		BatchTimeout: 2 * time.Millisecond,     // the default 1 s delays every write
		BatchSize:    1000,
		Compression:  kafka.Lz4,
	}
	start := time.Now()
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sim: close writer: %w", cerr)
		}
		cfg.Logger.Info("sim: stopped the day model", "produced", st.Produced, "malformed", st.Malformed,
			"duplicates", st.Duplicates, "late", st.Late, "elapsed", time.Since(start), "error", err)
	}()
	r := dayRunner{cfg: cfg, g: g, w: w, start: start, lastReport: start}
	err = r.run(ctx)
	r.report(true)
	return r.written, err
}

type dayRunner struct {
	cfg        DayConfig
	g          *DayGenerator
	w          *kafka.Writer
	start      time.Time
	written    DayStats
	lastReport time.Time
	lastCount  int64
	recs       []Record
	msgs       []kafka.Message
}

func (r *dayRunner) run(ctx context.Context) error {
	cfg, g := r.cfg, r.g
	simStart := g.Start()
	perBurst := int64(0)
	if cfg.Rate > 0 && cfg.Burst > 0 {
		perBurst = max(int64(cfg.Rate*cfg.Burst.Seconds()), 1)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		produced := r.written.Produced
		if cfg.Total > 0 && produced >= cfg.Total {
			return nil
		}
		next, ok := g.PeekTime()
		if !ok {
			return nil
		}
		// When is the next record due, and how many go in this batch?
		var due time.Time
		n := maxBatch
		switch {
		case cfg.Rate < 0:
		case cfg.Rate > 0 && perBurst > 0:
			due = r.start.Add(time.Duration(produced/perBurst) * cfg.Burst)
			n = int(min(int64(n), perBurst-produced%perBurst))
		case cfg.Rate > 0:
			due = r.start.Add(time.Duration(float64(produced) / cfg.Rate * float64(time.Second)))
			// A batch holds the pacing interval's records, or all that are
			// overdue when the writes fell behind.
			behind := time.Since(r.start).Seconds()*cfg.Rate - float64(produced)
			n = int(min(max(cfg.Rate*pacing.Seconds(), behind, 1), maxBatch))
		default:
			due = r.start.Add(time.Duration(float64(next.Sub(simStart)) / cfg.Speedup))
		}
		if cfg.Live && next.After(due) {
			due = next // never ahead of the wall clock
		}
		for d := time.Until(due); d > 0; d = time.Until(due) {
			timer.Reset(min(d, time.Second))
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-timer.C:
			}
			r.maybeReport()
		}
		if ctx.Err() != nil {
			return nil
		}
		if cfg.Total > 0 {
			n = int(min(int64(n), cfg.Total-produced))
		}
		r.recs = r.recs[:0]
		switch {
		case cfg.Rate == 0 || cfg.Live:
			// Everything due within the pacing interval goes in one batch;
			// live, nothing whose time is still to come.
			horizon := time.Unix(0, math.MaxInt64)
			if cfg.Rate == 0 {
				horizon = simStart.Add(time.Duration(float64(time.Since(r.start)+pacing) * cfg.Speedup))
			}
			if now := time.Now(); cfg.Live && horizon.After(now) {
				horizon = now
			}
			for len(r.recs) < n {
				t, ok := g.PeekTime()
				if !ok || (len(r.recs) > 0 && t.After(horizon)) {
					break
				}
				r.recs = g.Next(r.recs, 1)
			}
		default:
			r.recs = g.Next(r.recs, n)
		}
		r.msgs = r.msgs[:0]
		for _, rec := range r.recs {
			r.msgs = append(r.msgs, kafka.Message{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Time: rec.Time})
		}
		if len(r.msgs) == 0 {
			return nil
		}
		if cfg.JT808 != nil {
			var err error
			if r.msgs, err = cfg.JT808.Divert(ctx, r.msgs); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if len(r.msgs) == 0 {
			r.written = g.Stats()
			r.maybeReport()
			continue
		}
		if err := r.w.WriteMessages(ctx, r.msgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sim: write %d records: %w", len(r.msgs), err)
		}
		r.written = g.Stats()
		r.maybeReport()
	}
}

func (r *dayRunner) maybeReport() {
	if time.Since(r.lastReport) >= time.Second {
		r.report(false)
	}
}

func (r *dayRunner) report(done bool) {
	if r.cfg.Progress == nil {
		return
	}
	now := time.Now()
	el := now.Sub(r.start)
	p := DayProgress{Elapsed: el, SimTime: r.g.Now(), Stats: r.written, Done: done, ETA: -1}
	if dt := now.Sub(r.lastReport).Seconds(); dt > 0 {
		p.Rate = float64(r.written.Produced-r.lastCount) / dt
	}
	if el > 0 {
		p.AvgRate = float64(r.written.Produced) / el.Seconds()
	}
	simDone := p.SimTime.Sub(r.g.Start())
	simLeft := r.g.End().Sub(p.SimTime)
	switch {
	case done:
		p.ETA = 0
	case r.cfg.Total > 0 && p.AvgRate > 0:
		p.ETA = time.Duration(float64(r.cfg.Total-r.written.Produced) / p.AvgRate * float64(time.Second))
	case r.cfg.Rate == 0:
		p.ETA = time.Duration(float64(simLeft) / r.cfg.Speedup)
	case simDone > 0:
		p.ETA = time.Duration(float64(el) * float64(simLeft) / float64(simDone))
	}
	r.lastReport, r.lastCount = now, r.written.Produced
	r.cfg.Progress(p)
}
