package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/porttrack/porttrack/bench/sim"
)

// simFlags are the settings of `porttrack sim`.
type simFlags struct {
	jt808      string
	model      string
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

	// day model
	transportTopic string
	customsTopic   string
	scale          float64
	speedup        float64
	rate           string
	burst          time.Duration
	duration       time.Duration
	lateRate       float64
}

const simUsage = `Usage: porttrack sim [flags]

Runs the traffic simulator alone, producing into any Kafka cluster.
`

// parseSimFlags parses the simulator's flags; --help prints them to stdout.
func parseSimFlags(args []string, stdout io.Writer) (simFlags, sim.Config, sim.AISConfig, sim.DayConfig, error) {
	var f simFlags
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.StringVar(&f.model, "model", "day", `traffic model: "day" (a day at the port: ships, cranes, yard, trucks, trains) or "fleet" (RFID and AIS streams of fixed fleets)`)
	fs.Float64Var(&f.scale, "scale", 1, "day: share of a real Ningbo-Zhoushan day (1: ~100,000 TEU of quay moves)")
	fs.Float64Var(&f.speedup, "speedup", 60, "day: simulated seconds per wall second (when --rate is not set)")
	fs.StringVar(&f.rate, "rate", "", `day: target records/s instead of --speedup, or "max" for as fast as possible`)
	fs.DurationVar(&f.burst, "burst", 0, "day: with --rate, send each period's records at once at its start (burst mode); 0: evenly (sustained)")
	fs.DurationVar(&f.duration, "duration", 24*time.Hour, "day: simulated time to generate")
	fs.Float64Var(&f.lateRate, "late-rate", 0.02, "day: fraction of RFID and transport records produced 1-30 min late (out of order)")
	fs.StringVar(&f.transportTopic, "topic-transport", "port.transport", "day: transport topic (truck positions and waybills, rail plans and events)")
	fs.StringVar(&f.customsTopic, "topic-customs", "port.customs", "day: customs topic")
	fs.StringVar(&f.jt808, "jt808", "", "day: send the trucks' positions through simulated JT/T 808 terminals connected to this gateway address ('porttrack gateway jt808') instead of producing them")
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "comma-separated Kafka brokers (default: the demo's embedded broker)")
	fs.Float64Var(&f.rfidRate, "rfid-rate", 100, "fleet: RFID events/s; 0: none; negative: as fast as possible")
	fs.Float64Var(&f.aisRate, "ais-rate", 20, "fleet: AIS sentences/s; 0: none; negative: as fast as possible")
	fs.Int64Var(&f.total, "total", 0, "stop after this many records (fleet: per stream; 0: day: at the end of --duration, fleet: at Ctrl-C)")
	fs.IntVar(&f.containers, "containers", 3000, "fleet: containers in the RFID fleet")
	fs.IntVar(&f.vessels, "vessels", 40, "fleet: container ships in the AIS fleet")
	fs.Int64Var(&f.seed, "seed", 1, "random seed: the same seed and flags give the same records")
	var badRate, dupRate optFraction
	fs.Var(&badRate, "bad-rate", "fraction of malformed records (default: day 0.002 of RFID and transport records, fleet 0.01 of RFID records)")
	fs.Var(&dupRate, "dup-rate", "fraction of duplicate records (default: day 0.01, fleet 0.02)")
	fs.StringVar(&f.start, "start", "", "event time of the first event, RFC 3339 (default: now); fix it for reproducible traffic")
	fs.StringVar(&f.rfidTopic, "topic-rfid", "port.rfid", "RFID topic")
	fs.StringVar(&f.aisTopic, "topic-ais", "port.ais", "AIS topic")
	var rc sim.Config
	var ac sim.AISConfig
	var dc sim.DayConfig
	if err := parseFlags(fs, args, simUsage, stdout); err != nil {
		return f, rc, ac, dc, err
	}
	if fs.NArg() > 0 {
		return f, rc, ac, dc, usageError("unexpected arguments: %q", fs.Args())
	}
	f.badRate, f.dupRate = badRate.or(-1), dupRate.or(-1) // -1: the model's default
	var start time.Time
	if f.start != "" {
		var err error
		if start, err = time.Parse(time.RFC3339, f.start); err != nil {
			return f, rc, ac, dc, usageError("invalid setting start (flag --start): %v", err)
		}
	}
	switch f.model {
	case "day":
		dc, err := dayConfig(f, start)
		return f, rc, ac, dc, err
	case "fleet":
	default:
		return f, rc, ac, dc, usageError(`invalid setting model (flag --model): %q is not "day" or "fleet"`, f.model)
	}
	if f.badRate < 0 {
		f.badRate = 0.01
	}
	if f.dupRate < 0 {
		f.dupRate = 0.02
	}
	brokers := strings.Split(f.brokers, ",")
	rate := func(r float64) float64 {
		if r < 0 {
			return 0 // sim: <= 0 is as fast as possible
		}
		return r
	}
	rc = sim.Config{Brokers: brokers, Topic: f.rfidTopic, Rate: rate(f.rfidRate), Total: f.total,
		Containers: f.containers, Seed: f.seed, BadRate: f.badRate, DupRate: f.dupRate, Start: start}
	ac = sim.AISConfig{Brokers: brokers, Topic: f.aisTopic, Rate: rate(f.aisRate), Total: f.total,
		Vessels: f.vessels, Seed: f.seed, Start: start}
	if f.rfidRate != 0 {
		if err := rc.Validate(); err != nil {
			return f, rc, ac, dc, usageError("invalid RFID simulator setting: %v", err)
		}
	}
	if f.aisRate != 0 {
		if err := ac.Validate(); err != nil {
			return f, rc, ac, dc, usageError("invalid AIS simulator setting: %v", err)
		}
	}
	if f.rfidRate == 0 && f.aisRate == 0 {
		return f, rc, ac, dc, usageError("invalid setting: --rfid-rate and --ais-rate are both 0: nothing to produce")
	}
	return f, rc, ac, dc, nil
}

// dayConfig is the day model's configuration from the flags.
func dayConfig(f simFlags, start time.Time) (sim.DayConfig, error) {
	// The day model reads 0 as "default" and a negative rate as "never".
	noise := func(v, def float64) float64 {
		switch {
		case v < 0:
			return def
		case v == 0:
			return -1
		}
		return v
	}
	dc := sim.DayConfig{
		Brokers: strings.Split(f.brokers, ","), RFIDTopic: f.rfidTopic, AISTopic: f.aisTopic,
		TransportTopic: f.transportTopic, CustomsTopic: f.customsTopic,
		Scale: f.scale, Speedup: f.speedup, Burst: f.burst, Duration: f.duration, Total: f.total,
		Seed: f.seed, Start: start,
		DupRate: noise(f.dupRate, 0), BadRate: noise(f.badRate, 0), LateRate: noise(f.lateRate, 0),
	}
	switch f.rate {
	case "":
	case "max":
		dc.Rate = -1
	default:
		r, err := strconv.ParseFloat(f.rate, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return dc, usageError(`invalid setting rate (flag --rate): want a positive number of records/s or "max", got %q`, f.rate)
		}
		dc.Rate = r
	}
	if f.scale <= 0 || f.scale > sim.MaxScale {
		return dc, usageError("invalid setting scale (flag --scale): %g is outside (0, %d]", f.scale, sim.MaxScale)
	}
	if !(f.speedup > 0) || math.IsInf(f.speedup, 0) {
		return dc, usageError("invalid setting speedup (flag --speedup): %g is not a positive number", f.speedup)
	}
	if f.burst < 0 || (f.burst > 0 && dc.Rate <= 0) {
		return dc, usageError("invalid setting burst (flag --burst): needs --rate with a number of records/s")
	}
	if err := dc.Validate(); err != nil {
		return dc, usageError("invalid simulator setting: %v", err)
	}
	if f.jt808 != "" {
		dc.JT808 = &sim.JT808Fleet{Addr: f.jt808}
	}
	return dc, nil
}

func runSim(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	f, rc, ac, dc, err := parseSimFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if f.model == "day" {
		return runSimDay(ctx, dc, log, stdout, stderr)
	}
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

// runSimDay runs the day model with a live progress line on a terminal.
func runSimDay(ctx context.Context, dc sim.DayConfig, log *slog.Logger, stdout, stderr io.Writer) error {
	dc.Logger = log
	tty := isTerminal(stderr)
	if tty {
		dc.Progress = func(p sim.DayProgress) {
			fmt.Fprintf(stderr, "\r\033[K%s", progressLine(p))
			if p.Done {
				fmt.Fprintln(stderr)
			}
		}
	}
	start := time.Now()
	if dc.JT808 != nil {
		defer dc.JT808.Close()
	}
	st, err := sim.RunDay(ctx, dc)
	writeDayReport(stdout, st, time.Since(start), dc)
	return err
}

// progressLine is the live line: elapsed, simulated clock, rate, totals by
// type, ETA.
func progressLine(p sim.DayProgress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sim %s | day %s | %.0f rec/s | %d records:", p.Elapsed.Truncate(time.Second),
		p.SimTime.UTC().Format("01-02 15:04"), p.Rate, p.Stats.Produced)
	for i, n := range p.Stats.ByKind {
		if n > 0 {
			fmt.Fprintf(&b, " %s %d", sim.KindNames[i], n)
		}
	}
	fmt.Fprintf(&b, " | malformed %d dup %d late %d", p.Stats.Malformed, p.Stats.Duplicates, p.Stats.Late)
	if p.ETA >= 0 && !p.Done {
		fmt.Fprintf(&b, " | ETA %s", p.ETA.Truncate(time.Second))
	}
	return b.String()
}

// writeDayReport prints the totals of a day model run.
func writeDayReport(w io.Writer, st sim.DayStats, el time.Duration, dc sim.DayConfig) {
	fmt.Fprintf(w, "day model: %d records in %s (%.0f records/s)\n", st.Produced, el.Truncate(time.Millisecond), float64(st.Produced)/el.Seconds())
	for i, n := range st.ByKind {
		fmt.Fprintf(w, "  %-15s %d\n", sim.KindNames[i], n)
	}
	fmt.Fprintf(w, "  %-15s %d (meant not to decode)\n", "malformed", st.Malformed)
	fmt.Fprintf(w, "  %-15s %d (re-sent, counted by kind too)\n", "duplicates", st.Duplicates)
	fmt.Fprintf(w, "  %-15s %d (produced 1-30 min after their event, counted by kind too)\n", "late", st.Late)
	fmt.Fprintf(w, "  AIS sentences   %d\n", st.AISSentences)
	p := st.Plan
	fmt.Fprintf(w, "plan of the simulated time: %d vessel calls alongside, %d quay moves, %d yard moves, %d gate transactions, %d trains, %d rail boxes, %d inspections, %d vessels on AIS\n",
		p.VesselCalls, p.QuayMoves, p.YardMoves, p.TruckTrips, p.Trains, p.RailBoxes, p.Inspections, p.AISVessels)
	fmt.Fprintf(w, "topics: %s, %s, %s, %s\n", dc.RFIDTopic, dc.AISTopic, dc.TransportTopic, dc.CustomsTopic)
}

// optFraction is a fraction flag in [0, 1] whose default depends on other
// flags: unset, it reads as the caller's default.
type optFraction struct {
	v   float64
	set bool
}

func (o *optFraction) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optFraction) Type() string { return "float" }

func (o *optFraction) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return fmt.Errorf("want a fraction in [0, 1], got %q", s)
	}
	o.v, o.set = v, true
	return nil
}

func (o *optFraction) or(def float64) float64 {
	if !o.set {
		return def
	}
	return o.v
}
