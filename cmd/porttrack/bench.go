package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porttrack/porttrack/bench"
)

// benchScenarios are the scenario names of `porttrack bench`, in run order.
var benchScenarios = []string{"ingest", "ais", "geo", "guard", "queries", "freshness", "recovery", "memory", "dcsa", "customs", "stream"}

// defaultAISFile is the NMEA log of the ais scenario, in the repository
// (testdata/README.md).
var defaultAISFile = filepath.Join("testdata", "ais", "aishub-3min-sample.nmea")

// benchFlags are the settings of `porttrack bench`.
type benchFlags struct {
	scenarios  []string
	records    int
	partitions int
	containers int
	codec      string
	noSync     bool
	rounds     int
	dataDir    string
	jsonFile   string
	cpuProfile string
	traceFile  string
	quick      bool
	aisFile    string

	// geo
	objects     int
	duration    time.Duration
	conns       int
	rate        float64
	updateRate  float64
	redisServer string
	geoCases    string
	feedNice    int
	sweepRates  string

	// freshness
	loadRate   float64
	probes     int
	probeEvery time.Duration
	// recovery, memory
	tracked int
	// stream
	streamClients int
	streamKinds   string
}

// parseBenchFlags parses the bench's flags and scenarios; --help prints
// them to stdout.
func parseBenchFlags(args []string, stdout io.Writer) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	usage := fmt.Sprintf("Usage: porttrack bench [flags] [scenario...]\n\nScenarios: %s (default: all).\n",
		strings.Join(benchScenarios, ", "))
	fs.IntVar(&f.records, "records", 200_000, "records to produce and ingest")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of the input topic")
	fs.IntVar(&f.containers, "containers", 20_000, "containers in the generated fleet")
	fs.StringVar(&f.codec, "codec", "lz4", "producer compression: "+strings.Join(bench.Codecs(), ", "))
	fs.BoolVar(&f.noSync, "no-sync", false, "commit state batches without fsync")
	fs.IntVar(&f.rounds, "rounds", 3, "measurements of each path; medians are reported")
	fs.StringVar(&f.dataDir, "data-dir", "", "parent of the working directory (removed after); default: the system temp dir")
	fs.StringVar(&f.jsonFile, "json", "", "also write the results as a JSON array to this file")
	fs.StringVar(&f.traceFile, "trace", "", "geo: write a Go execution trace of the measured window of each case to this file (the last case run is kept)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (setup included) to this file")
	fs.StringVar(&f.aisFile, "ais-file", defaultAISFile, "NMEA corpus of the ais scenario (the default is relative to the repository's root)")
	fs.IntVar(&f.objects, "objects", 1_000_000, "geo: trucks loaded into the store and Redis")
	fs.DurationVar(&f.duration, "duration", 5*time.Second, "geo: measured time of each case")
	fs.IntVar(&f.conns, "conns", 16, "geo: concurrent connections of the load generator")
	fs.Float64Var(&f.rate, "rate", 0, "geo: requests/s of the open-loop radius cases (0: half the closed-loop radius throughput)")
	fs.Float64Var(&f.updateRate, "update-rate", 20_000, "geo: truck.position updates/s during the update cases (negative: skip them)")
	fs.StringVar(&f.sweepRates, "sweep-rates", "", "geo: comma-separated further request rates of the open-loop radius case without updates, one row (e') each")
	fs.IntVar(&f.feedNice, "feed-nice", 10, "geo: niceness of the update cases' broker and producer child (negative: the bench's own)")
	fs.StringVar(&f.geoCases, "cases", "", "geo: comma-separated cases to run, of "+strings.Join(bench.GeoCaseNames, ", ")+" (default: all)")
	fs.StringVar(&f.redisServer, "redis-server", "redis-server", `geo: the redis-server binary of the reference ("-": skip Redis)`)
	fs.Float64Var(&f.loadRate, "load-rate", 5000, "freshness: background load in records/s (negative: none)")
	fs.IntVar(&f.probes, "probes", 300, "freshness: probe events")
	fs.DurationVar(&f.probeEvery, "probe-every", 20*time.Millisecond, "freshness: time between probe events")
	fs.IntVar(&f.tracked, "tracked", 200_000, "recovery, memory: containers tracked by the serve process (two events each)")
	fs.IntVar(&f.streamClients, "stream-clients", 1000, "stream: live-stream clients connected during the ingest with clients")
	fs.StringVar(&f.streamKinds, "stream-kinds", "containers", "stream: the clients' kinds (containers: every RFID change to every client; vessels,trucks,trains,alerts: the map's, idle here)")
	fs.BoolVar(&f.quick, "quick", false, "a short run: 20000 records, 1 round; geo, queries: 50000 trucks, 1 s per case; freshness: 100 probes; recovery, memory: 20000 containers; stream: 100 clients (explicit flags win)")
	// Flags may come before or after the scenario names.
	for {
		if err := parseFlags(fs, args, usage, stdout); err != nil {
			return f, err
		}
		if fs.NArg() == 0 {
			break
		}
		f.scenarios = append(f.scenarios, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if f.quick {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		if !set["records"] {
			f.records = 20_000
		}
		if !set["rounds"] {
			f.rounds = 1
		}
		if !set["objects"] {
			f.objects = 50_000
		}
		if !set["duration"] {
			f.duration = time.Second
		}
		if !set["probes"] {
			f.probes = 100
		}
		if !set["tracked"] {
			f.tracked = 20_000
		}
		if !set["stream-clients"] {
			f.streamClients = 100
		}
	}
	for _, s := range f.scenarios {
		if !slices.Contains(benchScenarios, s) {
			return f, usageError("unknown scenario %q (known: %s)", s, strings.Join(benchScenarios, ", "))
		}
	}
	if len(f.scenarios) == 0 {
		f.scenarios = benchScenarios
	}
	cfg := f.ingestConfig(nil)
	if err := cfg.Validate(); err != nil {
		return f, usageError("invalid bench settings: %v", err)
	}
	if err := f.geoConfig(nil, []string{"porttrack"}).Validate(); err != nil {
		return f, usageError("invalid bench settings: %v", err)
	}
	if err := f.freshnessConfig(nil).Validate(); err != nil {
		return f, usageError("invalid bench settings: %v", err)
	}
	if err := f.recoveryConfig(nil, []string{"porttrack", "serve"}).Validate(); err != nil {
		return f, usageError("invalid bench settings: %v", err)
	}
	if slices.Contains(f.scenarios, "ais") {
		// Checked before any scenario runs: the others take minutes.
		if _, err := os.Stat(f.aisFile); err != nil {
			hint := ""
			if f.aisFile == defaultAISFile {
				hint = " (the default is relative to the repository's root: run the bench there, or name the NMEA log)"
			}
			return f, usageError("--ais-file %s: %v%s", f.aisFile, errors.Unwrap(err), hint)
		}
	}
	return f, nil
}

// guardConfig is the guard scenario's configuration: 200,000 events, 20,000
// with --quick.
func (f benchFlags) guardConfig() bench.GuardConfig {
	c := bench.GuardConfig{Rounds: f.rounds, Dir: f.dataDir}
	if f.quick {
		c.Events = 20_000
	}
	return c
}

// geoConfig is the geo scenario's configuration; loadGen is the command
// line of its load generator child.
func (f benchFlags) geoConfig(log *slog.Logger, loadGen []string) bench.GeoConfig {
	updateRate := f.updateRate
	if updateRate == 0 {
		updateRate = -1 // --update-rate 0 means none, not the default
	}
	var cases []string
	if f.geoCases != "" {
		cases = strings.Split(f.geoCases, ",")
	}
	var sweep []float64
	for _, v := range strings.Split(f.sweepRates, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			r = math.NaN() // rejected by bench.GeoConfig.Validate, naming the setting
		}
		sweep = append(sweep, r)
	}
	return bench.GeoConfig{
		Objects:     f.objects,
		Duration:    f.duration,
		Conns:       f.conns,
		Rate:        f.rate,
		UpdateRate:  updateRate,
		Partitions:  f.partitions,
		RedisServer: f.redisServer,
		Cases:       cases,
		TraceFile:   f.traceFile,
		FeedNice:    f.feedNice,
		SweepRates:  sweep,
		LoadGen:     loadGen,
		DataDir:     f.dataDir,
		Logger:      log,
	}
}

func (f benchFlags) freshnessConfig(log *slog.Logger) bench.FreshnessConfig {
	loadRate := f.loadRate
	if loadRate == 0 {
		loadRate = -1 // --load-rate 0 means none, not the default
	}
	return bench.FreshnessConfig{LoadRate: loadRate, Probes: f.probes, ProbeEvery: f.probeEvery,
		Partitions: f.partitions, NoSync: f.noSync, DataDir: f.dataDir, Logger: log}
}

// recoveryConfig is the recovery and memory scenarios' configuration;
// serve is the command line of porttrack serve.
func (f benchFlags) recoveryConfig(log *slog.Logger, serve []string) bench.RecoveryConfig {
	return bench.RecoveryConfig{Containers: f.tracked, Partitions: f.partitions, Serve: serve,
		Topics: defaultConfig().Topics.all(), DataDir: f.dataDir, Logger: log}
}

func (f benchFlags) ingestConfig(log *slog.Logger) bench.IngestConfig {
	return bench.IngestConfig{
		Records:    f.records,
		Partitions: f.partitions,
		Containers: f.containers,
		Codec:      f.codec,
		NoSync:     f.noSync,
		Rounds:     f.rounds,
		DataDir:    f.dataDir,
		Logger:     log,
	}
}

func runBench(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "geo-load" {
		// Hidden: the geo scenario's load generator, started by the
		// scenario itself in a child process (bench/loadgen.go).
		return bench.RunGeoLoadGen(ctx, os.Stdin, stdout)
	}
	if len(args) > 0 && args[0] == "jt808" {
		return runBenchJT808(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "jt808-terminals" {
		// Hidden: the terminals of 'bench jt808', in their own process.
		return runBenchJT808Terminals(ctx, args[1:], stdout, stderr)
	}
	f, err := parseBenchFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var (
		results   []any
		recovery  *bench.RecoveryResult
		memory    *bench.MemoryResult
		recovered = func() error { // recovery and memory share one run
			if recovery != nil {
				return nil
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench recovery: the serve processes run this executable: %w", err)
			}
			rec, mem, err := bench.RunRecovery(ctx, f.recoveryConfig(log, []string{exe, "serve"}))
			if err != nil {
				return err
			}
			recovery, memory = &rec, &mem
			return nil
		}
	)
	for i, s := range f.scenarios {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		switch s {
		case "ingest":
			res, err := bench.RunIngest(ctx, f.ingestConfig(log))
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "ais":
			res, err := bench.RunAIS(ctx, bench.AISConfig{File: f.aisFile, Rounds: f.rounds})
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "guard":
			res, err := bench.RunGuard(ctx, f.guardConfig())
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "dcsa":
			res, err := bench.RunDCSA(ctx, bench.DCSAConfig{Duration: f.duration, Conns: f.conns, Events: min(f.objects, 100_000), DataDir: f.dataDir, Logger: log})
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "stream":
			res, err := bench.RunStream(ctx, bench.StreamConfig{Ingest: f.ingestConfig(log), Clients: f.streamClients, Kinds: f.streamKinds})
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "customs":
			res, err := bench.RunCustoms(ctx, bench.CustomsConfig{Orders: f.records / 20, Partitions: f.partitions, NoSync: f.noSync, Rounds: f.rounds, DataDir: f.dataDir, Logger: log})
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "geo":
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench geo: the load generator runs this executable: %w", err)
			}
			res, err := bench.RunGeo(ctx, f.geoConfig(log, []string{exe, "bench", "geo-load"}))
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "queries":
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench queries: the load generator runs this executable: %w", err)
			}
			res, err := bench.RunQueries(ctx, f.geoConfig(log, []string{exe, "bench", "geo-load"}))
			if err != nil {
				return err
			}
			bench.WriteQueriesTable(stdout, res)
			results = append(results, res)
		case "freshness":
			res, err := bench.RunFreshness(ctx, f.freshnessConfig(log))
			if err != nil {
				return err
			}
			res.WriteTable(stdout)
			results = append(results, res)
		case "recovery":
			if err := recovered(); err != nil {
				return err
			}
			recovery.WriteTable(stdout)
			results = append(results, recovery)
		case "memory":
			if err := recovered(); err != nil {
				return err
			}
			memory.WriteTable(stdout)
			results = append(results, memory)
		}
	}
	if f.jsonFile != "" {
		js, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.jsonFile, append(js, '\n'), 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	return nil
}
