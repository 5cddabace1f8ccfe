// Command porttrack runs the porttrack engine: `porttrack demo` on an
// embedded broker, `porttrack serve` against a Kafka cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `porttrack tracks containers around the Ningbo-Zhoushan port.

Usage:
  porttrack demo  [flags]   embedded broker + traffic simulator + engine + API
  porttrack serve [flags]   the engine against a Kafka cluster
  porttrack sim   [flags]   the traffic simulator alone, into any Kafka
  porttrack gateway jt808 [flags]   JT/T 808 truck terminals into Kafka
  porttrack bench [flags]   benchmarks: 'porttrack bench ingest' (bench/README.md)
  porttrack ais   decode    AIS NMEA sentences to JSON lines: 'porttrack ais decode [FILE...]'
  porttrack apikey create|list|revoke   API keys (tenant, role, scope) in a data dir
  porttrack help            this text

Run 'porttrack <command> -h' for the flags of a command.
`

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad flag or setting: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(os.Stderr, "porttrack:", err)
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("no command given")
	}
	switch args[0] {
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], getenv, stdout, stderr)
	case "sim":
		return runSim(ctx, args[1:], getenv, stdout, stderr)
	case "gateway":
		return runGateway(ctx, args[1:], getenv, stdout, stderr)
	case "ais":
		return runAIS(ctx, args[1:], os.Stdin, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError("unknown command %q", args[0])
}
