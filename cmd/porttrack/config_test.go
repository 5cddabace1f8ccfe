package main

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/porttrack/porttrack/state/dcsa"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig([]string{"--config", "../../deploy/porttrack.example.yaml"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Brokers) != 3 || cfg.Readers != nil || cfg.SessionTimeout != 10*time.Second {
		t.Fatalf("example config read as %+v", cfg)
	}
}

// TestExampleConfigDefaults: deploy/porttrack.example.yaml says it lists
// every setting with its default. Every YAML key of Config must be in it
// with the value of defaultConfig, except the required settings without a
// default (brokers, data_dir: present, any value) and the reader table
// (absent: a readers: section replaces the built-in table, and copying one
// dead-lettered the demo's reads as unknown_reader).
func TestExampleConfigDefaults(t *testing.T) {
	const path = "../../deploy/porttrack.example.yaml"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var keys func(n *yaml.Node, prefix string)
	keys = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			present[k] = true
			keys(n.Content[i+1], k+".")
		}
	}
	keys(doc.Content[0], "")

	var got Config // zero: a setting the example leaves out stays zero
	if err := loadFile(&got, path); err != nil {
		t.Fatal(err)
	}
	def := defaultConfig()
	required := map[string]bool{"brokers": true, "data_dir": true}
	n := 0
	var walk func(g, d reflect.Value, prefix string)
	walk = func(g, d reflect.Value, prefix string) {
		for i := 0; i < d.NumField(); i++ {
			name := yamlName(d.Type().Field(i))
			if name == "" {
				continue
			}
			key := prefix + name
			gf, df := g.Field(i), d.Field(i)
			if df.Kind() == reflect.Struct && df.Type() != durationType {
				walk(gf, df, key+".")
				continue
			}
			n++
			switch {
			case key == "readers":
				if present[key] {
					t.Errorf("%s: the example sets readers:, which replaces the built-in reader table", path)
				}
			case !present[key]:
				t.Errorf("%s: setting %s missing (default %s)", path, key, formatValue(df))
			case required[key]:
			case !reflect.DeepEqual(gf.Interface(), df.Interface()):
				t.Errorf("%s: %s is %s, the default is %s", path, key, formatValue(gf), formatValue(df))
			}
		}
	}
	walk(reflect.ValueOf(got), reflect.ValueOf(def), "")
	if n < 40 {
		t.Fatalf("compared %d settings, want every one of Config's (40 or more)", n)
	}
	if !strings.Contains(string(raw), "# readers:") {
		t.Errorf("%s: the commented readers: example is gone", path)
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte("brokers: [file:9092]\ndata_dir: /from/file\ngroup: filegroup\nhttp_addr: 127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", path, "--http-addr", "127.0.0.1:3"},
		env(map[string]string{"PORTTRACK_GROUP": "envgroup", "PORTTRACK_HTTP_ADDR": "127.0.0.1:2", "PORTTRACK_TOPICS_RFID": "rfid.in"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Brokers[0] != "file:9092" || cfg.DataDir != "/from/file" || cfg.Group != "envgroup" || cfg.HTTPAddr != "127.0.0.1:3" || cfg.Topics.RFID != "rfid.in" {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
}

// TestInvalidSettingExits2 checks that a bad setting from any source exits
// with code 2 and a message naming the setting.
func TestInvalidSettingExits2(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	os.WriteFile(unknown, []byte("brokers: [a:1]\nbrokres: [b:2]\n"), 0o644)
	base := []string{"serve", "--brokers", "127.0.0.1:9092", "--data-dir", dir}
	for _, c := range []struct {
		name    string
		args    []string
		env     map[string]string
		mention string
	}{
		{"no brokers", []string{"serve", "--data-dir", dir}, nil, "brokers"},
		{"no data dir", []string{"serve", "--brokers", "127.0.0.1:9092"}, nil, "data_dir"},
		{"bad broker", []string{"serve", "--brokers", "nohostport", "--data-dir", dir}, nil, "brokers"},
		{"bad number flag", append(base, "--max-record-bytes", "lots"), nil, "max_record_bytes"},
		{"bad webhooks allow", append(base, "--webhooks-allow", "127.0.0.0/33"), nil, "webhooks.allow"},
		{"bad webhooks allow env", base, map[string]string{"PORTTRACK_WEBHOOKS_ALLOW": "loopback"}, "webhooks.allow"},
		{"bad cors origin", append(base, "--cors-origins", "https://app.example.com,*"), nil, "cors_origins"},
		{"cors origin with a path", base, map[string]string{"PORTTRACK_CORS_ORIGINS": "https://app.example.com/ui"}, "cors_origins"},
		{"number out of range", append(base, "--max-record-bytes", "0"), nil, "max_record_bytes"},
		{"bad env duration", base, map[string]string{"PORTTRACK_SESSION_TIMEOUT": "soon"}, "PORTTRACK_SESSION_TIMEOUT"},
		{"bad log level", append(base, "--log-level", "loud"), nil, "log_level"},
		{"bad fence dwell", append(base, "--fence-min-dwell", "a while"), nil, "fence_min_dwell"},
		{"zero guard step", append(base, "--guard-load", "0s"), nil, "guard.load"},
		{"guard step from env", base, map[string]string{"PORTTRACK_GUARD_TRANSFER": "1000h"}, "guard.transfer"},
		{"negative fence dwell", base, map[string]string{"PORTTRACK_FENCE_MIN_DWELL": "-1s"}, "fence_min_dwell"},
		{"bad max fences", append(base, "--max-fences", "many"), nil, "max_fences"},
		{"max fences out of range", append(base, "--max-fences", "0"), nil, "max_fences"},
		{"dlq equals input", append(base, "--topics-dlq", "port.rfid"), nil, "topics.dlq"},
		{"bad http addr", append(base, "--http-addr", "8080"), nil, "http_addr"},
		{"unknown file key", append(base, "--config", unknown), nil, "brokres"},
		{"missing file", append(base, "--config", filepath.Join(dir, "none.yaml")), nil, "config"},
		{"unknown flag", append(base, "--nope"), nil, "nope"},
		{"unknown customs rule", append(base, "--customs-rules", "payer_not_buyer,nope"), nil, "customs.rules"},
		{"customs tolerance out of range", base, map[string]string{"PORTTRACK_CUSTOMS_WEIGHT_TOLERANCE": "2"}, "customs.weight_tolerance"},
		{"bad customs wait", append(base, "--customs-incomplete-after", "soon"), nil, "customs.incomplete_after"},
		{"missing trusted certs", append(base, "--customs-trusted-certs", filepath.Join(dir, "none.pem")), nil, "customs.trusted_certs"},
		{"bad demo partitions", []string{"demo", "--partitions", "0"}, nil, "partitions"},
		{"unknown command", []string{"fly"}, nil, "fly"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := run(t.Context(), c.args, env(c.env), io.Discard, io.Discard)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("run(%q) = %v, want exit code 2", c.args, err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not name %q", err, c.mention)
			}
		})
	}
}

// TestWebhookRangeSettings: webhooks.allow and webhooks.deny take a YAML
// list or a comma-separated string; a range written in IPv4-mapped form
// applies to the IPv4 addresses it maps (addresses are compared unmapped);
// a zoned entry is refused, not silently dropped.
func TestWebhookRangeSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(path, []byte("brokers: [k:9092]\ndata_dir: /d\nwebhooks:\n  allow: [127.0.0.0/8, \"::1/128\"]\n  deny: [\"::ffff:203.0.113.0/120\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"--config", path}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	allow, _ := cfg.Webhooks.allowPrefixes()
	deny, _ := cfg.Webhooks.denyPrefixes()
	list := dcsa.CallbackDenyList(deny, allow)
	for a, want := range map[string]bool{"127.0.0.1": false, "::1": false, "203.0.113.5": true, "::ffff:203.0.113.5": true, "10.0.0.1": true} {
		if got := dcsa.DeniedAddr(netip.MustParseAddr(a), list); got != want {
			t.Errorf("%s denied %v, want %v", a, got, want)
		}
	}
	cfg, err = loadConfig([]string{"--brokers", "k:9092", "--data-dir", "/d", "--webhooks-allow", "127.0.0.0/8, ::1/128"}, env(nil), io.Discard)
	if err != nil || len(cfg.Webhooks.Allow) != 2 {
		t.Fatalf("comma-separated flag: %v %q", err, cfg.Webhooks.Allow)
	}
	cfg, err = loadConfig([]string{"--brokers", "k:9092", "--data-dir", "/d", "--webhooks-deny", "fe80::1%eth0"}, env(nil), io.Discard)
	if err == nil {
		err = cfg.validate()
	}
	if err == nil || !strings.Contains(err.Error(), "webhooks.deny") || !strings.Contains(err.Error(), "zone") {
		t.Errorf("zoned deny entry: %v, want an error naming webhooks.deny and the zone", err)
	}
}
