package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

const (
	crashTopic      = "port.rfid"
	crashPartitions = 6
)

// TestCrashRecoveryExactlyOnce kills `porttrack serve` with SIGKILL in the
// middle of ingest again and again, restarts it on the same data directory,
// and checks that the final state holds the effect of every record exactly
// once: no event lost, none stored twice, current state as if nothing had
// crashed, and the stored offsets at the end of the log. The state left by
// each crash is checked too: it must be exactly the effect of the records
// below the offsets stored with it.
func TestCrashRecoveryExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and restarts it several times")
	}
	const (
		seed        = 20260101
		containers  = 500
		firstStage  = 5000 // records before the first start
		stage       = 3000 // records added before every later start
		minKills    = 5    // kills that must land mid-ingest
		minProgress = 2    // of them after committing batches in their run
		maxLives    = 10   // bound on killed runs
	)
	start := time.Now()
	bin := buildPorttrack(t)
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))

	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(crashPartitions, crashTopic, "porttrack.dlq"),
		kfake.GroupMinSessionTimeout(500*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	w := &kafka.Writer{
		Addr:                   kafka.TCP(broker),
		Topic:                  crashTopic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll, // KAFKA.md pitfall 1
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              500,
		AllowAutoTopicCreation: false,
	}
	defer w.Close()

	gen := sim.NewGenerator(sim.Config{
		Containers: containers,
		Seed:       seed,
		BadRate:    0,
		DupRate:    0.05,
		Start:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	dec, err := rfid.NewDecoder(rfid.Config{Readers: rfid.DefaultReaders()})
	if err != nil {
		t.Fatal(err)
	}
	want := newExpectation()
	var recs []sim.Record
	produce := func(n int) {
		t.Helper()
		recs = gen.Next(recs[:0], n)
		msgs := make([]kafka.Message, 0, len(recs))
		for _, r := range recs {
			want.add(t, dec, r.Value)
			msgs = append(msgs, kafka.Message{Key: r.Key, Value: r.Value})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for len(msgs) > 0 {
			k := min(len(msgs), 1000)
			if err := w.WriteMessages(ctx, msgs[:k]...); err != nil {
				t.Fatalf("producing: %v", err)
			}
			msgs = msgs[k:]
		}
	}

	dataDir := t.TempDir()
	stateDir := filepath.Join(dataDir, "state")
	snapRoot := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 1))

	type crash struct {
		life             int
		backlog, target  int64
		metric           string
		consumed         float64
		applied, logEnd  int64 // sum of stored offsets after the kill; of the log ends
		offsets          map[int32]int64
		snapDir          string
		sinceStart       time.Duration
		ingestRunningFor time.Duration
	}
	var crashes []crash
	var applied int64
	produce(firstStage)
	for life := 1; ; life++ {
		// A kill is mid-ingest when records were left unapplied; one with
		// progress also committed batches in its run, so its crash state
		// differs from the previous one.
		mid, progress := 0, 0
		prev := int64(0)
		for _, c := range crashes {
			if c.applied < c.logEnd {
				mid++
				if c.applied > prev {
					progress++
				}
			}
			prev = c.applied
		}
		if mid >= minKills && progress >= minProgress {
			break
		}
		if life > maxLives {
			t.Fatalf("after %d kills only %d landed mid-ingest (want %d), %d of them after committed progress (want %d)",
				len(crashes), mid, minKills, progress, minProgress)
		}
		if life > 1 {
			produce(stage)
		}
		logEnd := sumOffsets(endOffsets(t, broker))
		backlog := logEnd - applied
		// Kill either after a random number of committed state batches of
		// this run (between commits), or after a random number of consumed
		// records (while the first batches are decoded and applied).
		metric, target := "porttrack_ingest_batches_total", 1+rng.Int64N(5)
		if rng.IntN(3) == 0 {
			metric, target = "porttrack_ingest_records_consumed_total", 1+rng.Int64N(max(1, backlog*6/10))
		}

		c := startServe(t, bin, broker, dataDir)
		started := time.Now()
		var consumed, reached float64
		var firstConsumed time.Time
		waitForEvery(t, 45*time.Second, time.Millisecond, func() (bool, string) {
			c.checkRunning(t)
			m, err := scrape(c.base + "/metrics")
			if err != nil {
				return false, err.Error()
			}
			consumed, reached = m["porttrack_ingest_records_consumed_total"], m[metric]
			if consumed > 0 && firstConsumed.IsZero() {
				firstConsumed = time.Now()
			}
			return reached >= float64(target), fmt.Sprintf("life %d: %s = %v, kill target %d", life, metric, reached, target)
		})
		killedAt := time.Now()
		c.kill(t)

		snap := filepath.Join(snapRoot, fmt.Sprintf("life%02d", life))
		if err := os.CopyFS(snap, os.DirFS(stateDir)); err != nil {
			t.Fatalf("copying the crashed state: %v", err)
		}
		offs := storedOffsets(t, snap)
		now := sumOffsets(offs)
		if now < applied {
			t.Errorf("life %d: stored offsets went back from %d to %d records", life, applied, now)
		}
		cr := crash{life: life, backlog: backlog, target: target, metric: metric, consumed: consumed, applied: now, logEnd: logEnd,
			offsets: offs, snapDir: snap, sinceStart: killedAt.Sub(started)}
		if !firstConsumed.IsZero() {
			cr.ingestRunningFor = killedAt.Sub(firstConsumed)
		}
		crashes = append(crashes, cr)
		t.Logf("life %d: SIGKILL %s after start, %s into ingest, at %s=%v (target %d), consumed=%v of a backlog of %d; stored offsets %d -> %d of %d in the log; mid-ingest: %v",
			life, cr.sinceStart.Round(time.Millisecond), cr.ingestRunningFor.Round(time.Millisecond),
			strings.TrimPrefix(metric, "porttrack_ingest_"), reached, target, consumed, backlog, applied, now, logEnd, now < logEnd)
		applied = now
	}

	// The last run: catch up, report lag 0 everywhere, stop on SIGTERM.
	produce(stage)
	ends := endOffsets(t, broker)
	total := sumOffsets(ends)
	c := startServe(t, bin, broker, dataDir)
	waitFor(t, 45*time.Second, func() (bool, string) {
		c.checkRunning(t)
		code, body, err := httpGet(c.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("/readyz: %d %s", code, body)
	})
	var final map[string]float64
	waitFor(t, 30*time.Second, func() (bool, string) {
		c.checkRunning(t)
		m, err := scrape(c.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		lag := series(m, "porttrack_ingest_partition_lag", `topic="`+crashTopic+`"`)
		if len(lag) != crashPartitions {
			return false, fmt.Sprintf("lag reported for %d partitions, want %d: %v", len(lag), crashPartitions, lag)
		}
		for _, v := range lag {
			if v != 0 {
				return false, fmt.Sprintf("lag %v", lag)
			}
		}
		final = m
		return true, ""
	})
	for p, end := range ends {
		k := fmt.Sprintf(`porttrack_ingest_partition_offset{topic=%q,partition="%d"}`, crashTopic, p)
		if got, ok := final[k]; !ok || int64(got) != end {
			t.Errorf("%s = %v, want the log end %d", k, got, end)
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t, 20*time.Second); err != nil {
		t.Errorf("porttrack serve after SIGTERM: %v, want exit code 0\nstderr:\n%s", err, tail(c.stderr.String(), 40))
	}

	kills := make([]string, 0, len(crashes))
	for _, cr := range crashes {
		kills = append(kills, fmt.Sprintf("%v", cr.consumed))
	}
	t.Logf("%d kills at consumed counts [%s]; %d records in the log, %d distinct events over %d containers (%d duplicate re-sends); final run: stored %v, duplicates %v, partition restarts %v",
		len(crashes), strings.Join(kills, " "), total, want.total, len(want.ids), gen.Stats().Duplicates,
		final["porttrack_ingest_events_stored_total"], final["porttrack_ingest_events_duplicate_total"],
		final["porttrack_ingest_partition_errors_total"])
	if gen.Stats().Duplicates == 0 || int64(want.total) >= total {
		t.Fatalf("the stream has no redeliveries (%d duplicates, %d distinct events in %d records): the test proves nothing about dedupe",
			gen.Stats().Duplicates, want.total, total)
	}

	// The final state, read directly: every expected event exactly once.
	fleet := sim.ContainerNumbers(seed, containers)
	st, err := portstate.Open(state.Options{Dir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	verifyStore(t, "final", st, fleet, want)
	for p, end := range ends {
		next, ok, err := st.NextOffset(crashTopic, p)
		if err != nil || !ok || next != end {
			t.Errorf("final: stored next offset of partition %d = %d (ok %v, err %v), want the log end %d", p, next, ok, err, end)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Every crash left exactly the effect of the records below its stored
	// offsets: offsets and state were committed together.
	log := readLog(t, broker, ends)
	full := newExpectation()
	for p := range log {
		for _, v := range log[p] {
			full.add(t, dec, v)
		}
	}
	if full.total != want.total || len(full.ids) != len(want.ids) {
		t.Errorf("the log holds %d distinct events over %d containers, the generator made %d over %d",
			full.total, len(full.ids), want.total, len(want.ids))
	}
	for _, cr := range crashes {
		x := newExpectation()
		for p, next := range cr.offsets {
			for _, v := range log[p][:next] {
				x.add(t, dec, v)
			}
		}
		st, err := portstate.Open(state.Options{Dir: cr.snapDir})
		if err != nil {
			t.Fatalf("opening the state left by kill %d: %v", cr.life, err)
		}
		verifyStore(t, fmt.Sprintf("after kill %d", cr.life), st, fleet, x)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// buildPorttrack builds this package's binary into a temporary directory,
// with -race when the test binary has it (the race-built dependencies are
// then in the build cache, and a race in the child fails its exit code).
func buildPorttrack(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "porttrack")
	args := []string{"build", "-o", bin}
	if raceBuild() {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return bin
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// serveProc is one `porttrack serve` child process.
type serveProc struct {
	cmd    *exec.Cmd
	base   string // http://host:port
	stderr *syncBuffer
	done   chan struct{}
	err    error // of Wait, valid after done is closed
}

func startServe(t *testing.T, bin, broker, dataDir string, extra ...string) *serveProc {
	t.Helper()
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve",
		"--brokers", broker,
		"--group", "crash-test",
		"--data-dir", dataDir,
		"--http-addr", httpAddr,
		"--session-timeout", "1s",
		"--heartbeat-interval", "200ms",
		"--log-level", "warn",
	}, extra...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTTRACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &serveProc{cmd: cmd, base: "http://" + httpAddr, stderr: new(syncBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if out := p.stderr.String(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("porttrack serve (pid %d) reported a data race:\n%s", cmd.Process.Pid, out)
		}
	})
	return p
}

// checkRunning fails the test if the process has exited.
func (p *serveProc) checkRunning(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("porttrack serve exited early: %v\n%s", p.err, tail(p.stderr.String(), 40))
	default:
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	p.checkRunning(t)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := p.wait(t, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("porttrack serve did not die of SIGKILL: %v", err)
	}
}

// wait waits for the process to exit and returns Wait's error.
func (p *serveProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("porttrack serve did not exit within %s", timeout)
		return nil
	}
}

// endOffsets returns the log end offset of every partition of crashTopic.
func endOffsets(t *testing.T, broker string) map[int32]int64 {
	t.Helper()
	out := make(map[int32]int64, crashPartitions)
	for p := range int32(crashPartitions) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := kafka.DialLeader(ctx, "tcp", broker, crashTopic, int(p))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		end, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[p] = end
	}
	return out
}

func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// storedOffsets opens the state in dir and returns its next offset of every
// partition (0 where none is stored).
func storedOffsets(t *testing.T, dir string) map[int32]int64 {
	t.Helper()
	st, err := portstate.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatalf("opening the crashed state: %v", err)
	}
	defer st.Close()
	out := make(map[int32]int64, crashPartitions)
	for p := range int32(crashPartitions) {
		next, _, err := st.NextOffset(crashTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = next
	}
	return out
}

// readLog reads every partition of crashTopic up to ends and returns the
// record values by partition, index = offset.
func readLog(t *testing.T, broker string, ends map[int32]int64) map[int32][][]byte {
	t.Helper()
	out := make(map[int32][][]byte, len(ends))
	for p, end := range ends {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := kafka.DialLeader(ctx, "tcp", broker, crashTopic, int(p))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Seek(0, kafka.SeekAbsolute); err != nil {
			t.Fatal(err)
		}
		vals := make([][]byte, 0, end)
		for int64(len(vals)) < end {
			if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			b := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				if m.Offset != int64(len(vals)) {
					t.Fatalf("partition %d: offset %d after %d records: the log is not dense", p, m.Offset, len(vals))
				}
				vals = append(vals, m.Value)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("reading partition %d at %d: %v", p, len(vals), err)
			}
		}
		conn.Close()
		out[p] = vals[:end]
	}
	return out
}

// expectation is the state a set of records must produce: the distinct
// events (by id) of every container and its newest one by (time, id).
type expectation struct {
	ids   map[string]map[string]bool // container -> event ids
	last  map[string]state.Event
	owner map[string]string // event id -> container
	total int
	evs   []state.Event // decode scratch
}

func newExpectation() *expectation {
	return &expectation{ids: map[string]map[string]bool{}, last: map[string]state.Event{}, owner: map[string]string{}}
}

func (x *expectation) add(t *testing.T, dec *rfid.Decoder, value []byte) {
	t.Helper()
	var err error
	x.evs, err = dec.Decode(x.evs[:0], value)
	if err != nil {
		t.Fatalf("decoding a generated record (BadRate is 0): %v\n%s", err, value)
	}
	for _, e := range x.evs {
		if c, dup := x.owner[e.ID]; dup {
			if c != e.Container {
				t.Fatalf("event id %s names containers %s and %s", e.ID, c, e.Container)
			}
			continue
		}
		x.owner[e.ID] = e.Container
		if x.ids[e.Container] == nil {
			x.ids[e.Container] = map[string]bool{}
		}
		x.ids[e.Container][e.ID] = true
		x.total++
		if l, ok := x.last[e.Container]; !ok || e.Time > l.Time || (e.Time == l.Time && e.ID > l.ID) {
			x.last[e.Container] = e
		}
	}
}

// verifyStore checks st against x for every container of the fleet.
func verifyStore(t *testing.T, label string, st *portstate.State, fleet []string, x *expectation) {
	t.Helper()
	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 20 {
			t.Errorf(label+": "+format, args...)
		}
	}
	stored := 0
	for _, id := range fleet {
		want := x.ids[id]
		var got []string
		q := state.HistoryQuery{Limit: 1000}
		for {
			cur, err := st.History(id, q, func(e *state.StoredEvent) error {
				if e.Container != id {
					return fmt.Errorf("event %s of %s in the history of %s", e.ID, e.Container, id)
				}
				got = append(got, e.ID)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: history of %s: %v", label, id, err)
			}
			if cur == "" {
				break
			}
			q.Cursor = cur
		}
		stored += len(got)
		slices.Sort(got)
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				fail("%s: event %s stored twice", id, got[i])
			}
		}
		wantIDs := make([]string, 0, len(want))
		for e := range want {
			wantIDs = append(wantIDs, e)
		}
		slices.Sort(wantIDs)
		if !slices.Equal(slices.Compact(slices.Clone(got)), wantIDs) {
			fail("%s: history has %d events, want %d (%s)", id, len(got), len(wantIDs), diffIDs(got, wantIDs))
		}
		c, err := st.Container(id)
		if len(want) == 0 {
			if !errors.Is(err, state.ErrNotFound) {
				fail("%s: Container = %+v, %v; want ErrNotFound (no events)", id, c, err)
			}
			continue
		}
		if err != nil {
			fail("%s: Container: %v", id, err)
			continue
		}
		if c.Count != uint64(len(want)) {
			fail("%s: Count = %d, want %d", id, c.Count, len(want))
		}
		if l := x.last[id]; c.Last.ID != l.ID || c.Last.Time != l.Time || c.Last.Code != l.Code {
			fail("%s: Last = %s %s @%d, want %s %s @%d", id, c.Last.ID, c.Last.Code, c.Last.Time, l.ID, l.Code, l.Time)
		}
	}
	if stored != x.total {
		fail("%d events in the history, want %d distinct events", stored, x.total)
	}
	if errs > 20 {
		t.Errorf("%s: ... and %d more mismatches", label, errs-20)
	}
}

// diffIDs describes how got and want (both sorted) differ.
func diffIDs(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("missing %d %q, unexpected %d %q", len(missing), missing[:min(3, len(missing))], len(extra), extra[:min(3, len(extra))])
}
