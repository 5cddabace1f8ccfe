package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/gateway/jt808"
)

// JT808Config configures the jt808 scenario: simulated terminals send
// locations through the gateway into an in-process kfake broker, each
// terminal waiting for the platform's acknowledgement (sent after the
// broker's) before its next location.
type JT808Config struct {
	Terminals  int           // simulated terminals, default 10000
	Duration   time.Duration // measured window of each run, default 10s
	Partitions int           // partitions of port.transport, default 6
	// ClientCmd runs the terminals in a child process (argv; the scenario
	// appends its flags), so that client and gateway each have their own
	// file-descriptor limit and the client's work is not the gateway's.
	// Empty: the terminals run in this process (the quick test).
	ClientCmd []string
	Logger    *slog.Logger
}

func (c JT808Config) withDefaults() JT808Config {
	if c.Terminals == 0 {
		c.Terminals = 10000
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// JT808Result is what RunJT808 measured.
type JT808Result struct {
	Terminals       int     `json:"terminals"`
	Seconds         float64 `json:"seconds"`
	Locations       uint64  `json:"locations"`
	LocationsPerSec float64 `json:"locations_per_sec"`
	P50ms           float64 `json:"ack_p50_ms"`
	P99ms           float64 `json:"ack_p99_ms"`
	Maxms           float64 `json:"ack_max_ms"`
	ProduceErrors   uint64  `json:"produce_errors"`
	// The ceiling: the same writer alone, as many concurrent producers as
	// terminals, each producing one record and waiting for the ack.
	CeilingPerSec float64 `json:"ceiling_records_per_sec"`
	CeilingP99ms  float64 `json:"ceiling_p99_ms"`
	Ratio         float64 `json:"gateway_over_ceiling"`
}

// WriteTable writes the result as a table.
func (r JT808Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tterminals\tseconds\trecords/s\tp50 ms\tp99 ms\tmax ms\t")
	fmt.Fprintf(tw, "gateway (frame received -> record acked)\t%d\t%.1f\t%.0f\t%.2f\t%.2f\t%.2f\t\n", r.Terminals, r.Seconds, r.LocationsPerSec, r.P50ms, r.P99ms, r.Maxms)
	fmt.Fprintf(tw, "ceiling (producer alone)\t%d\t\t%.0f\t\t%.2f\t\t\n", r.Terminals, r.CeilingPerSec, r.CeilingP99ms)
	tw.Flush()
	fmt.Fprintf(w, "gateway/ceiling: %.2f; produce errors: %d\n", r.Ratio, r.ProduceErrors)
}

func newJT808Writer(brokers []string) *kafka.Writer {
	// As 'porttrack gateway jt808' configures it.
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    1000,
	}
}

// latencies collects durations while on.
type latencies struct {
	on atomic.Bool
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) observe(d time.Duration) {
	if !l.on.Load() {
		return
	}
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) quantiles() (p50, p99, maxd float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l.d)
	at := func(q float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))]) / 1e6
	}
	return at(0.50), at(0.99), float64(l.d[len(l.d)-1]) / 1e6
}

func benchPlate(i int) string { return fmt.Sprintf("浙B%05d", i%100000) }

// RunJT808 runs the ceiling, then the gateway with the terminals.
func RunJT808(ctx context.Context, cfg JT808Config) (res JT808Result, err error) {
	cfg = cfg.withDefaults()
	if cfg.Terminals > 100000 {
		return res, errors.New("bench: jt808: at most 100000 terminals (one plate each)")
	}
	raiseNoFile()
	log := cfg.Logger
	res.Terminals = cfg.Terminals
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(cfg.Partitions), "port.transport"))
	if err != nil {
		return res, fmt.Errorf("bench: jt808: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	// Ceiling: the producer alone, same records, same concurrency.
	w := newJT808Writer(brokers)
	var ceil latencies
	var ceilN atomic.Uint64
	cctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	ceil.on.Store(true)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Terminals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plate := benchPlate(i)
			l := jt808.Location{Status: jt808.StatusLocated, Lat: 29.93, Lon: 121.88, SpeedKmh: 30, Heading: 90}
			for k := 0; cctx.Err() == nil; k++ {
				l.Time = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Second)
				v := jt808.AppendPosition(nil, jt808.RecordID(strconv.Itoa(i), uint16(k), l.Time), plate, &l)
				t0 := time.Now()
				if err := w.WriteMessages(cctx, kafka.Message{Topic: "port.transport", Key: []byte(plate), Value: v}); err != nil {
					return
				}
				ceil.observe(time.Since(t0))
				ceilN.Add(1)
			}
		}()
	}
	wg.Wait()
	cancel()
	res.CeilingPerSec = float64(ceilN.Load()) / time.Since(start).Seconds()
	_, res.CeilingP99ms, _ = ceil.quantiles()
	w.Close()
	log.Info("bench jt808: ceiling", "records_per_sec", res.CeilingPerSec)

	// The gateway.
	store, err := jt808.OpenStore("", nil)
	if err != nil {
		return res, err
	}
	var lat latencies
	w = newJT808Writer(brokers)
	defer w.Close()
	srv, err := jt808.NewServer(jt808.Config{MaxConns: cfg.Terminals + 100, MaxConnsPerIP: cfg.Terminals + 100, ObserveAck: lat.observe}, store, w)
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		if serr := <-served; err == nil && serr != nil {
			err = serr
		}
	}()

	args := []string{"--addr", ln.Addr().String(), "--terminals", strconv.Itoa(cfg.Terminals), "--duration", cfg.Duration.String()}
	var (
		in   io.WriteCloser
		out  io.Reader
		wait func() error
	)
	if len(cfg.ClientCmd) > 0 {
		cmd := exec.CommandContext(ctx, cfg.ClientCmd[0], append(cfg.ClientCmd[1:], args...)...)
		if in, err = cmd.StdinPipe(); err != nil {
			return res, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return res, err
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return res, fmt.Errorf("bench: jt808: start the terminals: %w", err)
		}
		out = stdout
		wait = func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("bench: jt808: terminals: %w: %s", err, stderr.String())
			}
			return nil
		}
	} else {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		in, out = inW, outR
		done := make(chan error, 1)
		tc := JT808TerminalsConfig{Addr: ln.Addr().String(), Terminals: cfg.Terminals, Duration: cfg.Duration}
		go func() {
			err := RunJT808Terminals(ctx, tc, inR, outW)
			outW.CloseWithError(err)
			done <- err
		}()
		wait = func() error { return <-done }
	}
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		in.Close()
		return res, fmt.Errorf("bench: jt808: terminals not ready: %q %v; %v", line, err, wait())
	}
	log.Info("bench jt808: terminals registered and authenticated", "terminals", cfg.Terminals)
	before := srv.Metrics.Snapshot()
	lat.on.Store(true)
	start = time.Now()
	if _, err := io.WriteString(in, "go\n"); err != nil {
		return res, err
	}
	line, err = br.ReadString('\n')
	elapsed := time.Since(start)
	lat.on.Store(false)
	after := srv.Metrics.Snapshot()
	in.Close()
	if werr := wait(); werr != nil {
		return res, werr
	}
	if err != nil || !strings.HasPrefix(line, "done ") {
		return res, fmt.Errorf("bench: jt808: terminals ended with %q: %v", line, err)
	}
	res.Seconds = elapsed.Seconds()
	res.Locations = after.Produced - before.Produced
	res.ProduceErrors = after.ProduceErrors - before.ProduceErrors
	res.LocationsPerSec = float64(res.Locations) / res.Seconds
	res.P50ms, res.P99ms, res.Maxms = lat.quantiles()
	if res.CeilingPerSec > 0 {
		res.Ratio = res.LocationsPerSec / res.CeilingPerSec
	}
	return res, nil
}

// JT808TerminalsConfig configures the terminals of the jt808 scenario.
type JT808TerminalsConfig struct {
	Addr      string
	Terminals int
	Duration  time.Duration
}

// RunJT808Terminals connects, registers and authenticates the terminals,
// writes "ready" to out, waits for a line on in, then has each terminal
// send locations one after the other (waiting for each acknowledgement)
// for cfg.Duration, and writes "done N" (N locations acknowledged).
func RunJT808Terminals(ctx context.Context, cfg JT808TerminalsConfig, in io.Reader, out io.Writer) error {
	raiseNoFile()
	terms := make([]*jt808.Terminal, cfg.Terminals)
	defer func() {
		for _, t := range terms {
			if t != nil {
				t.Close()
			}
		}
	}()
	// Connect with bounded concurrency: the listen backlog is finite.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next atomic.Int64
	)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Terminals {
					return
				}
				t, err := jt808.DialTerminal(ctx, cfg.Addr, fmt.Sprintf("0139%08d", i))
				if err == nil {
					var code string
					if code, err = t.Register(benchPlate(i)); err == nil {
						err = t.Authenticate(code)
					}
					terms[i] = t
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("terminal %d: %w", i, err))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := io.WriteString(out, "ready\n"); err != nil {
		return err
	}
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var acked atomic.Uint64
	for i, t := range terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := jt808.Location{Status: jt808.StatusLocated, Lat: 29.93 + float64(i%100)*1e-4, Lon: 121.88, SpeedKmh: 30, Heading: 90}
			var body []byte
			for k := 0; rctx.Err() == nil; k++ {
				l.Time = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Second)
				body = jt808.AppendLocation(body[:0], l)
				res, err := t.Call(jt808.IDLocation, body)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("terminal %d: %w", i, err))
					mu.Unlock()
					return
				}
				if res == jt808.ResultOK {
					acked.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := fmt.Fprintf(out, "done %d\n", acked.Load())
	return err
}
