package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest"
)

// updateCases runs the radius case again, closed and open loop, while
// truck.position records flow at cfg.UpdateRate from the feed child's
// broker through an ingest.Engine into the same store.
func (r *geoRun) updateCases(ctx context.Context, dir string, quiet *slog.Logger) (err error) {
	up, err := startUpdates(ctx, r, dir, quiet)
	if err != nil {
		return err
	}
	defer func() {
		if serr := up.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	u := &GeoUpdates{TargetRate: r.cfg.UpdateRate, FeedNice: r.cfg.FeedNice}
	r.res.Updates = u
	// Warm-up: the engine is caught up and in its steady state before the
	// window opens,
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-up.failed:
		return err
	case <-time.After(max(r.warmup, min(r.cfg.Duration, time.Second))):
	}
	// and has applied what the feed produced: a loaded machine may hold
	// the feed (at a lower priority) back longer than the warm-up.
	if err := up.steady(ctx, 30*time.Second); err != nil {
		return err
	}
	var w GeoUpdateWindow
	var c0 uint64
	var p0 int64
	var cpu0, feed0 time.Duration
	var t0 time.Time
	var werr error
	started := func() {
		var err error
		if p0, err = up.feed.produced(); err != nil {
			werr = err
		}
		if feed0, err = up.feed.cpu(); err != nil {
			werr = err
		}
		t0, cpu0 = time.Now(), processCPU()
		c0 = up.engine.Stats().Consumed
	}
	stopped := func() {
		d := time.Since(t0).Seconds()
		c1, cpu1 := up.engine.Stats().Consumed, processCPU()
		p1, err := up.feed.produced()
		if err != nil {
			werr = err
		}
		feed1, err := up.feed.cpu()
		if err != nil {
			werr = err
		}
		w.Seconds = d
		w.Consumed = float64(c1-c0) / d
		w.Produced = float64(p1-p0) / d
		w.ProcessCPUCores = (cpu1 - cpu0).Seconds() / d
		w.FeedCPUCores = (feed1 - feed0).Seconds() / d
		u.Backlog = p1 - int64(c1)
	}
	if r.cfg.runs("radius_updates") {
		label := fmt.Sprintf("(f) radius + %.0f updates/s", r.cfg.UpdateRate)
		c, err := r.measure("radius_updates", label, r.job(kindRadius, r.queryAddr, 0), nil, started, stopped)
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		r.res.Cases = append(r.res.Cases, c)
		r.closedRadius = append(r.closedRadius, len(r.res.Cases)-1)
		w.Case = c.Name
		u.Windows = append(u.Windows, w)
	}
	if r.cfg.runs("radius_updates_open") {
		rate := r.openRate()
		if f := r.res.find("radius_updates"); f != nil && r.cfg.Rate == 0 {
			// Below saturation with updates: half of what (f) reached.
			rate = math.Round(f.Rate / 2)
		}
		label := fmt.Sprintf("(g) radius + updates, open loop at %.0f/s", rate)
		c, err := r.measure("radius_updates_open", label, r.job(kindRadius, r.queryAddr, rate), nil, started, stopped)
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		r.res.Cases = append(r.res.Cases, c)
		w.Case = c.Name
		u.Windows = append(u.Windows, w)
	}
	for _, n := range up.engine.DeadLettered() {
		u.DeadLettered += n
	}
	if u.DeadLettered > 0 {
		return fmt.Errorf("update cases: %d records dead-lettered: %v", u.DeadLettered, up.engine.DeadLettered())
	}
	for _, w := range u.Windows {
		r.log.Info("bench geo: updates", "case", w.Case, "produced_per_sec", w.Produced, "consumed_per_sec", w.Consumed,
			"process_cpu_cores", w.ProcessCPUCores, "feed_cpu_cores", w.FeedCPUCores)
	}
	return ctx.Err()
}

// updatePhase is the feed child (broker and producer) and the engine of
// the update cases.
type updatePhase struct {
	feed   *feedProc
	engine *ingest.Engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error // the engine stopped early
	errs   []error
	mu     sync.Mutex
}

func startUpdates(ctx context.Context, r *geoRun, dir string, quiet *slog.Logger) (*updatePhase, error) {
	feed, err := startFeed(r, filepath.Join(dir, "kafka"))
	if err != nil {
		return nil, fmt.Errorf("start the feed: %w", err)
	}
	e, err := ingest.New(ingest.Config{Brokers: feed.brokers, GroupID: "", Topics: feedTopics, Deadlines: r.store.Customs, Logger: quiet}, r.store.Store)
	if err != nil {
		feed.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	up := &updatePhase{feed: feed, engine: e, cancel: cancel, failed: make(chan error, 1)}
	up.wg.Add(1)
	go func() {
		defer up.wg.Done()
		var err error
		if err = e.Run(ctx); err == nil && ctx.Err() == nil {
			err = errors.New("stopped early")
		}
		if err != nil {
			err = fmt.Errorf("engine: %w", err)
			up.mu.Lock()
			up.errs = append(up.errs, err)
			up.mu.Unlock()
			up.failed <- err
		}
	}()
	// The producer starts once the engine has its partitions and is caught
	// up (on empty topics), so the window sees steady state.
	deadline := time.Now().Add(30 * time.Second)
	for !e.Ready() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			up.stop()
			return nil, errors.New("engine not ready after 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := feed.produce(); err != nil {
		up.stop()
		return nil, err
	}
	return up, nil
}

// steady waits until the broker has acknowledged records and the engine
// has consumed some of them, or fails after max.
func (up *updatePhase) steady(ctx context.Context, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		p, err := up.feed.produced()
		if err != nil {
			return err
		}
		if p > 0 && up.engine.Stats().Consumed > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("update feed not flowing after %s: %d records produced, %d consumed", max, p, up.engine.Stats().Consumed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-up.failed:
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (up *updatePhase) stop() error {
	up.cancel()
	up.wg.Wait()
	ferr := up.feed.close()
	up.mu.Lock()
	defer up.mu.Unlock()
	return errors.Join(append(up.errs, ferr)...)
}

// produceUpdates writes truck.position records at r.cfg.UpdateRate until
// ctx ends: random trucks, each moved up to ±50 m around its loaded
// position, with a newer time than any before, keyed by plate (a truck's
// records stay in order in one partition). Batches are due every 10 ms.
func produceUpdates(ctx context.Context, rate float64, seed uint64, lats, lons []float64, brokers []string, topic string, produced *atomic.Int64) error {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           time.Millisecond,
		BatchSize:              1000,
		Compression:            kafka.Lz4,
		AllowAutoTopicCreation: false,
	}
	defer w.Close()
	const pacing = 10 * time.Millisecond
	batch := int(max(rate*pacing.Seconds(), 1))
	rng := rand.New(rand.NewPCG(seed, streamUpdates))
	tms := geoStart.UnixMilli()
	msgs := make([]kafka.Message, batch)
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var sent int64
	for {
		due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		for k := range msgs {
			i := rng.IntN(len(lats))
			lat := min(max(lats[i]+(rng.Float64()-0.5)*0.0009, geoLatMin), geoLatMax)
			lon := min(max(lons[i]+(rng.Float64()-0.5)*0.001, geoLonMin), geoLonMax)
			tms++
			key := appendBenchPlate(msgs[k].Key[:0], i)
			v := append(msgs[k].Value[:0], `{"type":"truck.position","plate":"`...)
			v = append(v, key...)
			v = append(v, `","lat":`...)
			v = strconv.AppendFloat(v, lat, 'f', 6, 64)
			v = append(v, `,"lon":`...)
			v = strconv.AppendFloat(v, lon, 'f', 6, 64)
			v = append(v, `,"t":`...)
			v = strconv.AppendInt(v, tms, 10)
			v = append(v, `,"speed":`...)
			v = strconv.AppendFloat(v, float64(rng.IntN(600))/10, 'f', 1, 64)
			v = append(v, `,"heading":`...)
			v = strconv.AppendInt(v, int64(rng.IntN(360)), 10)
			v = append(v, '}')
			msgs[k] = kafka.Message{Key: key, Value: v}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		sent += int64(len(msgs))
		produced.Store(sent)
	}
}
