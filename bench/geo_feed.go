package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/ingest"
)

// The update cases' Kafka side runs in a child process of its own, the
// feed: the broker (kfake) and the producer of truck.position records. In
// production the brokers and the producers are other machines; in the
// bench they share its 2 cores, but not the serving process, whose CPU and
// scheduler then hold only what porttrack runs: ingest, state and queries.
// By default the feed runs at a lower CPU priority (nice 10), the nearest a
// single machine comes to "elsewhere"; GeoConfig.FeedNice 0 runs it at the
// bench's own priority.
//
// Protocol, JSON lines after the feed job (loadgen.go):
//
//	child  → parent  {"event":"ready","brokers":[…]}  topics created
//	parent → child   {"go":true}                      start producing
//	child  → parent  {"event":"producing"}
//	parent → child   {"stats":true}                   as often as needed
//	child  → parent  {"event":"stats","produced":N}   or {"event":"error",…}
//
// The child stops producing, closes the broker and exits when its stdin
// closes.

// feedTopics are the topics of the update cases' broker.
var feedTopics = ingest.Topics{RFID: ingest.DefaultRFIDTopic, AIS: "-", Transport: ingest.DefaultTransportTopic, DLQ: ingest.DefaultDLQTopic}

// runFeed is the feed child's side.
func runFeed(ctx context.Context, job *loadJob, dec *json.Decoder, enc *json.Encoder) error {
	fail := func(err error) error {
		if eerr := enc.Encode(loadMsg{Event: "error", Error: err.Error()}); eerr != nil {
			return eerr
		}
		return err
	}
	if job.Partitions < 1 || job.DataDir == "" || !(job.UpdateRate > 0) || job.Objects < 1 {
		return fail(fmt.Errorf("bad feed job: %d partitions, data dir %q, rate %v, %d objects", job.Partitions, job.DataDir, job.UpdateRate, job.Objects))
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(job.DataDir), // in-memory mode balloons (KAFKA.md)
		kfake.SeedTopics(int32(job.Partitions), feedTopics.Transport),
		kfake.SeedTopics(1, feedTopics.RFID, feedTopics.DLQ),
	)
	if err != nil {
		return fail(fmt.Errorf("start broker: %w", err))
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	if err := enc.Encode(loadMsg{Event: "ready", Brokers: brokers}); err != nil {
		return err
	}
	var g goMsg
	if err := dec.Decode(&g); err != nil {
		return nil // the parent gave up before producing
	}
	lats, lons := geoPositions(job.Seed, job.Objects)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var produced atomic.Int64
	var perr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := produceUpdates(ctx, job.UpdateRate, job.Seed, lats, lons, brokers, feedTopics.Transport, &produced); err != nil && ctx.Err() == nil {
			mu.Lock()
			perr = err
			mu.Unlock()
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	if err := enc.Encode(loadMsg{Event: "producing"}); err != nil {
		return err
	}
	for {
		if err := dec.Decode(&g); err != nil {
			return nil // stdin closed: done
		}
		mu.Lock()
		err := perr
		mu.Unlock()
		if err != nil {
			return fail(fmt.Errorf("producer: %w", err))
		}
		if err := enc.Encode(loadMsg{Event: "stats", Produced: produced.Load()}); err != nil {
			return err
		}
	}
}

// feedProc is the parent's handle on the feed child.
type feedProc struct {
	p       *loadGenProc
	brokers []string
	mu      sync.Mutex
}

// startFeed starts the feed child (at nice niceness when niceness > 0
// and nice(1) is installed) and its broker.
func startFeed(r *geoRun, dir string) (*feedProc, error) {
	argv := r.cfg.LoadGen
	if r.cfg.FeedNice > 0 {
		if nice, err := exec.LookPath("nice"); err == nil {
			argv = append([]string{nice, "-n", fmt.Sprint(r.cfg.FeedNice)}, argv...)
		} else {
			r.log.Warn("bench geo: nice(1) not found; the feed runs at the bench's priority")
		}
	}
	p, err := startLoadGen(argv)
	if err != nil {
		return nil, err
	}
	f := &feedProc{p: p}
	job := loadJob{Kind: kindFeed, DataDir: dir, Partitions: r.cfg.Partitions, UpdateRate: r.cfg.UpdateRate,
		Seed: r.cfg.Seed, Objects: r.cfg.Objects}
	m, err := f.call(job)
	if err == nil && (m.Event != "ready" || len(m.Brokers) == 0) {
		err = fmt.Errorf("feed: %s %s", m.Event, m.Error)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	f.brokers = m.Brokers
	return f, nil
}

// call sends v and reads the answer.
func (f *feedProc) call(v any) (loadMsg, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m loadMsg
	if err := f.p.enc.Encode(v); err != nil {
		return m, f.p.failed(err)
	}
	if err := f.p.dec.Decode(&m); err != nil {
		return m, f.p.failed(err)
	}
	if m.Event == "error" {
		return m, fmt.Errorf("feed: %s", m.Error)
	}
	return m, nil
}

func (f *feedProc) produce() error {
	m, err := f.call(goMsg{Go: true})
	if err == nil && m.Event != "producing" {
		err = fmt.Errorf("feed: %s %s", m.Event, m.Error)
	}
	return err
}

// produced is the number of records the broker acknowledged so far.
func (f *feedProc) produced() (int64, error) {
	m, err := f.call(goMsg{Stats: true})
	if err == nil && m.Event != "stats" {
		err = fmt.Errorf("feed: %s %s", m.Event, m.Error)
	}
	return m.Produced, err
}

// cpu is the feed child's CPU time.
func (f *feedProc) cpu() (time.Duration, error) { return procCPU(f.p.cmd.Process.Pid) }

func (f *feedProc) close() error {
	if f == nil {
		return nil
	}
	return f.p.close()
}
