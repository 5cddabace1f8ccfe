package main

// End-to-end tests of `porttrack demo` itself: its consumer group, its data
// directory, and what its day model shows after a few simulated minutes.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// startDemoArgs runs the demo in-process on free ports with args added (the
// simulators are off unless args turn them on) and waits until /readyz is
// 200. At cleanup it stops the demo and, on failure, logs its output.
func startDemoArgs(t *testing.T, args ...string) *demoRun {
	t.Helper()
	d := &demoRun{broker: freeAddr(t), httpAddr: freeAddr(t), done: make(chan error, 1)}
	d.base = "http://" + d.httpAddr
	var ctx context.Context
	ctx, d.cancel = context.WithCancel(context.Background())
	all := append([]string{"demo", "--broker-addr", d.broker, "--http-addr", d.httpAddr, "--partitions", "2"}, args...)
	go func() { d.done <- run(ctx, all, os.Getenv, &d.stdout, &d.stderr) }()
	t.Cleanup(func() {
		d.cancel()
		if !d.returned {
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
				t.Errorf("run did not return within 10 s of cancellation")
			}
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s", d.stdout.String())
			t.Logf("demo stderr (tail):\n%s", tail(d.stderr.String(), 40))
		}
	})
	waitFor(t, 30*time.Second, func() (bool, string) {
		d.exited(t)
		code, body, err := httpGet(d.base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		return code == 200, fmt.Sprintf("/readyz: %d %s", code, body)
	})
	return d
}

var simOff = []string{"--sim", "off"}

// TestDemoOwnConsumerGroup: the demo consumes in a group of its own,
// porttrack-demo, so that `serve --group porttrack` (serve's default)
// pointed at the demo's broker is a separate consumer, not a second member
// taking half of the demo's partitions.
func TestDemoOwnConsumerGroup(t *testing.T) {
	d := startDemoArgs(t, append(simOff, "--data-dir", t.TempDir())...)
	client := &kafka.Client{Addr: kafka.TCP(d.broker), Timeout: 5 * time.Second}
	var groups []string
	waitFor(t, 20*time.Second, func() (bool, string) {
		resp, err := client.ListGroups(t.Context(), &kafka.ListGroupsRequest{})
		if err != nil {
			return false, err.Error()
		}
		groups = groups[:0]
		for _, g := range resp.Groups {
			groups = append(groups, g.GroupID)
		}
		return slices.Contains(groups, demoGroup), fmt.Sprintf("groups on the demo's broker: %q", groups)
	})
	if slices.Contains(groups, "porttrack") {
		t.Errorf("groups on the demo's broker: %q; the demo must not use serve's default group porttrack", groups)
	}
	if !strings.Contains(d.stdout.String(), "consumer group "+demoGroup) {
		t.Errorf("the start message does not name the consumer group:\n%s", d.stdout.String())
	}
	d.stop(t)
}

// demoTempDirs lists the demo's temporary data directories under dir.
func demoTempDirs(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "porttrack-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDemoRemovesItsTempDataDir: without --data-dir the demo's temporary
// data directory (broker log and state) is removed at a clean exit.
func TestDemoRemovesItsTempDataDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	d := startDemoArgs(t, simOff...)
	dirs := demoTempDirs(t, tmp)
	if len(dirs) != 1 {
		t.Fatalf("temporary data directories while the demo runs: %q, want one", dirs)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "state")); err != nil {
		t.Fatalf("the running demo's state: %v", err)
	}
	d.stop(t)
	if left := demoTempDirs(t, tmp); len(left) != 0 {
		t.Errorf("left behind after a clean exit: %q", left)
	}
}

// TestDemoFailedStartRemovesWhatItCreated: a demo that cannot start (its
// HTTP address is taken) removes its temporary data directory, and in a
// --data-dir of the user's only what it created there: the directory and
// what was in it stay.
func TestDemoFailedStartRemovesWhatItCreated(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	start := func(args ...string) error {
		t.Helper()
		var out, errOut syncBuffer
		all := append([]string{"demo", "--broker-addr", freeAddr(t), "--http-addr", busy, "--sim", "off", "--partitions", "1"}, args...)
		err := run(t.Context(), all, os.Getenv, &out, &errOut)
		if err == nil {
			t.Fatalf("demo on a taken HTTP address %s started", busy)
		}
		t.Logf("failed start: %v", err)
		return err
	}

	t.Run("temporary", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		start()
		if left := demoTempDirs(t, tmp); len(left) != 0 {
			t.Errorf("left behind after a failed start: %q", left)
		}
	})
	t.Run("user", func(t *testing.T) {
		dir := t.TempDir()
		mine := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		start("--data-dir", dir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("the user's data directory: %v", err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"notes.txt"}) {
			t.Errorf("the user's data directory after a failed start holds %q, want only notes.txt", names)
		}
	})
}

// TestDemoKeepsUserDataDir: a --data-dir given by the user is never
// removed: after a clean exit it holds the state and the broker log.
func TestDemoKeepsUserDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo-data")
	d := startDemoArgs(t, append(simOff, "--data-dir", dir)...)
	d.stop(t)
	for _, sub := range []string{"state", "kafka"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("the user's data directory after a clean exit: %v", err)
		}
	}
}

// getJSON GETs path from the demo and decodes a 200 answer into v.
func getJSON(base, path string, v any) error {
	code, body, err := httpGet(base + path)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %v: %s", path, err, body)
	}
	return nil
}

// TestDemoDayShowsThePort runs the demo as a newcomer does (the day model
// at its default scale, the customs simulators on) at a higher speedup, for
// a few simulated minutes, and checks what the README promises: the
// terminal's yard blocks fill, a customs hold or inspection is listed, and
// simulated time is never in the future (every event time at or before its
// ingest, DCSA events created after they happened, boxes dwelling since
// the past).
func TestDemoDayShowsThePort(t *testing.T) {
	d := startDemoArgs(t, "--sim-speedup", "120", "--data-dir", t.TempDir())

	blocks := []string{"nbct-yard-a", "nbct-yard-b", "nbct-yard-c", "nbct-yard-d", "nbct-yard-e"}
	var stacked map[string]int
	waitForEvery(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		d.exited(t)
		stacked = map[string]int{}
		total := 0
		for _, b := range blocks {
			var v struct{ Count int }
			if err := getJSON(d.base, "/v1/containers?facility="+b+"&count=true&limit=1", &v); err != nil {
				return false, err.Error()
			}
			stacked[b] = v.Count
			total += v.Count
		}
		return total >= 10, fmt.Sprintf("boxes in BLCT's yard blocks: %v", stacked)
	})
	t.Logf("boxes in BLCT's yard blocks: %v", stacked)

	var holds struct {
		Holds []struct {
			Container, Kind string
		}
	}
	waitForEvery(t, 60*time.Second, 200*time.Millisecond, func() (bool, string) {
		d.exited(t)
		if err := getJSON(d.base, "/v1/customs/holds?limit=5", &holds); err != nil {
			return false, err.Error()
		}
		return len(holds.Holds) > 0, "no customs hold listed yet"
	})
	t.Logf("customs holds: %+v", holds.Holds)

	// No event time in the future. The containers in the yard: each event
	// happened at or before it was ingested.
	now := time.Now()
	checked := 0
	for _, b := range blocks {
		var list struct{ Containers []struct{ ID string } }
		if err := getJSON(d.base, "/v1/containers?facility="+b+"&limit=20", &list); err != nil {
			t.Fatal(err)
		}
		for _, c := range list.Containers {
			var ev struct {
				Events []struct {
					Type       string
					Time       time.Time
					IngestedAt time.Time `json:"ingested_at"`
				}
			}
			if err := getJSON(d.base, "/v1/containers/"+c.ID+"/events", &ev); err != nil {
				t.Fatal(err)
			}
			for _, e := range ev.Events {
				checked++
				if e.Time.After(e.IngestedAt) {
					t.Errorf("%s: %s at %v, ingested at %v: the event time is ahead of the wall clock", c.ID, e.Type, e.Time, e.IngestedAt)
				}
			}
		}
	}
	// DCSA events: none happened after it was created.
	var dcsa []struct {
		EventType            string    `json:"eventType"`
		EventDateTime        time.Time `json:"eventDateTime"`
		EventCreatedDateTime time.Time `json:"eventCreatedDateTime"`
	}
	if err := getJSON(d.base, "/v2/events?sort=eventCreatedDateTime:DESC&limit=1000", &dcsa); err != nil {
		t.Fatal(err)
	}
	for _, e := range dcsa {
		checked++
		if e.EventDateTime.After(e.EventCreatedDateTime) {
			t.Errorf("DCSA %s event at %v, created %v: the event time is ahead of the wall clock", e.EventType, e.EventDateTime, e.EventCreatedDateTime)
		}
	}
	// Vessels: no position from the future.
	var vessels struct {
		Vessels []struct {
			MMSI         int       `json:"mmsi"`
			PositionTime time.Time `json:"position_time"`
		}
	}
	if err := getJSON(d.base, "/v1/vessels?near=29.93,121.9&radius=100000&limit=100", &vessels); err != nil {
		t.Fatal(err)
	}
	for _, v := range vessels.Vessels {
		checked++
		if v.PositionTime.After(time.Now()) {
			t.Errorf("vessel %d: position at %v, after the wall clock", v.MMSI, v.PositionTime)
		}
	}
	if checked < 50 || len(dcsa) == 0 || len(vessels.Vessels) == 0 {
		t.Errorf("checked %d times (%d DCSA events, %d vessels): too few to tell", checked, len(dcsa), len(vessels.Vessels))
	}
	// Boxes dwell since the simulated past: dwell_gt finds the discharged
	// ones (with event times ahead of the clock it found none).
	var dwell struct{ Count int }
	if err := getJSON(d.base, "/v1/containers?dwell_gt=1h&count=true&limit=1", &dwell); err != nil {
		t.Fatal(err)
	}
	if dwell.Count == 0 {
		t.Errorf("no box in the terminal for more than an hour, %v after a start %s back", time.Since(now), demoCatchUp)
	}
	t.Logf("%d event times checked; %d boxes in the terminal for more than an hour", checked, dwell.Count)
	d.stop(t)
}
