package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/porttrack/porttrack/bench"
)

// benchScenarios are the scenario names of `porttrack bench`, in run order.
var benchScenarios = []string{"ingest", "ais"}

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
	quick      bool
	aisFile    string
}

func parseBenchFlags(args []string, stderr io.Writer) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: porttrack bench [flags] [scenario...]\n\nScenarios: %s (default: all).\n\nFlags:\n",
			strings.Join(benchScenarios, ", "))
		fs.PrintDefaults()
	}
	fs.IntVar(&f.records, "records", 200_000, "records to produce and ingest")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of the input topic")
	fs.IntVar(&f.containers, "containers", 20_000, "containers in the generated fleet")
	fs.StringVar(&f.codec, "codec", "lz4", "producer compression: "+strings.Join(bench.Codecs(), ", "))
	fs.BoolVar(&f.noSync, "no-sync", false, "commit state batches without fsync")
	fs.IntVar(&f.rounds, "rounds", 3, "measurements of each path; medians are reported")
	fs.StringVar(&f.dataDir, "data-dir", "", "parent of the working directory (removed after); default: the system temp dir")
	fs.StringVar(&f.jsonFile, "json", "", "also write the results as a JSON array to this file")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (setup included) to this file")
	fs.StringVar(&f.aisFile, "ais-file", "../shared/corpora/ais/aishub-3min-sample.nmea", "NMEA corpus of the ais scenario")
	fs.BoolVar(&f.quick, "quick", false, "a short run: 20000 records, 1 round (explicit flags win)")
	// Flags may come before or after the scenario names.
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return f, err
			}
			return f, usageError("%v", err)
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
	return f, nil
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
	f, err := parseBenchFlags(args, stderr)
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
	var results []any
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
