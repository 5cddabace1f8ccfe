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
	"time"

	"github.com/porttrack/porttrack/bench"
)

// runBenchJT808 is 'porttrack bench jt808': the terminals run in a child
// process of this executable ('porttrack bench jt808-terminals', hidden).
func runBenchJT808(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("porttrack bench jt808", flag.ContinueOnError)
	fs.SetOutput(stderr)
	terminals := fs.Int("terminals", 10000, "simulated JT/T 808 terminals, each in a closed loop (send a location, wait for its acknowledgement)")
	duration := fs.Duration("duration", 10*time.Second, "measured window of the gateway run and of the ceiling run")
	partitions := fs.Int("partitions", 6, "partitions of port.transport on the in-process broker")
	inProcess := fs.Bool("in-process", false, "run the terminals in this process instead of a child process")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: porttrack bench jt808 [flags]\n\nLocations/s from simulated terminals through the JT/T 808 gateway into an\nin-process kfake broker, p99 from frame received to record acknowledged,\nnext to the same writer producing the same records alone.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if *terminals < 1 || *terminals > 100000 || *duration <= 0 || *partitions < 1 {
		return usageError("--terminals must be 1..100000, --duration and --partitions positive")
	}
	cfg := bench.JT808Config{Terminals: *terminals, Duration: *duration, Partitions: *partitions,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench jt808: the terminals run this executable: %w", err)
		}
		cfg.ClientCmd = []string{exe, "bench", "jt808-terminals"}
	}
	res, err := bench.RunJT808(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	res.WriteTable(stdout)
	return nil
}

// runBenchJT808Terminals is the child process of 'porttrack bench jt808'.
func runBenchJT808Terminals(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("porttrack bench jt808-terminals", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.JT808TerminalsConfig
	fs.StringVar(&c.Addr, "addr", "", "gateway address")
	fs.IntVar(&c.Terminals, "terminals", 0, "terminals")
	fs.DurationVar(&c.Duration, "duration", 0, "sending time")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	return bench.RunJT808Terminals(ctx, c, os.Stdin, stdout)
}
