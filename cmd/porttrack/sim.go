package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/porttrack/porttrack/bench/sim"
)

// simFlags are the settings of `porttrack sim`.
type simFlags struct {
	brokers    string
	rfidRate   float64
	aisRate    float64
	total      int64
	containers int
	vessels    int
	seed       int64
	badRate    float64
	dupRate    float64
	start      string
	rfidTopic  string
	aisTopic   string
}

func parseSimFlags(args []string, stderr io.Writer) (simFlags, sim.Config, sim.AISConfig, error) {
	var f simFlags
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka brokers (default: the demo's embedded broker)")
	fs.Float64Var(&f.rfidRate, "rfid-rate", 100, "RFID events/s; 0: none; negative: as fast as possible")
	fs.Float64Var(&f.aisRate, "ais-rate", 20, "AIS sentences/s; 0: none; negative: as fast as possible")
	fs.Int64Var(&f.total, "total", 0, "stop each stream after this many records (0: until Ctrl-C)")
	fs.IntVar(&f.containers, "containers", 3000, "containers in the RFID fleet")
	fs.IntVar(&f.vessels, "vessels", 40, "container ships in the AIS fleet")
	fs.Int64Var(&f.seed, "seed", 1, "random seed: the same seed and flags give the same records")
	fs.Float64Var(&f.badRate, "bad-rate", 0.01, "fraction of malformed RFID records")
	fs.Float64Var(&f.dupRate, "dup-rate", 0.02, "fraction of duplicate RFID records")
	fs.StringVar(&f.start, "start", "", "event time of the first event, RFC 3339 (default: now); fix it for reproducible traffic")
	fs.StringVar(&f.rfidTopic, "topic-rfid", "port.rfid", "RFID topic")
	fs.StringVar(&f.aisTopic, "topic-ais", "port.ais", "AIS topic")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, sim.Config{}, sim.AISConfig{}, err
		}
		return f, sim.Config{}, sim.AISConfig{}, usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return f, sim.Config{}, sim.AISConfig{}, usageError("unexpected arguments: %q", fs.Args())
	}
	var start time.Time
	if f.start != "" {
		var err error
		if start, err = time.Parse(time.RFC3339, f.start); err != nil {
			return f, sim.Config{}, sim.AISConfig{}, usageError("invalid setting start (flag --start): %v", err)
		}
	}
	brokers := strings.Split(f.brokers, ",")
	rate := func(r float64) float64 {
		if r < 0 {
			return 0 // sim: <= 0 is as fast as possible
		}
		return r
	}
	rc := sim.Config{Brokers: brokers, Topic: f.rfidTopic, Rate: rate(f.rfidRate), Total: f.total,
		Containers: f.containers, Seed: f.seed, BadRate: f.badRate, DupRate: f.dupRate, Start: start}
	ac := sim.AISConfig{Brokers: brokers, Topic: f.aisTopic, Rate: rate(f.aisRate), Total: f.total,
		Vessels: f.vessels, Seed: f.seed, Start: start}
	if f.rfidRate != 0 {
		if err := rc.Validate(); err != nil {
			return f, rc, ac, usageError("invalid RFID simulator setting: %v", err)
		}
	}
	if f.aisRate != 0 {
		if err := ac.Validate(); err != nil {
			return f, rc, ac, usageError("invalid AIS simulator setting: %v", err)
		}
	}
	if f.rfidRate == 0 && f.aisRate == 0 {
		return f, rc, ac, usageError("invalid setting: --rfid-rate and --ais-rate are both 0: nothing to produce")
	}
	return f, rc, ac, nil
}

func runSim(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	f, rc, ac, err := parseSimFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rc.Logger, ac.Logger = log, log
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		errs       []error
		rfid, ais  sim.Stats
		start      = time.Now()
		ctx2, stop = context.WithCancel(ctx)
	)
	defer stop()
	launch := func(run func() (sim.Stats, error), dst *sim.Stats) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := run()
			mu.Lock()
			*dst = st
			if err != nil {
				errs = append(errs, err)
				stop()
			}
			mu.Unlock()
		}()
	}
	if f.rfidRate != 0 {
		launch(func() (sim.Stats, error) { return sim.Run(ctx2, rc) }, &rfid)
	}
	if f.aisRate != 0 {
		launch(func() (sim.Stats, error) { return sim.RunAIS(ctx2, ac) }, &ais)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tty := isTerminal(stderr)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			if tty {
				// The generators report totals when they stop; the live
				// line shows elapsed time and the configured rates.
				fmt.Fprintf(stderr, "\rsim: %s elapsed, RFID %g/s, AIS %g/s, Ctrl-C stops", time.Since(start).Truncate(time.Second), f.rfidRate, f.aisRate)
			}
		}
	}
	if tty {
		fmt.Fprintln(stderr)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "rfid: %d records (%d malformed, %d duplicates) to %s\n", rfid.Produced, rfid.Bad, rfid.Duplicates, rc.Topic)
	fmt.Fprintf(stdout, "ais:  %d records (%d second-station copies) to %s\n", ais.Produced, ais.Duplicates, ac.Topic)
	fmt.Fprintf(stdout, "elapsed %s, %.0f records/s\n", el.Truncate(time.Millisecond), float64(rfid.Produced+ais.Produced)/el.Seconds())
	return errors.Join(errs...)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
