package main

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// TestAPIKeyCommand creates, lists and revokes keys on a data dir; the
// store keeps only hashes.
func TestAPIKeyCommand(t *testing.T) {
	dir := t.TempDir()
	initState(t, dir)
	var out, errOut bytes.Buffer
	args := []string{"apikey", "create", "--data-dir", dir, "--tenant", "acme", "--role", "logistics", "--booking", "BKG-1,BKG-2", "--party-code", "ACME"}
	if err := run(t.Context(), args, env(nil), &out, &errOut); err != nil {
		t.Fatalf("create: %v %s", err, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "pt_") || len(key) < 40 {
		t.Fatalf("key %q", key)
	}
	s, err := portstate.Open(state.Options{Dir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Tenants.LookupAPIKey(key)
	var raw bytes.Buffer
	s.Tenants.APIKeys(func(k *tenant.APIKey) error { raw.WriteString(k.Tenant + k.Role); return nil })
	s.Close()
	if err != nil || k.Tenant != "acme" || k.Role != "logistics" || len(k.Scope.Bookings) != 2 || k.Scope.Parties[0] != "ACME" {
		t.Fatalf("stored key %+v, %v", k, err)
	}
	out.Reset()
	if err := run(t.Context(), []string{"apikey", "list", "--data-dir", dir}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), k.ID) || !strings.Contains(out.String(), "BKG-1,BKG-2") || strings.Contains(out.String(), key) {
		t.Fatalf("list:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"apikey", "revoke", "--data-dir", dir, k.ID}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"apikey", "revoke", "--data-dir", dir, k.ID}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	for _, bad := range [][]string{
		{"apikey", "create", "--data-dir", dir, "--tenant", "x", "--role", "admin"},
		{"apikey", "create", "--data-dir", dir, "--role", "port"},
		{"apikey", "create", "--data-dir", dir, "--tenant", "x", "--role", "logistics"},
		{"apikey", "create", "--tenant", "x", "--role", "port"},
		{"apikey", "fly"},
		{"serve", "--brokers", "127.0.0.1:9092", "--data-dir", dir, "--admin-key", "short"},
		{"serve", "--brokers", "127.0.0.1:9092", "--data-dir", dir, "--webhooks-deny", "10.0.0.0/33"},
		{"serve", "--brokers", "127.0.0.1:9092", "--data-dir", dir, "--webhooks-max-failures", "0"},
		{"demo", "--http-addr", "0.0.0.0:0"},
	} {
		err := run(t.Context(), bad, env(nil), io.Discard, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("run(%q) = %v, want exit code 2", bad, err)
		}
	}
}

// initState makes dir the data dir of a node that has run: it holds a
// state database.
func initState(t *testing.T, dir string) {
	t.Helper()
	s, err := portstate.Open(state.Options{Dir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
