package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/porttrack/porttrack/gateway/jt808"
	"github.com/segmentio/kafka-go"
	"gopkg.in/yaml.v3"
)

const gatewayUsage = `Usage: porttrack gateway jt808 [flags]

A JT/T 808 (2013/2019) gateway for truck terminals: registers and
authenticates terminals, answers them, and produces their locations as
truck.position records (and emergency/overspeed/fatigue alarms as
truck.alarm records) on the transport topic, keyed by plate.

Every flag can be given as an environment variable PORTTRACK_GATEWAY_<FLAG>
(upper case, '-' as '_'), e.g. PORTTRACK_GATEWAY_BROKERS, or as a key of the
--config YAML file (data_dir: ...). Flags win over the environment, the
environment over the file.
`

// gatewayFlags are the settings of 'porttrack gateway jt808'.
type gatewayFlags struct {
	listen, brokers, topic, dataDir, allowFile, httpAddr, logLevel string
	maxConns, maxConnsPerIP, maxFrame                              int
	idleTimeout, produceTimeout                                    time.Duration
}

// parseGatewayFlags parses the gateway's flags; --help prints them to stdout.
func parseGatewayFlags(args []string, getenv func(string) string, stdout io.Writer) (gatewayFlags, error) {
	var f gatewayFlags
	fs := flag.NewFlagSet("gateway jt808", flag.ContinueOnError)
	var errs []error
	// Layers: defaults < config file < environment < flags.
	configPath := getenv("PORTTRACK_GATEWAY_CONFIG")
	for i, a := range args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "config="); ok && strings.HasPrefix(a, "-") {
			configPath = v
		} else if (a == "--config" || a == "-config") && i+1 < len(args) {
			configPath = args[i+1]
		}
	}
	file, err := readGatewayConfig(configPath)
	if err != nil {
		return f, usageError("%v", err)
	}
	env := func(name string) string {
		if v := getenv("PORTTRACK_GATEWAY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			return v
		}
		return file[strings.ReplaceAll(name, "-", "_")]
	}
	fs.String("config", configPath, "YAML file of these settings, keys as the flags with '_' for '-' (env PORTTRACK_GATEWAY_CONFIG)")
	str := func(dst *string, name, def, help string) {
		if v := env(name); v != "" {
			def = v
		}
		fs.StringVar(dst, name, def, help)
	}
	num := func(dst *int, name string, def int, help string) {
		if v := env(name); v != "" {
			if _, err := fmt.Sscan(v, &def); err != nil {
				errs = append(errs, fmt.Errorf("invalid setting %s (env PORTTRACK_GATEWAY_%s or config key %s): %q is not a whole number", name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")), strings.ReplaceAll(name, "-", "_"), v))
			}
		}
		fs.IntVar(dst, name, def, help)
	}
	dur := func(dst *time.Duration, name string, def time.Duration, help string) {
		if v := env(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("invalid setting %s (env PORTTRACK_GATEWAY_%s or config key %s): %v", name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")), strings.ReplaceAll(name, "-", "_"), err))
			}
			def = d
		}
		fs.DurationVar(dst, name, def, help)
	}
	str(&f.listen, "listen", "127.0.0.1:6808", "TCP address terminals connect to (\":6808\" for every interface)")
	str(&f.brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated (required)")
	str(&f.topic, "topic", "port.transport", "topic of the truck.position and truck.alarm records")
	str(&f.dataDir, "data-dir", "", "directory of the registrations file "+jt808.StoreFile+" (required: auth codes survive restarts)")
	str(&f.allowFile, "allow-file", "", "allow-list: lines 'DEVICE PLATE' (terminal phone number, plate); when set only these devices may register")
	str(&f.httpAddr, "http-addr", "", "address of /metrics (Prometheus text); empty: none")
	str(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	num(&f.maxConns, "max-conns", 20000, "terminal connections at once")
	num(&f.maxConnsPerIP, "max-conns-per-ip", 1000, "terminal connections at once from one remote IP")
	num(&f.maxFrame, "max-frame", 2200, "bytes of one escaped frame; longer frames are skipped and counted")
	dur(&f.idleTimeout, "idle-timeout", 3*time.Minute, "close a connection that sent no whole frame for this long")
	dur(&f.produceTimeout, "produce-timeout", 10*time.Second, "wait this long for Kafka's acknowledgement before telling the terminal to resend")
	if err := parseFlags(fs, args, gatewayUsage, stdout); err != nil {
		return f, err
	}
	if len(errs) > 0 {
		return f, usageError("%v", errors.Join(errs...))
	}
	if fs.NArg() > 0 {
		return f, usageError("unexpected arguments %q", fs.Args())
	}
	switch {
	case f.brokers == "":
		return f, usageError("--brokers (PORTTRACK_GATEWAY_BROKERS) is required")
	case f.dataDir == "":
		return f, usageError("--data-dir (PORTTRACK_GATEWAY_DATA_DIR) is required: the registrations and auth codes live there")
	case f.topic == "":
		return f, usageError("--topic must not be empty")
	case f.maxConns < 1 || f.maxConnsPerIP < 1:
		return f, usageError("--max-conns and --max-conns-per-ip must be at least 1")
	case f.maxFrame < 64:
		return f, usageError("--max-frame %d is below 64", f.maxFrame)
	case f.idleTimeout <= 0 || f.produceTimeout <= 0:
		return f, usageError("--idle-timeout and --produce-timeout must be positive")
	}
	return f, nil
}

// readGatewayConfig reads a YAML map of settings (keys: the flag names
// with '_' for '-'), "" path: none. Unknown keys are errors.
func readGatewayConfig(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	known := map[string]bool{"listen": true, "brokers": true, "topic": true, "data_dir": true, "allow_file": true, "http_addr": true,
		"log_level": true, "max_conns": true, "max_conns_per_ip": true, "max_frame": true, "idle_timeout": true, "produce_timeout": true}
	out := make(map[string]string, len(raw))
	for k, n := range raw {
		if !known[k] {
			return nil, fmt.Errorf("--config %s: unknown setting %q", path, k)
		}
		switch n.Kind {
		case yaml.ScalarNode:
			out[k] = n.Value
		case yaml.SequenceNode: // brokers: [a, b]
			var vs []string
			if err := n.Decode(&vs); err != nil {
				return nil, fmt.Errorf("--config %s: %s: %w", path, k, err)
			}
			out[k] = strings.Join(vs, ",")
		default:
			return nil, fmt.Errorf("--config %s: %s: want a value", path, k)
		}
	}
	return out, nil
}

// readAllowFile reads 'DEVICE PLATE' lines; '#' starts a comment.
func readAllowFile(path string) (map[string]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	allow := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(fh, 64<<20))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want 'DEVICE PLATE', got %q", path, n, line)
		}
		dev := jt808.DeviceID(fields[0])
		if _, dup := allow[dev]; dup {
			return nil, fmt.Errorf("%s:%d: device %s listed twice", path, n, fields[0])
		}
		allow[dev] = fields[1]
	}
	return allow, sc.Err()
}

// raiseNoFile raises the soft limit of open files to the hard one: a
// gateway holds one descriptor per terminal.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

func runGateway(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		_, err := parseGatewayFlags([]string{"--help"}, getenv, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(args) == 0 || args[0] != "jt808" {
		fmt.Fprint(stderr, gatewayUsage)
		if len(args) == 0 {
			return usageError("gateway: name the protocol: 'porttrack gateway jt808'")
		}
		return usageError("gateway: unknown protocol %q (known: jt808)", args[0])
	}
	f, err := parseGatewayFlags(args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	level, err := parseLevel(f.logLevel)
	if err != nil {
		return usageError("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var allow map[string]string
	if f.allowFile != "" {
		if allow, err = readAllowFile(f.allowFile); err != nil {
			return usageError("--allow-file: %v", err)
		}
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	store, err := jt808.OpenStore(f.dataDir, allow)
	if err != nil {
		return usageError("%v", err)
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(strings.Split(f.brokers, ",")...),
		Balancer:               &kafka.Murmur2Balancer{}, // by plate, as the engine's partitions expect
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              1000, // many terminals' records per request
		AllowAutoTopicCreation: false,
		Transport:              &kafka.Transport{Dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, ClientID: "porttrack-gateway-jt808"},
	}
	defer w.Close()
	srv, err := jt808.NewServer(jt808.Config{
		Topic: f.topic, MaxConns: f.maxConns, MaxConnsPerIP: f.maxConnsPerIP, MaxFrame: f.maxFrame,
		IdleTimeout: f.idleTimeout, ProduceTimeout: f.produceTimeout, Logger: log,
	}, store, w)
	if err != nil {
		return usageError("%v", err)
	}
	raiseNoFile()
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if f.httpAddr != "" {
		hln, err := net.Listen("tcp", f.httpAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--http-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
			srv.Metrics.WritePrometheus(rw)
		})
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(hln)
		defer hs.Close()
		fmt.Fprintf(stdout, "metrics: http://%s/metrics\n", hln.Addr())
	}
	fmt.Fprintf(stdout, "jt808 gateway listening on %s, producing to %s on %s\n", ln.Addr(), f.topic, f.brokers)
	return srv.Serve(ctx, ln)
}
