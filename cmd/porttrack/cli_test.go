package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestHelp: --help (and -h) of every command and subcommand prints the
// usage and each flag with its type and default to stdout, and exits 0.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"help"}, []string{"porttrack serve"}},
		{[]string{"--help"}, []string{"porttrack apikey"}},
		{[]string{"serve", "--help"}, []string{"--no-sync bool", "(default false)", "--session-timeout duration", "(default 10s)",
			"--brokers list", "--max-fences int", "(default 1000)", "--group string", `(default "porttrack")`,
			"--customs-amount-tolerance float", "(default 0.01)", "--track-retention duration", "(default 168h)", "--config string"}},
		{[]string{"serve", "-h"}, []string{"--no-sync bool"}},
		{[]string{"serve", "--help"}, []string{"--webhooks-allow list", "--webhooks-deny list", "--cors-origins list", "(default none)"}},
		{[]string{"-help"}, []string{"porttrack apikey"}},
		{[]string{"ais", "-help"}, []string{"--lenient bool"}},
		{[]string{"demo", "--help"}, []string{"--partitions int", "(default 6)", "--sim string", `(default "day")`, "--sim-speedup float"}},
		{[]string{"sim", "--help"}, []string{"--scale float", "(default 1)", "--duration duration", "(default 24h)", "--bad-rate float"}},
		{[]string{"bench", "--help"}, []string{"Scenarios:", "--records int", "(default 200000)", "--quick bool", "--probe-every duration", "(default 20ms)"}},
		{[]string{"bench", "ingest", "--help"}, []string{"--records int"}},
		{[]string{"ais", "--help"}, []string{"--lenient bool", "(default false)"}},
		{[]string{"ais", "decode", "--help"}, []string{"--lenient bool", "--stats bool"}},
		{[]string{"apikey", "--help"}, []string{"porttrack apikey create", "--tenant string", "--booking list", "apikey revoke [flags] ID", "--data-dir string"}},
		{[]string{"apikey", "-h"}, []string{"--tenant string"}},
		{[]string{"apikey", "help"}, []string{"--tenant string"}},
		{[]string{"apikey", "create", "--help"}, []string{"--tenant string", "--role string", "--party-code list", "(default none)"}},
		{[]string{"apikey", "list", "--help"}, []string{"--data-dir string"}},
		{[]string{"apikey", "revoke", "-h"}, []string{"--data-dir string"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(t.Context(), c.args, env(nil), &out, &errOut); err != nil {
				t.Fatalf("run(%q) = %v, want nil (exit 0); stderr %s", c.args, err, errOut.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if errOut.Len() > 0 {
				t.Errorf("help wrote to stderr: %s", errOut.String())
			}
		})
	}
}

// TestBoolFlags: boolean settings are boolean flags: alone they mean true,
// =false and =true work, and the flag after one is not taken as its value.
func TestBoolFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{[]string{"--no-sync"}, nil, true},
		{[]string{"--no-sync", "--group", "g"}, nil, true},
		{[]string{"--no-sync=true"}, nil, true},
		{[]string{"--no-sync=false"}, nil, false},
		{[]string{"-no-sync"}, nil, true},
		{nil, nil, false},
		{nil, map[string]string{"PORTTRACK_NO_SYNC": "true"}, true},
		{[]string{"--no-sync=false"}, map[string]string{"PORTTRACK_NO_SYNC": "true"}, false},
	} {
		cfg, err := loadConfig(c.args, env(c.env), io.Discard)
		if err != nil {
			t.Errorf("loadConfig(%q, %v): %v", c.args, c.env, err)
			continue
		}
		if cfg.NoSync != c.want {
			t.Errorf("loadConfig(%q, %v): no_sync %v, want %v", c.args, c.env, cfg.NoSync, c.want)
		}
		if slices.Contains(c.args, "--group") && cfg.Group != "g" {
			t.Errorf("loadConfig(%q): group %q, want g", c.args, cfg.Group)
		}
	}
	err := run(t.Context(), []string{"serve", "--no-sync=maybe", "--brokers", "a:1", "--data-dir", t.TempDir()}, env(nil), io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "no_sync") || !strings.Contains(err.Error(), "true or false") {
		t.Errorf("--no-sync=maybe: %v", err)
	}
}

// TestYAMLSettingErrors: a bad value in the config file names the setting,
// the file's line and what the setting wants, never a Go type.
func TestYAMLSettingErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"int", "max_fences: lots\n", []string{"max_fences", "line 1", `want an integer number of fences, got "lots"`}},
		{"nested int", "webhooks:\n  max_batch: 1.5\n", []string{"webhooks.max_batch", "line 2", "want an integer"}},
		{"duration", "session_timeout: soon\n", []string{"session_timeout", "want a duration such as 10s"}},
		{"bare number duration", "fence_min_dwell: 30\n", []string{"fence_min_dwell", "want a duration"}},
		{"bool", "no_sync: maybe\n", []string{"no_sync", "want true or false"}},
		{"float", "customs:\n  amount_tolerance: cheap\n", []string{"customs.amount_tolerance", "want a number"}},
		{"list for a single value", "group: [a, b]\n", []string{"group", "got a list"}},
		{"mapping for a list", "brokers: {a: b}\n", []string{"brokers", "got a mapping"}},
		{"scalar for a section", "webhooks: 5\n", []string{"webhooks", "want a mapping of settings"}},
		{"unknown key", "brokres: [a:1]\n", []string{"brokres", "no such setting", "did you mean brokers?"}},
		{"unknown nested key", "webhooks:\n  timout: 1s\n", []string{"webhooks.timout", "did you mean webhooks.timeout?"}},
		{"twice", "group: a\ngroup: b\n", []string{"group", "given twice"}},
		{"readers entry not a mapping", "readers:\n  R1: [a]\n", []string{"readers", "want a mapping, got a list"}},
		{"readers unknown key", "readers:\n  R1: {facilty: X}\n", []string{"readers", `unknown key "facilty"`}},
		{"syntax", "group: [a\n", []string{"config", "line"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig([]string{"--config", path}, env(nil), io.Discard)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("loadConfig: %v, want exit code 2", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, goish := range []string{"!!", "unmarshal", "time.Duration", "rfid.Reader", " into ", "int64", "[]string", "main."} {
				if strings.Contains(err.Error(), goish) {
					t.Errorf("error %q mentions %q", err, goish)
				}
			}
		})
	}
}

// TestBrokersSetting: brokers is a YAML list or one comma-separated string,
// as its flag and variable are.
func TestBrokersSetting(t *testing.T) {
	dir := t.TempDir()
	want := []string{"k1:9092", "k2:9092"}
	for i, y := range []string{
		"brokers: [k1:9092, k2:9092]\n",
		"brokers:\n  - k1:9092\n  - k2:9092\n",
		"brokers: k1:9092,k2:9092\n",
		"brokers: \"k1:9092, k2:9092\"\n",
		"brokers: [\"k1:9092,k2:9092\"]\n",
	} {
		path := filepath.Join(dir, "b.yaml")
		if err := os.WriteFile(path, []byte(y+"data_dir: /d\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig([]string{"--config", path}, env(nil), io.Discard)
		if err != nil {
			t.Errorf("%d %q: %v", i, y, err)
			continue
		}
		if !slices.Equal(cfg.Brokers, want) {
			t.Errorf("%d %q: brokers %q, want %q", i, y, cfg.Brokers, want)
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("%d %q: %v", i, y, err)
		}
	}
	// A key with no value keeps the default.
	path := filepath.Join(dir, "empty.yaml")
	os.WriteFile(path, []byte("group:\nbrokers: k1:9092\n"), 0o644)
	if cfg, err := loadConfig([]string{"--config", path}, env(nil), io.Discard); err != nil || cfg.Group != "porttrack" {
		t.Errorf("group: with no value: %q, %v; want the default porttrack", cfg.Group, err)
	}
}

// TestMissingSettingNamesSources: the errors of the required settings name
// the flag, the variable and the file key.
func TestMissingSettingNamesSources(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data-dir", "/d"}, "invalid setting brokers: at least one broker is required (--brokers, PORTTRACK_BROKERS or brokers: in the config file)"},
		{[]string{"serve", "--brokers", "k:1"}, "invalid setting data_dir: a directory for the state database is required (--data-dir, PORTTRACK_DATA_DIR or data_dir: in the config file)"},
		{[]string{"apikey", "list"}, "(--data-dir or PORTTRACK_DATA_DIR)"},
	} {
		err := run(t.Context(), c.args, env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want %q", c.args, err, c.want)
		}
	}
}

// TestAPIKeyDataDir: apikey refuses a data dir without porttrack state
// (and creates nothing in it), and says a running node holds the state
// instead of Pebble's lock error.
func TestAPIKeyDataDir(t *testing.T) {
	empty := t.TempDir()
	for _, sub := range [][]string{{"create", "--tenant", "t", "--role", "port"}, {"list"}, {"revoke", "k"}} {
		args := append([]string{"apikey", sub[0], "--data-dir", empty}, sub[1:]...)
		err := run(t.Context(), args, env(nil), io.Discard, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "holds no porttrack state") || !strings.Contains(err.Error(), "data_dir") {
			t.Errorf("run(%q) = %v, want exit 2 naming data_dir and the missing state", args, err)
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("apikey created %v in a data dir without state", ents)
	}

	// A node holding the state in another process.
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldState$")
	cmd.Env = append(os.Environ(), "PORTTRACK_TEST_HOLD_STATE="+filepath.Join(dir, "state"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "holding" {
	}
	go io.Copy(io.Discard, stdout)
	for _, args := range [][]string{{"apikey", "list", "--data-dir", dir}, {"apikey", "create", "--data-dir", dir, "--tenant", "t", "--role", "port"}} {
		err := run(t.Context(), args, env(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "in use by a running porttrack node: stop the node") || strings.Contains(err.Error(), "temporarily unavailable") {
			t.Errorf("run(%q) on a running node's dir = %v", args, err)
		}
	}
	// In this process too (the state open here).
	s, err := portstate.Open(state.Options{Dir: filepath.Join(empty, "state")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := run(t.Context(), []string{"apikey", "list", "--data-dir", empty}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "running porttrack node") {
		t.Errorf("apikey list on a dir open in this process: %v", err)
	}
}

// TestHoldState is TestAPIKeyDataDir's other process: it holds a state
// database open until its stdin closes.
func TestHoldState(t *testing.T) {
	dir := os.Getenv("PORTTRACK_TEST_HOLD_STATE")
	if dir == "" {
		return // run by TestAPIKeyDataDir only
	}
	s, err := portstate.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("holding\n")
	io.Copy(io.Discard, os.Stdin)
}
