package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGatewayFlagsLayers(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfgFile, []byte("brokers: [k1:9092, k2:9092]\ndata_dir: /from/file\nmax_conns: 7\nidle_timeout: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PORTTRACK_GATEWAY_DATA_DIR": "/from/env", "PORTTRACK_GATEWAY_IDLE_TIMEOUT": "2m"}
	f, err := parseGatewayFlags([]string{"--config", cfgFile, "--idle-timeout", "3s"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if f.brokers != "k1:9092,k2:9092" || f.dataDir != "/from/env" || f.maxConns != 7 || f.idleTimeout != 3*time.Second ||
		f.listen != "127.0.0.1:6808" || f.topic != "port.transport" || f.maxConnsPerIP != 1000 {
		t.Fatalf("flags %+v", f)
	}
}

func TestGatewayFlagsErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--data-dir", "x"}, nil, "--brokers"},
		{[]string{"--brokers", "b"}, nil, "--data-dir"},
		{[]string{"--brokers", "b", "--data-dir", "x", "--max-frame", "10"}, nil, "--max-frame"},
		{[]string{"--brokers", "b", "--data-dir", "x"}, map[string]string{"PORTTRACK_GATEWAY_MAX_CONNS": "many"}, "max-conns"},
		{[]string{"--brokers", "b", "--data-dir", "x", "extra"}, nil, "unexpected"},
	} {
		getenv := noEnv
		if c.env != nil {
			getenv = func(k string) string { return c.env[k] }
		}
		_, err := parseGatewayFlags(c.args, getenv, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: err %v, want one naming %s", c.args, c.env, err, c.want)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(cfgFile, []byte("brokerz: x\n"), 0o600)
	if _, err := parseGatewayFlags([]string{"--config", cfgFile}, noEnv, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "brokerz") {
		t.Errorf("unknown config key: err %v", err)
	}
}

func TestGatewayHelpAndDispatch(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"gateway", "jt808", "--help"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--listen string", `(default "127.0.0.1:6808")`, "--allow-file string", "--idle-timeout duration", "(default 3m)", "PORTTRACK_GATEWAY_"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q on stdout:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"gateway", "--help"}, func(string) string { return "" }, &out, &errOut); err != nil || !strings.Contains(out.String(), "--listen string") {
		t.Errorf("gateway --help: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"gateway", "gt06"}, func(string) string { return "" }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "gt06") {
		t.Errorf("unknown protocol: err %v", err)
	}
}

func TestReadAllowFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow")
	os.WriteFile(p, []byte("# c\n013912345678 浙B12345  # truck 1\n\n13900000002 浙B67890\n"), 0o600)
	a, err := readAllowFile(p)
	if err != nil || len(a) != 2 || a["13912345678"] != "浙B12345" || a["13900000002"] != "浙B67890" {
		t.Fatalf("%v %v", a, err)
	}
	os.WriteFile(p, []byte("13912345678 浙B12345\n013912345678 浙B1\n"), 0o600)
	if _, err := readAllowFile(p); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate device: %v", err)
	}
	os.WriteFile(p, []byte("13912345678\n"), 0o600)
	if _, err := readAllowFile(p); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("bad line: %v", err)
	}
}
