package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchAISFileDefault checks that the default NMEA corpus of the ais
// scenario is a file of the repository, named relative to its root (where
// `go run ./cmd/porttrack bench` runs), not a path beside the checkout.
func TestBenchAISFileDefault(t *testing.T) {
	f, err := parseBenchFlags([]string{"ingest"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.IsAbs(f.aisFile) || strings.HasPrefix(filepath.Clean(f.aisFile), "..") {
		t.Fatalf("--ais-file defaults to %s, outside the repository", f.aisFile)
	}
	// The tests run in cmd/porttrack: the repository root is two up.
	if _, err := os.Stat(filepath.Join("..", "..", f.aisFile)); err != nil {
		t.Fatalf("--ais-file default: %v", err)
	}
}

// TestBenchAISFileMissing checks that a missing corpus stops the bench
// before any scenario runs, with an error naming the flag.
func TestBenchAISFileMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.nmea")
	for _, args := range [][]string{
		{"bench", "--ais-file", missing, "ais"},
		{"bench", "--quick", "--ais-file", missing}, // all scenarios: ais among them
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		if msg := err.Error(); !strings.Contains(msg, "--ais-file") || !strings.Contains(msg, missing) {
			t.Errorf("%v: error %q does not name the flag and the file", args, msg)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: a scenario ran before the error:\n%s", args, stdout.String())
		}
	}
	// A scenario list without ais does not need the file.
	if _, err := parseBenchFlags([]string{"--ais-file", missing, "guard"}, io.Discard); err != nil {
		t.Errorf("guard alone: %v", err)
	}
}
