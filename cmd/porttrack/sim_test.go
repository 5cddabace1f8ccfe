package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
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
	err = run(t.Context(), []string{"sim", "--model", "fleet", "--brokers", strings.Join(c.ListenAddrs(), ","), "--rfid-rate", "-1", "--ais-rate", "-1",
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
		{"sim", "--model", "fleet", "--rfid-rate", "0", "--ais-rate", "0"},
		{"sim", "--model", "week"},
		{"sim", "--rate", "fast"},
		{"sim", "--scale", "0"},
		{"sim", "--burst", "1s"},
		{"sim", "--speedup", "-3"},
		{"sim", "--dup-rate", "-0.5"},
		{"sim", "--model", "fleet", "--bad-rate", "1.5"},
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

// TestSimDayCommand runs the day model as fast as possible for two
// simulated hours at a small scale and checks the report against the
// generator's own counts.
func TestSimDayCommand(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "port.ais", "port.transport", "port.customs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	err = run(t.Context(), []string{"sim", "--brokers", strings.Join(c.ListenAddrs(), ","), "--scale", "0.05", "--duration", "3h",
		"--rate", "max", "--start", start.Format(time.RFC3339)}, func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := sim.NewDayGenerator(sim.DayConfig{Scale: 0.05, Duration: 3 * time.Hour, Start: start, Seed: 1})
	recs := g.Next(nil, 1<<30)
	st := g.Stats()
	want := []string{fmt.Sprintf("day model: %d records", len(recs)), fmt.Sprintf("malformed       %d", st.Malformed)}
	for i, n := range st.ByKind {
		want = append(want, fmt.Sprintf("%-15s %d\n", sim.KindNames[i], n))
	}
	if st.ByKind[1] == 0 || st.ByKind[0] == 0 {
		t.Fatalf("no RFID or no AIS records in the test's traffic: %+v", st)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
}

// TestProgressLine: the live line has the elapsed time, the simulated
// clock, the rate, the totals by type and the ETA.
func TestProgressLine(t *testing.T) {
	var st sim.DayStats
	st.Produced, st.ByKind[0], st.ByKind[2], st.Malformed, st.Duplicates, st.Late = 1500, 300, 1200, 3, 4, 5
	line := progressLine(sim.DayProgress{Elapsed: 75 * time.Second, SimTime: time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC),
		Stats: st, Rate: 20.4, ETA: 90 * time.Second})
	for _, want := range []string{"sim 1m15s", "day 11-22 07:30", "20 rec/s", "1500 records", "rfid 300", "truck.position 1200",
		"malformed 3 dup 4 late 5", "ETA 1m30s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, " ais ") {
		t.Errorf("progress line %q shows a type with no records", line)
	}
}

// TestDemoSimFlags: the demo runs the day model unless told otherwise.
func TestDemoSimFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		model string
	}{
		{nil, "day"},
		{[]string{"--sim-rate", "0"}, "off"},
		{[]string{"--sim", "off"}, "off"},
		{[]string{"--sim", "fleet", "--sim-rate", "50"}, "fleet"},
		{[]string{"--sim-scale", "0.2", "--sim-speedup", "10"}, "day"},
	} {
		f, err := parseDemoFlags(tc.args, io.Discard)
		if err != nil || f.simModel != tc.model {
			t.Errorf("parseDemoFlags(%q) = %q, %v; want %q", tc.args, f.simModel, err, tc.model)
		}
	}
	for _, args := range [][]string{{"--sim", "week"}, {"--sim-scale", "0"}, {"--sim-scale", "9"}, {"--sim-speedup", "0"}} {
		_, err := parseDemoFlags(args, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("parseDemoFlags(%q) = %v, want exit code 2", args, err)
		}
	}
}
