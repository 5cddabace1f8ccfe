package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
)

// RecoveryConfig configures the recovery and memory scenarios, which share
// their runs: `porttrack serve` child processes on an in-process kfake
// broker, killed with SIGKILL as cmd/porttrack/e2e_crash_test.go does. The
// zero value of every field but Serve selects its default.
type RecoveryConfig struct {
	// Containers is the number of tracked containers, two events each,
	// default 200000.
	Containers int
	Partitions int // of every topic, default 6
	// Serve is the command line that starts `porttrack serve` (flags are
	// appended); required.
	Serve []string
	// Topics are created on the broker: the topics serve reads and
	// writes. Default port.rfid and porttrack.dlq.
	Topics  []string
	DataDir string
	Logger  *slog.Logger
}

func (c RecoveryConfig) withDefaults() RecoveryConfig {
	if c.Containers == 0 {
		c.Containers = 200_000
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if len(c.Topics) == 0 {
		c.Topics = []string{"port.rfid", "porttrack.dlq"}
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
func (c RecoveryConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Containers < 1 || c.Containers > 1_000_000 {
		errs = append(errs, fmt.Errorf("containers: %d out of range [1, 1000000]", c.Containers))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("partitions: %d out of range [1, 1000]", c.Partitions))
	}
	if len(c.Serve) == 0 {
		errs = append(errs, errors.New("serve: the command that starts porttrack serve is required"))
	}
	return errors.Join(errs...)
}

// RecoveryResult is the recovery scenario's outcome: times from starting
// the process to /readyz answering 200.
type RecoveryResult struct {
	Scenario   string `json:"scenario"` // "recovery"
	Containers int    `json:"containers"`
	Records    int    `json:"records"`
	Partitions int    `json:"partitions"`
	CPUs       int    `json:"cpus"`

	ProduceSeconds float64 `json:"produce_seconds"` // setup
	// FloorSeconds: a fresh data directory and empty topics (process
	// start, store open, partitions assigned).
	FloorSeconds float64 `json:"floor_seconds"`
	// ColdSeconds: a fresh data directory, every record to ingest.
	ColdSeconds float64 `json:"cold_seconds"`
	// RecoverySeconds: restart on the data directory of the cold run after
	// SIGKILL.
	RecoverySeconds float64 `json:"recovery_seconds"`
	StateDiskBytes  int64   `json:"state_disk_bytes"`

	// RatioFloor is RecoverySeconds / FloorSeconds (1: restarting with N
	// containers costs no more than starting empty); RatioCold is
	// RecoverySeconds / ColdSeconds (how much of re-ingesting a restart
	// saves).
	RatioFloor float64 `json:"ratio_recovery_floor"`
	RatioCold  float64 `json:"ratio_recovery_cold"`
}

// MemoryResult is the memory scenario's outcome: the resident memory
// (VmRSS) of the serve process once ready.
type MemoryResult struct {
	Scenario   string `json:"scenario"` // "memory"
	Containers int    `json:"containers"`
	// RSSFloor: empty state; RSSIngested: after ingesting every record;
	// RSSRestarted: after the restart that followed SIGKILL.
	RSSFloor     int64 `json:"rss_floor_bytes"`
	RSSIngested  int64 `json:"rss_ingested_bytes"`
	RSSRestarted int64 `json:"rss_restarted_bytes"`
	// Per tracked container: (RSS - RSSFloor) / Containers.
	PerContainerIngested  float64 `json:"rss_per_container_ingested"`
	PerContainerRestarted float64 `json:"rss_per_container_restarted"`
	DiskPerContainer      float64 `json:"disk_per_container"`
	// RatioResidentDisk is PerContainerRestarted / DiskPerContainer: the
	// share of the state kept resident after a restart.
	RatioResidentDisk float64 `json:"ratio_resident_disk"`
}

// RunRecovery measures the recovery and memory scenarios in one sequence
// of serve processes: an empty one (floor), one that ingests cfg.Containers
// containers (cold), killed with SIGKILL and restarted on its data
// directory (recovery).
func RunRecovery(ctx context.Context, cfg RecoveryConfig) (rec RecoveryResult, mem MemoryResult, err error) {
	if err := cfg.Validate(); err != nil {
		return rec, mem, fmt.Errorf("bench: recovery: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	rec = RecoveryResult{Scenario: "recovery", Containers: cfg.Containers, Records: 2 * cfg.Containers,
		Partitions: cfg.Partitions, CPUs: runtime.GOMAXPROCS(0)}
	mem = MemoryResult{Scenario: "memory", Containers: cfg.Containers}
	fail := func(err error) (RecoveryResult, MemoryResult, error) {
		return rec, mem, fmt.Errorf("bench: recovery: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp(cfg.DataDir, "porttrack-bench-recovery-")
	if err != nil {
		return fail(err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench: recovery: remove %s: %w", dir, rerr)
		}
	}()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "kafka")),
		kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	if err != nil {
		return fail(fmt.Errorf("start broker: %w", err))
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	// Floor: nothing to ingest.
	floor, err := startServe(ctx, cfg.Serve, broker, filepath.Join(dir, "floor"))
	if err != nil {
		return fail(err)
	}
	d, rss, err := floor.ready(ctx)
	floor.stop()
	if err != nil {
		return fail(fmt.Errorf("floor: %w", err))
	}
	rec.FloorSeconds, mem.RSSFloor = d.Seconds(), rss
	log.Info("bench recovery: floor", "seconds", rec.FloorSeconds, "rss", rss)

	start := time.Now()
	if err := produceContainers(ctx, broker, cfg.Topics[0], cfg.Containers); err != nil {
		return fail(err)
	}
	rec.ProduceSeconds = time.Since(start).Seconds()
	log.Info("bench recovery: produced", "records", rec.Records, "seconds", rec.ProduceSeconds)

	stateDir := filepath.Join(dir, "state")
	cold, err := startServe(ctx, cfg.Serve, broker, stateDir)
	if err != nil {
		return fail(err)
	}
	d, rss, err = cold.ready(ctx)
	if err != nil {
		cold.stop()
		return fail(fmt.Errorf("cold start: %w", err))
	}
	rec.ColdSeconds, mem.RSSIngested = d.Seconds(), rss
	log.Info("bench recovery: cold start", "seconds", rec.ColdSeconds, "rss", rss)
	if n, err := cold.metric("porttrack_ingest_records_applied_total"); err != nil || n != int64(rec.Records) {
		cold.stop()
		return fail(fmt.Errorf("cold start: ready with %d records applied, want %d (%v)", n, rec.Records, err))
	}
	if err := cold.kill(); err != nil {
		return fail(err)
	}
	if rec.StateDiskBytes, err = dirSize(stateDir); err != nil {
		return fail(err)
	}

	again, err := startServe(ctx, cfg.Serve, broker, stateDir)
	if err != nil {
		return fail(err)
	}
	d, rss, err = again.ready(ctx)
	again.stop()
	if err != nil {
		return fail(fmt.Errorf("restart after SIGKILL: %w", err))
	}
	rec.RecoverySeconds, mem.RSSRestarted = d.Seconds(), rss
	log.Info("bench recovery: restart after SIGKILL", "seconds", rec.RecoverySeconds, "rss", rss)

	rec.RatioFloor = rec.RecoverySeconds / rec.FloorSeconds
	rec.RatioCold = rec.RecoverySeconds / rec.ColdSeconds
	n := float64(cfg.Containers)
	mem.PerContainerIngested = float64(mem.RSSIngested-mem.RSSFloor) / n
	mem.PerContainerRestarted = float64(mem.RSSRestarted-mem.RSSFloor) / n
	mem.DiskPerContainer = float64(rec.StateDiskBytes) / n
	if mem.DiskPerContainer > 0 {
		mem.RatioResidentDisk = mem.PerContainerRestarted / mem.DiskPerContainer
	}
	return rec, mem, nil
}

// produceContainers writes two events for each of n containers: a gate-in
// at a gate lane, then a load at a quay crane.
func produceContainers(ctx context.Context, broker, topic string, n int) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(broker), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, // KAFKA.md pitfalls 1, 2
		BatchSize: produceBatchSize, BatchBytes: produceBatchBytes, Compression: kafka.Lz4,
	}
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	msgs := make([]kafka.Message, 0, produceChunk)
	flush := func() error {
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		msgs = msgs[:0]
		return nil
	}
	for i, c := range sim.ContainerNumbers(0x7265636f76, n) { // "recov"
		t := t0.Add(time.Duration(i) * time.Millisecond)
		msgs = append(msgs,
			kafka.Message{Key: []byte(c), Value: fmt.Appendf(nil,
				`{"reader":"BLCT-GATE-L%d","antenna":1,"epc":"urn:epc:id:bic:%s","t":"%s","rssi":-50,"dir":"in"}`,
				1+i%4, c, t.Format(time.RFC3339Nano))},
			kafka.Message{Key: []byte(c), Value: fmt.Appendf(nil,
				`{"reader":"BLCT-QC0%d-LOAD","antenna":2,"epc":"urn:epc:id:bic:%s","t":"%s","rssi":-55}`,
				1+i%6, c, t.Add(6*time.Hour).Format(time.RFC3339Nano))})
		if len(msgs) >= produceChunk {
			if err := flush(); err != nil {
				w.Close()
				return err
			}
		}
	}
	if err := flush(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// serveChild is one `porttrack serve` child process.
type serveChild struct {
	cmd    *exec.Cmd
	base   string
	start  time.Time
	stderr *tailBuffer
	done   chan struct{}
	err    error
}

func startServe(ctx context.Context, argv []string, broker, dataDir string) (*serveChild, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append(append([]string(nil), argv[1:]...),
		"--brokers", broker, "--group=", "--data-dir", dataDir, "--http-addr", addr, "--log-level", "warn")
	cmd := exec.CommandContext(ctx, argv[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTTRACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	c := &serveChild{cmd: cmd, base: "http://" + addr, stderr: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	c.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

// ready polls /readyz every 5 ms until it answers 200 and returns the time
// since the process started and its resident memory then.
func (c *serveChild) ready(ctx context.Context) (time.Duration, int64, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-c.done:
			return 0, 0, fmt.Errorf("porttrack serve exited: %v\n%s", c.err, c.stderr.String())
		case <-tick.C:
		}
		if time.Since(c.start) > 5*stallTimeout {
			return 0, 0, fmt.Errorf("porttrack serve not ready after %s\n%s", 5*stallTimeout, c.stderr.String())
		}
		resp, err := hc.Get(c.base + "/readyz")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			d := time.Since(c.start)
			rss, err := procRSS(c.cmd.Process.Pid)
			return d, rss, err
		}
	}
}

// metric reads one unlabelled value of the process's /metrics.
func (c *serveChild) metric(name string) (int64, error) {
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *serveChild) kill() error {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-c.done
	var ee *exec.ExitError
	if !errors.As(c.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return fmt.Errorf("porttrack serve did not die of SIGKILL: %v", c.err)
	}
	return nil
}

// stop sends SIGTERM and waits up to 30 s, then kills.
func (c *serveChild) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// procRSS is the resident memory (VmRSS) of process pid.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("resident memory: no VmRSS in /proc/%d/status", pid)
}

// WriteTable writes the recovery result as a text table.
func (r RecoveryResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "recovery: %d containers (%d records), %d partitions, %d CPUs; porttrack serve to /readyz 200\n\n",
		r.Containers, r.Records, r.Partitions, r.CPUs)
	const row = "%-44s %9s\n"
	fmt.Fprintf(w, row, "start", "seconds")
	fmt.Fprintf(w, row, "floor: empty state, empty topics", fmt.Sprintf("%.3f", r.FloorSeconds))
	fmt.Fprintf(w, row, "cold: empty state, ingest every record", fmt.Sprintf("%.3f", r.ColdSeconds))
	fmt.Fprintf(w, row, "recovery: restart after SIGKILL", fmt.Sprintf("%.3f", r.RecoverySeconds))
	fmt.Fprintf(w, "%-44s %9.2f\n", "ratio recovery/floor", r.RatioFloor)
	fmt.Fprintf(w, "%-44s %9.2f\n", "ratio recovery/cold", r.RatioCold)
	fmt.Fprintf(w, "\nstate: %s on disk after the cold run; records produced in %.1f s (setup)\n", mb(r.StateDiskBytes), r.ProduceSeconds)
}

// WriteTable writes the memory result as a text table.
func (r MemoryResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "memory: resident bytes (VmRSS) of porttrack serve, %d containers tracked\n\n", r.Containers)
	const row = "%-44s %12s %14s\n"
	fmt.Fprintf(w, row, "process", "RSS", "B/container")
	fmt.Fprintf(w, row, "floor: empty state", mb(r.RSSFloor), "")
	fmt.Fprintf(w, row, "after ingesting every container", mb(r.RSSIngested), fmt.Sprintf("%.0f", r.PerContainerIngested))
	fmt.Fprintf(w, row, "after a restart (SIGKILL, then ready)", mb(r.RSSRestarted), fmt.Sprintf("%.0f", r.PerContainerRestarted))
	fmt.Fprintf(w, row, "state on disk", "", fmt.Sprintf("%.0f", r.DiskPerContainer))
	fmt.Fprintf(w, "%-44s %12s %14.2f\n", "ratio resident/disk (after restart)", "", r.RatioResidentDisk)
}
