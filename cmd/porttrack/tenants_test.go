package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestAPIKeyTenantHasOneRole: issue 14 item 3. apikey create refuses the
// admin key's tenant for any role, and a tenant name that exists with
// another role, naming why.
func TestAPIKeyTenantHasOneRole(t *testing.T) {
	dir := t.TempDir()
	initState(t, dir) // apikey works on the data directory of a node that has run
	create := func(tenant, role string, extra ...string) (string, error) {
		var errOut bytes.Buffer
		args := append([]string{"apikey", "create", "--data-dir", dir, "--tenant", tenant, "--role", role}, extra...)
		err := run(t.Context(), args, env(nil), io.Discard, &errOut)
		if err != nil {
			return err.Error(), err
		}
		return errOut.String(), nil
	}
	for _, c := range []struct {
		tenant, role string
		extra        []string
		mention      string
	}{
		{"admin", "logistics", []string{"--booking", "NOPE"}, "reserved for the admin key"},
		{"admin", "port", nil, "reserved for the admin key"},
	} {
		msg, err := create(c.tenant, c.role, c.extra...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(msg, c.mention) || !strings.Contains(msg, "tenant") {
			t.Errorf("create --tenant %s --role %s: %v (%s), want exit 2 saying %q", c.tenant, c.role, err, msg, c.mention)
		}
	}
	if msg, err := create("ops", "port"); err != nil {
		t.Fatalf("create ops port: %v %s", err, msg)
	}
	msg, err := create("ops", "logistics", "--booking", "NOPE")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(msg, `"ops" has keys of role port, not logistics`) {
		t.Errorf("create ops logistics: %v (%s)", err, msg)
	}
	if msg, err := create("ops", "port"); err != nil {
		t.Errorf("a second port key of ops: %v %s", err, msg)
	}
}

// TestAdminKeyReplaced: issue 14 item 4. Starting with a new admin_key
// removes the old one (it no longer authenticates); starting without one
// leaves no admin key; admin_key_file reads the key from a file.
func TestAdminKeyReplaced(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "admin.key")
	if err := os.WriteFile(keyFile, []byte("second-admin-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(args []string, getenv func(string) string) *portstate.State {
		t.Helper()
		cfg, err := loadConfig(append([]string{"--brokers", "127.0.0.1:9", "--data-dir", dir, "--http-addr", "127.0.0.1:0"}, args...), getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		n, err := newNode(&cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		n.ln.Close()
		return n.store
	}
	works := func(s *portstate.State, key string) bool {
		t.Helper()
		_, err := s.Tenants.LookupAPIKey(key)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	s := start([]string{"--admin-key", "first-admin-key-0123456789"}, env(nil))
	if !works(s, "first-admin-key-0123456789") {
		t.Error("the admin key does not work")
	}
	s.Close()
	s = start([]string{"--admin-key-file", keyFile}, env(nil))
	if works(s, "first-admin-key-0123456789") || !works(s, "second-admin-key-0123456789") {
		t.Error("after replacing the admin key: the old one works or the new one does not")
	}
	s.Close()
	s = start(nil, env(map[string]string{"PORTTRACK_ADMIN_KEY_FILE": keyFile}))
	if !works(s, "second-admin-key-0123456789") {
		t.Error("PORTTRACK_ADMIN_KEY_FILE not read")
	}
	s.Close()
	s = start(nil, env(nil))
	if works(s, "second-admin-key-0123456789") {
		t.Error("the admin key works after admin_key was unset")
	}
	s.Close()
}

// TestTenantSettings: the new settings and their errors.
func TestTenantSettings(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--brokers", "127.0.0.1:9092", "--data-dir", dir}
	cfg, err := loadConfig(base, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimit != 100 || cfg.RateBurst != 200 || cfg.MaxSubscriptions != 100 {
		t.Errorf("defaults: rate_limit %g rate_burst %d max_subscriptions %d", cfg.RateLimit, cfg.RateBurst, cfg.MaxSubscriptions)
	}
	cfg, err = loadConfig(append(base, "--rate-limit", "5", "--rate-burst", "10", "--max-subscriptions", "7"),
		env(map[string]string{"PORTTRACK_RATE_LIMIT": "1"}), io.Discard)
	if err != nil || cfg.validate() != nil || cfg.RateLimit != 5 || cfg.RateBurst != 10 || cfg.MaxSubscriptions != 7 {
		t.Errorf("flags: %+v %v", cfg, err)
	}
	if cfg, err := loadConfig(base, env(map[string]string{"PORTTRACK_RATE_LIMIT": "0", "PORTTRACK_MAX_SUBSCRIPTIONS": "3"}), io.Discard); err != nil ||
		cfg.validate() != nil || cfg.RateLimit != 0 || cfg.MaxSubscriptions != 3 {
		t.Errorf("env: %+v %v", cfg, err)
	}
	empty := filepath.Join(dir, "empty.key")
	os.WriteFile(empty, []byte("\n"), 0o600)
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("short\n"), 0o600)
	for _, c := range []struct {
		name    string
		args    []string
		mention string
	}{
		{"negative rate", []string{"--rate-limit", "-1"}, "rate_limit"},
		{"bad rate", []string{"--rate-limit", "fast"}, "rate_limit"},
		{"zero burst", []string{"--rate-burst", "0"}, "rate_burst"},
		{"zero subscriptions", []string{"--max-subscriptions", "0"}, "max_subscriptions"},
		{"missing key file", []string{"--admin-key-file", filepath.Join(dir, "none")}, "admin_key_file"},
		{"empty key file", []string{"--admin-key-file", empty}, "admin_key_file"},
		{"short key in file", []string{"--admin-key-file", short}, "admin_key"},
		{"key and key file", []string{"--admin-key-file", short, "--admin-key", "0123456789abcdef0"}, "admin_key_file"},
	} {
		err := run(t.Context(), append(append([]string{"serve"}, base...), c.args...), env(nil), io.Discard, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: %v, want exit code 2 naming %s", c.name, err, c.mention)
		}
	}
}
