package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/query"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
)

// Config is the node configuration: from a YAML file (--config), then
// PORTTRACK_* environment variables, then flags, each overriding the last.
type Config struct {
	Brokers        []string `yaml:"brokers"`
	Group          string   `yaml:"group"`
	HTTPAddr       string   `yaml:"http_addr"`
	DataDir        string   `yaml:"data_dir"`
	Topics         Topics   `yaml:"topics"`
	MaxRecordBytes int      `yaml:"max_record_bytes"`
	// DeadLetterMaxBytes bounds the original value a dead letter carries.
	DeadLetterMaxBytes int `yaml:"dead_letter_max_bytes"`
	// MaxBatchBytes bounds the decompressed size of one input record batch.
	MaxBatchBytes int64 `yaml:"max_batch_bytes"`
	// OutboxDegradedAfter: /healthz and /readyz report the outbox degraded
	// when its oldest unpublished entry is older.
	OutboxDegradedAfter time.Duration          `yaml:"outbox_degraded_after"`
	NoSync              bool                   `yaml:"no_sync"`
	LogLevel            string                 `yaml:"log_level"`
	LogFormat           string                 `yaml:"log_format"`
	SessionTimeout      time.Duration          `yaml:"session_timeout"`
	Heartbeat           time.Duration          `yaml:"heartbeat_interval"`
	Readers             map[string]rfid.Reader `yaml:"readers"`
	// PortModel is a GeoJSON file of the port's fences; "" is the built-in
	// Ningbo-Zhoushan model.
	PortModel        string        `yaml:"port_model"`
	PortCallMinDwell time.Duration `yaml:"port_call_min_dwell"`
	// TrackRetention bounds vessel tracks; 0 keeps them whole.
	TrackRetention time.Duration `yaml:"track_retention"`
	// FenceMinDwell is how long an object must be observed inside (outside)
	// a tenant's geofence before it enters (exits).
	FenceMinDwell time.Duration `yaml:"fence_min_dwell"`
	// MaxFences bounds the geofences of one tenant.
	MaxFences int `yaml:"max_fences"`
	// AdminKey, when set, is stored at start as the admin key: the one key
	// of tenant "admin" (role port), replacing any earlier one.
	AdminKey string `yaml:"admin_key"`
	// AdminKeyFile names a file holding the admin key (so that it appears
	// in no process list); loadConfig reads it into AdminKey.
	AdminKeyFile string `yaml:"admin_key_file"`
	// RateLimit is the requests per second one API key may send (RateBurst
	// saved up); 0 turns the limit off.
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// MaxSubscriptions bounds the DCSA event subscriptions of one tenant.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// Webhook delivery of DCSA event subscriptions.
	Webhooks Webhooks `yaml:"webhooks"`
	// Stream bounds the live stream /v1/stream.
	Stream Stream `yaml:"stream"`
	// CORSOrigins are the web origins whose pages may call the API.
	CORSOrigins []string `yaml:"cors_origins"`
	// openAPI lets requests without a key act as the port operator (only
	// the demo on loopback sets it).
	openAPI bool
	// Guard holds the connection guard's expected step durations.
	Guard GuardSteps `yaml:"guard"`
	// Customs configures three-document matching and CEB signatures.
	Customs CustomsSettings `yaml:"customs"`
}

// GuardSteps are how long the connection guard expects each remaining step
// of a box to take before its rail or barge departure.
type GuardSteps struct {
	Discharge    time.Duration `yaml:"discharge"`
	HoldClear    time.Duration `yaml:"hold_clear"`
	CustomsClear time.Duration `yaml:"customs_clear"`
	Transfer     time.Duration `yaml:"transfer"`
	Load         time.Duration `yaml:"load"`
}

// Stream bounds the live stream /v1/stream (query.StreamConfig).
type Stream struct {
	MaxClients int           `yaml:"max_clients"`
	Ring       int           `yaml:"ring"`
	Stall      time.Duration `yaml:"stall"`
	Heartbeat  time.Duration `yaml:"heartbeat"`
	Flush      time.Duration `yaml:"flush"`
	TokenTTL   time.Duration `yaml:"token_ttl"`
}

func (s Stream) query() query.StreamConfig {
	return query.StreamConfig{MaxClients: s.MaxClients, Ring: s.Ring, Stall: s.Stall, Heartbeat: s.Heartbeat, Flush: s.Flush, TokenTTL: s.TokenTTL}
}

// Webhooks tune the delivery of DCSA event subscriptions.
type Webhooks struct {
	Timeout     time.Duration `yaml:"timeout"`
	MaxFailures int           `yaml:"max_failures"`
	MaxBatch    int           `yaml:"max_batch"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// Callbacks may not reach loopback, private, link-local and other
	// non-public ranges (dcsa.DefaultCallbackDeny) unless Allow lists
	// them, nor the ranges in Deny (which wins over Allow). Both are lists
	// of CIDR ranges or addresses.
	Deny  []string `yaml:"deny"`
	Allow []string `yaml:"allow"`
}

// denyPrefixes parses Deny.
func (w Webhooks) denyPrefixes() ([]netip.Prefix, error) { return parsePrefixes(w.Deny) }

// allowPrefixes parses Allow.
func (w Webhooks) allowPrefixes() ([]netip.Prefix, error) { return parsePrefixes(w.Allow) }

// parsePrefixes parses CIDR ranges or addresses. An IPv4-mapped range
// (::ffff:10.0.0.0/104) is taken as the IPv4 range it maps, as addresses are
// compared unmapped; a zone (fe80::1%eth0) is refused: ranges have none.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range list {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if strings.Contains(f, "%") {
			return nil, fmt.Errorf("%q has a zone: give the range without it", f)
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			if a, aerr := netip.ParseAddr(f); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, fmt.Errorf("%q is not a CIDR range", f)
			}
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// listSetting sets a list setting from its flag's comma-separated text.
func listSetting(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		l := field(c)
		*l = nil
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				*l = append(*l, e)
			}
		}
		return nil
	}
}

// CustomsSettings are the customs.* settings.
type CustomsSettings struct {
	// Rules are the enabled three-document match rules; nil: all.
	Rules           []string      `yaml:"rules"`
	AmountTolerance float64       `yaml:"amount_tolerance"`
	WeightTolerance float64       `yaml:"weight_tolerance"`
	IncompleteAfter time.Duration `yaml:"incomplete_after"`
	// TrustedCerts is a PEM file of certificates whose CEB signatures are
	// verified; "" accepts signatures unverified.
	TrustedCerts string `yaml:"trusted_certs"`
}

// Topics are the Kafka topic names.
type Topics struct {
	RFID           string `yaml:"rfid"`
	AIS            string `yaml:"ais"`
	Customs        string `yaml:"customs"`
	Transport      string `yaml:"transport"`
	Events         string `yaml:"events"`
	Alerts         string `yaml:"alerts"`
	CustomsResults string `yaml:"customs_results"`
	DLQ            string `yaml:"dlq"`
}

func defaultConfig() Config {
	return Config{
		Group:          "porttrack",
		HTTPAddr:       "127.0.0.1:8080",
		MaxRecordBytes: ingest.DefaultMaxRecordBytes,
		// The three below: ingest's defaults.
		DeadLetterMaxBytes:  ingest.DefaultDeadLetterMaxBytes,
		MaxBatchBytes:       ingest.DefaultMaxBatchBytes,
		OutboxDegradedAfter: ingest.DefaultOutboxDegradedAfter,
		LogLevel:            "info",
		LogFormat:           "text",
		SessionTimeout:      10 * time.Second,
		Heartbeat:           time.Second,
		PortCallMinDwell:    2 * time.Minute,
		TrackRetention:      7 * 24 * time.Hour,
		FenceMinDwell:       30 * time.Second,
		Guard: GuardSteps{Discharge: 6 * time.Hour, HoldClear: 24 * time.Hour, CustomsClear: 24 * time.Hour,
			Transfer: 2 * time.Hour, Load: time.Hour},
		MaxFences: 1000,
		Webhooks:  Webhooks{Timeout: 10 * time.Second, MaxFailures: 10, MaxBatch: 100, BackoffMax: 5 * time.Minute},
		Stream:    Stream{MaxClients: 1000, Ring: 65536, Stall: 10 * time.Second, Heartbeat: 15 * time.Second, Flush: 250 * time.Millisecond, TokenTTL: time.Minute},
		Customs: CustomsSettings{Rules: state.MatchRuleNames(), AmountTolerance: 0.01, WeightTolerance: 0.05,
			IncompleteAfter: 30 * time.Minute},
		Topics: Topics{
			RFID: "port.rfid", AIS: "port.ais", Customs: "port.customs", Transport: "port.transport",
			Events: "porttrack.events", Alerts: "porttrack.alerts", CustomsResults: "porttrack.customs-results",
			DLQ: "porttrack.dlq",
		},

		// A dispatcher UI refreshing a dozen panels a second stays far below.
		RateLimit:        100,
		RateBurst:        200,
		MaxSubscriptions: dcsa.DefaultMaxSubscriptions,
	}
}

// all returns every topic the node creates in the embedded broker.
func (t Topics) all() []string {
	return []string{t.RFID, t.AIS, t.Customs, t.Transport, t.Events, t.Alerts, t.CustomsResults, t.DLQ}
}

// setting binds one configuration field to its YAML key, flag and variable.
type setting struct {
	key  string // YAML key, also the name in error messages
	help string
	set  func(c *Config, v string) error
}

func (s setting) flag() string {
	return strings.ReplaceAll(strings.ReplaceAll(s.key, "_", "-"), ".", "-")
}
func (s setting) env() string {
	return "PORTTRACK_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 10s, got %q", v)
		}
		*dst(c) = d
		return nil
	}
}

func intSetting(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*dst(c) = n
		return nil
	}
}

func flt(dst func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", v)
		}
		*dst(c) = f
		return nil
	}
}

var serveSettings = []setting{
	{"brokers", "comma-separated Kafka bootstrap brokers (host:port)", func(c *Config, v string) error {
		c.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Brokers = append(c.Brokers, b)
			}
		}
		return nil
	}},
	{"group", "Kafka consumer group id; empty: own every partition without a group", str(func(c *Config) *string { return &c.Group })},
	{"http_addr", "address of the HTTP API", str(func(c *Config) *string { return &c.HTTPAddr })},
	{"data_dir", "directory of the state database", str(func(c *Config) *string { return &c.DataDir })},
	{"topics.rfid", "input topic of container RFID reads and EPCIS events", str(func(c *Config) *string { return &c.Topics.RFID })},
	{"topics.ais", "input topic of raw NMEA AIS sentences (\"-\" disables it)", str(func(c *Config) *string { return &c.Topics.AIS })},
	{"topics.transport", "input topic of truck GNSS positions, waybills, rail and barge messages (\"-\" disables it)", str(func(c *Config) *string { return &c.Topics.Transport })},
	{"topics.customs", "input topic of customs and CEB e-commerce messages (\"-\" disables it)", str(func(c *Config) *string { return &c.Topics.Customs })},
	{"topics.customs_results", "output topic of three-document match results and inventory receipts", str(func(c *Config) *string { return &c.Topics.CustomsResults })},
	{"customs.rules", "comma-separated three-document match rules to apply (\"none\": no rule; default all)", func(c *Config, v string) error {
		c.Customs.Rules = []string{}
		for _, r := range strings.Split(v, ",") {
			if r = strings.TrimSpace(r); r != "" && r != "none" {
				c.Customs.Rules = append(c.Customs.Rules, r)
			}
		}
		return nil
	}},
	{"customs.amount_tolerance", "largest money difference (CNY) that still matches", flt(func(c *Config) *float64 { return &c.Customs.AmountTolerance })},
	{"customs.weight_tolerance", "largest relative gross-weight difference between inventory and waybill that still matches", flt(func(c *Config) *float64 { return &c.Customs.WeightTolerance })},
	{"customs.incomplete_after", "how long an order waits for its missing documents before it is reported incomplete", dur(func(c *Config) *time.Duration { return &c.Customs.IncompleteAfter })},
	{"customs.trusted_certs", "PEM file of certificates whose CEB XML signatures are verified (empty: not verified)", str(func(c *Config) *string { return &c.Customs.TrustedCerts })},
	{"topics.events", "output topic of derived DCSA events", str(func(c *Config) *string { return &c.Topics.Events })},
	{"topics.dlq", "dead-letter topic", str(func(c *Config) *string { return &c.Topics.DLQ })},
	{"topics.alerts", "output topic of geofence enter/exit alerts", str(func(c *Config) *string { return &c.Topics.Alerts })},
	{"guard.discharge", "connection guard: expected time from on the vessel to discharged", dur(func(c *Config) *time.Duration { return &c.Guard.Discharge })},
	{"guard.hold_clear", "connection guard: expected time for a terminal hold to be lifted", dur(func(c *Config) *time.Duration { return &c.Guard.HoldClear })},
	{"guard.customs_clear", "connection guard: expected time for a customs hold or inspection to be released", dur(func(c *Config) *time.Duration { return &c.Guard.CustomsClear })},
	{"guard.transfer", "connection guard: expected time to truck a box from the terminal to the station", dur(func(c *Config) *time.Duration { return &c.Guard.Transfer })},
	{"guard.load", "connection guard: expected handling time at the station onto the wagon", dur(func(c *Config) *time.Duration { return &c.Guard.Load })},
	{"fence_min_dwell", "time an object must be observed inside (outside) a geofence before it enters (exits)", dur(func(c *Config) *time.Duration { return &c.FenceMinDwell })},
	{"max_fences", "most geofences one tenant may define", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer number of fences, got %q", v)
		}
		c.MaxFences = n
		return nil
	}},
	{"port_model", "GeoJSON file of the port model (fences); empty: the built-in Ningbo-Zhoushan model", str(func(c *Config) *string { return &c.PortModel })},
	{"track_retention", "how long vessel and truck track points are kept behind the newest position (0: forever; trimmed in steps of 1/16 of it, at most an hour)", dur(func(c *Config) *time.Duration { return &c.TrackRetention })},
	{"port_call_min_dwell", "time a vessel must hold a new port-call phase before it changes", dur(func(c *Config) *time.Duration { return &c.PortCallMinDwell })},
	{"dead_letter_max_bytes", "most bytes of the original value (and key) a dead letter carries; longer ones are cut, with value-truncated, value-size and value-sha256 headers", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer number of bytes, got %q", v)
		}
		c.DeadLetterMaxBytes = n
		return nil
	}},
	{"max_batch_bytes", "most bytes one input record batch may decompress to; the rest of a larger batch is dead-lettered (oversize) undecoded", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer number of bytes, got %q", v)
		}
		c.MaxBatchBytes = n
		return nil
	}},
	{"outbox_degraded_after", "age of the oldest unpublished outbox entry past which /healthz and /readyz report the outbox degraded", dur(func(c *Config) *time.Duration { return &c.OutboxDegradedAfter })},
	{"max_record_bytes", "largest record value accepted; larger ones are dead-lettered", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer number of bytes, got %q", v)
		}
		c.MaxRecordBytes = n
		return nil
	}},
	{"no_sync", "commit state without fsync (faster; a power loss may re-consume the last batches)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		c.NoSync = b
		return nil
	}},
	{"admin_key", "the admin key: an API key of role port (tenant admin) stored at start, replacing the previous admin key (at least 16 bytes); every request needs a key", str(func(c *Config) *string { return &c.AdminKey })},
	{"admin_key_file", "file holding the admin key (instead of admin_key, so that it is in no process list)", str(func(c *Config) *string { return &c.AdminKeyFile })},
	{"rate_limit", "requests per second one API key may send (beyond it: 429 with Retry-After); 0: no limit", flt(func(c *Config) *float64 { return &c.RateLimit })},
	{"rate_burst", "requests one API key may send at once above rate_limit", intSetting(func(c *Config) *int { return &c.RateBurst })},
	{"max_subscriptions", "most DCSA event subscriptions one tenant may have", intSetting(func(c *Config) *int { return &c.MaxSubscriptions })},
	{"webhooks.timeout", "time limit of one webhook POST", dur(func(c *Config) *time.Duration { return &c.Webhooks.Timeout })},
	{"webhooks.max_failures", "failed attempts after which a webhook batch goes to the subscription's dead letters", intSetting(func(c *Config) *int { return &c.Webhooks.MaxFailures })},
	{"webhooks.max_batch", "most events in one webhook POST", intSetting(func(c *Config) *int { return &c.Webhooks.MaxBatch })},
	{"webhooks.backoff_max", "longest wait between webhook attempts (also caps Retry-After)", dur(func(c *Config) *time.Duration { return &c.Webhooks.BackoffMax })},
	{"webhooks.deny", "CIDR ranges (a list, or comma-separated) webhook callbacks may not reach besides the non-public ones denied by default; wins over webhooks.allow", listSetting(func(c *Config) *[]string { return &c.Webhooks.Deny })},
	{"webhooks.allow", "CIDR ranges (a list, or comma-separated) re-opened to webhook callbacks among those denied by default (loopback, private, link-local, CGNAT, multicast, unspecified); empty: none", listSetting(func(c *Config) *[]string { return &c.Webhooks.Allow })},
	{"stream.max_clients", "most concurrent /v1/stream clients; beyond it 503", intSetting(func(c *Config) *int { return &c.Stream.MaxClients })},
	{"stream.ring", "changed objects the live stream holds for clients that fall behind (about 100 bytes each); further behind, a client gets a snapshot", intSetting(func(c *Config) *int { return &c.Stream.Ring })},
	{"stream.stall", "a stream client whose connection accepts nothing for this long is dropped", dur(func(c *Config) *time.Duration { return &c.Stream.Stall })},
	{"stream.heartbeat", "interval of the stream's heartbeat comments (keep proxies from closing it)", dur(func(c *Config) *time.Duration { return &c.Stream.Heartbeat })},
	{"stream.flush", "how long a stream client gathers changes before it writes (one event per object per flush)", dur(func(c *Config) *time.Duration { return &c.Stream.Flush })},
	{"stream.token_ttl", "lifetime of a stream token (POST /v1/stream/token)", dur(func(c *Config) *time.Duration { return &c.Stream.TokenTTL })},
	{"cors_origins", "comma-separated web origins (https://app.example.com) whose pages may call the API; requests with another Origin are refused (empty: none)", listSetting(func(c *Config) *[]string { return &c.CORSOrigins })},
	{"log_level", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
	{"log_format", "text or json", str(func(c *Config) *string { return &c.LogFormat })},
	{"session_timeout", "consumer group session timeout", dur(func(c *Config) *time.Duration { return &c.SessionTimeout })},
	{"heartbeat_interval", "consumer group heartbeat interval", dur(func(c *Config) *time.Duration { return &c.Heartbeat })},
}

// settingError names the setting, where it came from and what is wrong.
func settingError(s setting, source string, err error) error {
	return usageError("invalid setting %s (%s): %v", s.key, source, err)
}

// sources names the three places a setting can be given, for errors that
// say a setting is missing.
func (s setting) sources() string {
	return fmt.Sprintf("--%s, %s or %s: in the config file", s.flag(), s.env(), s.key)
}

// settingByKey returns the serve setting with YAML key key.
func settingByKey(key string) (setting, bool) {
	for _, s := range serveSettings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

const serveUsage = `Usage: porttrack serve [flags]

Runs the engine against a Kafka cluster. Every setting comes from the YAML
file of --config, then from its PORTTRACK_* environment variable, then from
its flag, each overriding the last (deploy/porttrack.example.yaml lists them
all with their defaults). Boolean flags take no value (--no-sync) or one
joined by "=" (--no-sync=false).
`

// settingValue is the flag of a setting: it keeps the text given, applied
// after the file and the environment (flags override both).
type settingValue struct{ typ, val string }

func (v *settingValue) String() string {
	if v == nil {
		return ""
	}
	return v.val
}
func (v *settingValue) Set(s string) error { v.val = s; return nil }
func (v *settingValue) Type() string       { return v.typ }
func (v *settingValue) IsBoolFlag() bool   { return v.typ == "bool" }

// loadConfig builds the serve configuration from file, environment and
// flags. --help prints the settings to stdout and returns flag.ErrHelp.
func loadConfig(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file (env PORTTRACK_CONFIG)")
	def := defaultConfig()
	flagVals := map[string]*settingValue{}
	for _, s := range serveSettings {
		v := &settingValue{typ: "string"}
		if f, ok := settingField(&def, s.key); ok {
			v.typ, v.val = valueType(f), formatValue(f)
		}
		flagVals[s.key] = v
		fs.Var(v, s.flag(), s.help+" (env "+s.env()+")")
	}
	if err := parseFlags(fs, args, serveUsage, stdout); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, usageError("unexpected arguments: %q", fs.Args())
	}
	if *configPath == "" {
		*configPath = getenv("PORTTRACK_CONFIG")
	}
	cfg := defaultConfig()
	if *configPath != "" {
		if err := loadFile(&cfg, *configPath); err != nil {
			return Config{}, err
		}
	}
	for _, s := range serveSettings {
		if v := getenv(s.env()); v != "" {
			if err := s.set(&cfg, v); err != nil {
				return Config{}, settingError(s, "environment "+s.env(), err)
			}
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		for _, s := range serveSettings {
			if s.flag() == f.Name && err == nil {
				if e := s.set(&cfg, flagVals[s.key].val); e != nil {
					err = settingError(s, "flag --"+f.Name, e)
				}
			}
		}
	})
	if err != nil {
		return Config{}, err
	}
	if cfg.AdminKeyFile != "" {
		if cfg.AdminKey != "" {
			return Config{}, usageError("invalid setting admin_key_file: admin_key is set too; give the admin key one way")
		}
		if cfg.AdminKey, err = readAdminKeyFile(cfg.AdminKeyFile); err != nil {
			return Config{}, usageError("invalid setting admin_key_file (flag --admin-key-file, env PORTTRACK_ADMIN_KEY_FILE): %v", err)
		}
	}
	return cfg, nil
}

// readAdminKeyFile reads the admin key from a file: its content without
// surrounding white space (a trailing newline).
func readAdminKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return key, nil
}

// loadFile reads the YAML file at path into cfg. A setting that has a flag
// is parsed as its flag is (same errors, and a list setting such as brokers
// takes a YAML list or one comma-separated string); an empty value (key:
// or ~) leaves the default. Errors name the setting, the file and the line,
// never a Go type.
func loadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return usageError("invalid setting config (flag --config): %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return usageError("invalid setting config (file %s): %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	return decodeSettings(cfg, reflect.ValueOf(cfg).Elem(), doc.Content[0], "", path)
}

var durationType = reflect.TypeFor[time.Duration]()

// decodeSettings decodes the YAML mapping n into the struct v, whose keys
// are prefix plus its fields' YAML names.
func decodeSettings(cfg *Config, v reflect.Value, n *yaml.Node, prefix, path string) error {
	where := func(n *yaml.Node) string { return fmt.Sprintf("file %s line %d", path, n.Line) }
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		name := strings.TrimSuffix(prefix, ".")
		if name == "" {
			name = "config"
		}
		return usageError("invalid setting %s (%s): want a mapping of settings (key: value lines), got %s", name, where(n), describeNode(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		key := prefix + k.Value
		if line, dup := seen[k.Value]; dup {
			return usageError("invalid setting %s (%s): given twice (first on line %d)", key, where(k), line)
		}
		seen[k.Value] = k.Line
		field, ok := yamlField(v, k.Value)
		if !ok {
			msg := "no such setting"
			if m := closestKey(v, k.Value); m != "" {
				msg += "; did you mean " + prefix + m + "?"
			}
			return usageError("invalid setting %s (%s): %s", key, where(k), msg)
		}
		if s, ok := settingByKey(key); ok {
			if isNull(val) {
				continue // key: with no value keeps the default
			}
			text, err := settingText(val, field)
			if err == nil {
				err = s.set(cfg, text)
			}
			if err != nil {
				return settingError(s, where(val), err)
			}
			continue
		}
		if field.Kind() == reflect.Struct && field.Type() != durationType {
			if err := decodeSettings(cfg, field, val, key+".", path); err != nil {
				return err
			}
			continue
		}
		// A setting only the file can give (readers): YAML decodes it.
		if err := checkKeys(val, field.Type()); err != nil {
			return usageError("invalid setting %s (%s): %v", key, where(val), err)
		}
		if err := val.Decode(field.Addr().Interface()); err != nil {
			return usageError("invalid setting %s (%s): %s", key, where(val), plainYAMLError(err))
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// settingText is the text of a setting's YAML value as its flag would take
// it: a scalar as written, a list (for list settings) comma-joined.
func settingText(n *yaml.Node, field reflect.Value) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, nil
	case yaml.SequenceNode:
		if field.Kind() != reflect.Slice {
			return "", fmt.Errorf("want %s, got a list", describeType(field.Type()))
		}
		parts := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("want a list of strings, got %s in it (line %d)", describeNode(it), it.Line)
			}
			parts = append(parts, it.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want %s, got %s", describeType(field.Type()), describeNode(n))
}

// yamlField returns the field of struct v with YAML name name.
func yamlField(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// yamlName is a field's YAML key, "" for fields the file cannot set.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// settingField returns the field of c that a setting's key (its YAML path,
// "webhooks.timeout") names.
func settingField(c *Config, key string) (reflect.Value, bool) {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		var ok bool
		if v, ok = yamlField(v, part); !ok {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// closestKey returns the YAML key of struct v nearest to name (at most two
// edits away), or "".
func closestKey(v reflect.Value, name string) string {
	best, bestD := "", 3
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if k := yamlName(t.Field(i)); k != "" {
			if d := editDistance(k, name); d < bestD {
				best, bestD = k, d
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkKeys reports a mapping key of n that type t has no field for.
func checkKeys(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode {
		return nil // a type mismatch: Decode names it
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		switch t.Kind() {
		case reflect.Map:
			if err := checkKeys(val, t.Elem()); err != nil {
				return err
			}
		case reflect.Struct:
			i := slices.IndexFunc(reflect.VisibleFields(t), func(f reflect.StructField) bool { return yamlName(f) == k.Value })
			if i < 0 {
				return fmt.Errorf("unknown key %q on line %d", k.Value, k.Line)
			}
			if err := checkKeys(val, reflect.VisibleFields(t)[i].Type); err != nil {
				return err
			}
		}
	}
	return nil
}

// describeNode names what a YAML value is, for errors.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// describeType says what a setting of type t wants, in words.
func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 10s"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a single value"
	case reflect.Slice:
		return "a list or a comma-separated string"
	}
	return "a mapping"
}

var yamlTypeError = regexp.MustCompile("cannot unmarshal !!(\\w+) (`[^`]*` )?into (\\S+)")

// plainYAMLError rewrites yaml's "cannot unmarshal !!str `x` into int" as
// "want an integer, got \"x\"": users write YAML, not Go.
func plainYAMLError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		msgs = append(msgs, yamlTypeError.ReplaceAllStringFunc(e, func(m string) string {
			sm := yamlTypeError.FindStringSubmatch(m)
			got := map[string]string{"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
				"seq": "a list", "map": "a mapping", "null": "nothing"}[sm[1]]
			if got == "" {
				got = "a " + sm[1]
			}
			if sm[2] != "" {
				got += " " + strings.TrimSpace(sm[2])
			}
			return "want " + goTypeWords(sm[3]) + ", got " + got
		}))
	}
	return strings.Join(msgs, "; ")
}

// goTypeWords says what a Go type name in a yaml error wants, in words.
func goTypeWords(t string) string {
	switch {
	case t == "time.Duration":
		return "a duration such as 10s"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
}

// valueType names a setting's type for the help: bool, int, float,
// duration, string or list.
func valueType(v reflect.Value) string {
	if v.Type() == durationType {
		return "duration"
	}
	switch v.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice:
		return "list"
	}
	return "string"
}

// formatValue writes a setting's value as its flag takes it.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return shortDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// shortDuration writes 168h and 2m rather than 168h0m0s and 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// validate checks the settings every command needs; errors name the setting.
func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid setting %s: %s", key, fmt.Sprintf(format, args...)))
	}
	need := func(key, what string) {
		s, _ := settingByKey(key)
		bad(key, "%s is required (%s)", what, s.sources())
	}
	if len(c.Brokers) == 0 {
		need("brokers", "at least one broker")
	}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			bad("brokers", "%q is not host:port", b)
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "%q is not host:port", c.HTTPAddr)
	}
	if c.DataDir == "" {
		need("data_dir", "a directory for the state database")
	}
	if c.MaxRecordBytes < 1 || c.MaxRecordBytes > 64<<20 {
		bad("max_record_bytes", "%d is out of range [1, 67108864]", c.MaxRecordBytes)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log_level", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "%q is not text or json", c.LogFormat)
	}
	if c.Topics.RFID == "" || c.Topics.DLQ == "" {
		bad("topics", "topic names must not be empty")
	}
	if c.Topics.RFID == c.Topics.DLQ || c.Topics.AIS == c.Topics.DLQ {
		bad("topics.dlq", "must differ from the input topics")
	}
	if c.Topics.RFID == c.Topics.AIS {
		bad("topics.ais", "must differ from topics.rfid")
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		bad("admin_key", "must be at least 16 bytes")
	}
	if math.IsNaN(c.RateLimit) || c.RateLimit < 0 || c.RateLimit > 1e6 {
		bad("rate_limit", "%g is out of range [0, 1000000] (0: no limit)", c.RateLimit)
	}
	if c.RateLimit > 0 && (c.RateBurst < 1 || c.RateBurst > 1_000_000) {
		bad("rate_burst", "%d is out of range [1, 1000000]", c.RateBurst)
	}
	if c.MaxSubscriptions < 1 || c.MaxSubscriptions > 100_000 {
		bad("max_subscriptions", "%d is out of range [1, 100000]", c.MaxSubscriptions)
	}
	if c.Webhooks.Timeout < time.Millisecond || c.Webhooks.Timeout > 10*time.Minute {
		bad("webhooks.timeout", "%s is out of range [1ms, 10m]", c.Webhooks.Timeout)
	}
	if c.Webhooks.MaxFailures < 1 || c.Webhooks.MaxFailures > 1000 {
		bad("webhooks.max_failures", "%d is out of range [1, 1000]", c.Webhooks.MaxFailures)
	}
	if c.Webhooks.MaxBatch < 1 || c.Webhooks.MaxBatch > 10000 {
		bad("webhooks.max_batch", "%d is out of range [1, 10000]", c.Webhooks.MaxBatch)
	}
	if c.Webhooks.BackoffMax < time.Second || c.Webhooks.BackoffMax > 24*time.Hour {
		bad("webhooks.backoff_max", "%s is out of range [1s, 24h]", c.Webhooks.BackoffMax)
	}
	if _, err := c.Webhooks.denyPrefixes(); err != nil {
		bad("webhooks.deny", "%v", err)
	}
	if _, err := c.Webhooks.allowPrefixes(); err != nil {
		bad("webhooks.allow", "%v", err)
	}
	if c.Stream.MaxClients < 1 || c.Stream.MaxClients > 100_000 {
		bad("stream.max_clients", "%d is out of range [1, 100000]", c.Stream.MaxClients)
	}
	if c.Stream.Ring < 1024 || c.Stream.Ring > 1<<24 {
		bad("stream.ring", "%d is out of range [1024, 16777216]", c.Stream.Ring)
	}
	if c.Stream.Stall < 100*time.Millisecond || c.Stream.Stall > 10*time.Minute {
		bad("stream.stall", "%s is out of range [100ms, 10m]", c.Stream.Stall)
	}
	if c.Stream.Heartbeat < time.Second || c.Stream.Heartbeat > 10*time.Minute {
		bad("stream.heartbeat", "%s is out of range [1s, 10m]", c.Stream.Heartbeat)
	}
	if c.Stream.Flush < time.Millisecond || c.Stream.Flush > 10*time.Second {
		bad("stream.flush", "%s is out of range [1ms, 10s]", c.Stream.Flush)
	}
	if c.Stream.TokenTTL < time.Second || c.Stream.TokenTTL > time.Hour {
		bad("stream.token_ttl", "%s is out of range [1s, 1h]", c.Stream.TokenTTL)
	}
	if err := query.CheckCORSOrigins(c.CORSOrigins); err != nil {
		bad("cors_origins", "%v", err)
	}
	if c.TrackRetention < 0 {
		bad("track_retention", "%s is negative", c.TrackRetention)
	}
	if c.PortCallMinDwell < 0 || c.PortCallMinDwell > 24*time.Hour {
		bad("port_call_min_dwell", "%s is out of range [0, 24h]", c.PortCallMinDwell)
	}
	if c.FenceMinDwell < 0 || c.FenceMinDwell > 24*time.Hour {
		bad("fence_min_dwell", "%s is out of range [0, 24h]", c.FenceMinDwell)
	}
	for _, g := range []struct {
		key string
		d   time.Duration
	}{{"guard.discharge", c.Guard.Discharge}, {"guard.hold_clear", c.Guard.HoldClear}, {"guard.customs_clear", c.Guard.CustomsClear},
		{"guard.transfer", c.Guard.Transfer}, {"guard.load", c.Guard.Load}} {
		if g.d <= 0 || g.d > 30*24*time.Hour {
			bad(g.key, "%s is out of range (0, 720h]", g.d)
		}
	}
	if c.MaxFences < 1 || c.MaxFences > 1_000_000 {
		bad("max_fences", "%d is out of range [1, 1000000]", c.MaxFences)
	}
	if c.Topics.Alerts == "" {
		bad("topics.alerts", "must not be empty")
	}
	if c.SessionTimeout < time.Second || c.Heartbeat <= 0 || c.Heartbeat >= c.SessionTimeout {
		bad("session_timeout", "need session_timeout >= 1s and 0 < heartbeat_interval < session_timeout (got %s, %s)", c.SessionTimeout, c.Heartbeat)
	}
	if t := c.Topics.Customs; t != "-" && (t == "" || t == c.Topics.RFID || t == c.Topics.AIS || t == c.Topics.Transport || t == c.Topics.DLQ) {
		bad("topics.customs", "%q must be set and differ from the other input topics and topics.dlq", t)
	}
	if c.Topics.CustomsResults == "" {
		bad("topics.customs_results", "must not be empty")
	}
	if err := c.customsConfig().Validate(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		bad(key, "%s", msg)
	}
	if c.Customs.IncompleteAfter <= 0 {
		bad("customs.incomplete_after", "%s is not positive", c.Customs.IncompleteAfter)
	}
	if c.Customs.AmountTolerance <= 0 && c.Customs.AmountTolerance != 0 {
		bad("customs.amount_tolerance", "%g is negative", c.Customs.AmountTolerance)
	}
	for id, r := range c.Readers {
		if err := r.Validate(); err != nil {
			bad("readers."+id, "%v", err)
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 2, err: errors.Join(errs...)}
	}
	return nil
}

// customsConfig is the state's customs configuration.
func (c *Config) customsConfig() state.CustomsConfig {
	return state.CustomsConfig{Rules: c.Customs.Rules, AmountTolerance: c.Customs.AmountTolerance, WeightTolerance: c.Customs.WeightTolerance,
		IncompleteAfter: int64(c.Customs.IncompleteAfter), ResultTopic: c.Topics.CustomsResults}
}

// loadTrustedCerts reads the customs.trusted_certs PEM file.
func loadTrustedCerts(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM CERTIFICATE", path)
	}
	return certs, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(c *Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
