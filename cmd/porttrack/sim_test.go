package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSimCommand runs `porttrack sim` against an in-process broker with a
// fixed total and checks its report.
func TestSimCommand(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "port.ais"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	err = run(t.Context(), []string{"sim", "--brokers", strings.Join(c.ListenAddrs(), ","), "--rfid-rate", "-1", "--ais-rate", "-1",
		"--total", "300", "--start", "2026-11-22T00:00:00Z", "--bad-rate", "0.1"}, func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rfid: 300 records", "ais:  300 records", "to port.rfid", "to port.ais"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSimFlagsRejected(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--rfid-rate", "0", "--ais-rate", "0"},
		{"sim", "--start", "yesterday"},
		{"sim", "--bad-rate", "2"},
	} {
		err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("run(%q) = %v, want exit code 2", args, err)
		}
	}
}
