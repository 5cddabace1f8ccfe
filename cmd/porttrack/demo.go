package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/bench/sim"
)

// demoFlags are the settings of `porttrack demo`.
type demoFlags struct {
	brokerAddr    string
	httpAddr      string
	dataDir       string
	partitions    int
	simModel      string
	simScale      float64
	simSpeedup    float64
	simRate       float64
	simRateSet    bool
	simContainers int
	simAISRate    float64
	simVessels    int
	simCustoms    float64
	logLevel      string
	adminKey      string
	adminKeyFile  string
}

const demoUsage = `Usage: porttrack demo [flags]

Runs an embedded Kafka-protocol broker, the traffic simulator, the engine and
its HTTP API on one machine, and prints commands to try.
`

// parseDemoFlags parses the demo's flags; --help prints them to stdout.
func parseDemoFlags(args []string, stdout io.Writer) (demoFlags, error) {
	var f demoFlags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&f.brokerAddr, "broker-addr", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP API")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (state and broker log); default: a fresh temporary directory")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions per topic")
	fs.StringVar(&f.simModel, "sim", "day", `simulator: "day" (a day at the port at --sim-scale and --sim-speedup), "fleet" (RFID and AIS streams of fixed fleets) or "off"`)
	fs.Float64Var(&f.simScale, "sim-scale", 0.05, "day: share of a real Ningbo-Zhoushan day (1: ~100,000 TEU)")
	fs.Float64Var(&f.simSpeedup, "sim-speedup", 30, "day: simulated seconds per wall second")
	fs.Float64Var(&f.simRate, "sim-rate", 20, "fleet: RFID events/s; day: records/s instead of --sim-speedup when given; 0 turns the simulator off")
	fs.IntVar(&f.simContainers, "sim-containers", 3000, "containers in the simulated fleet")
	fs.Float64Var(&f.simAISRate, "sim-ais-rate", 5, "simulated AIS sentences per second into port.ais; 0 turns the AIS simulator off")
	fs.IntVar(&f.simVessels, "sim-vessels", 40, "container ships in the simulated AIS fleet (plus one small craft per 8)")
	fs.Float64Var(&f.simCustoms, "sim-customs-rate", 2, "simulated customs records per second into port.customs (CEB XML orders, receipts, container customs flows); 0 turns it off")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.adminKey, "admin-key", "", "API key of role port created at start; without one the API is open, on loopback only (env PORTTRACK_ADMIN_KEY)")
	fs.StringVar(&f.adminKeyFile, "admin-key-file", "", "file holding the admin key, instead of --admin-key (env PORTTRACK_ADMIN_KEY_FILE)")
	if err := parseFlags(fs, args, demoUsage, stdout); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(fl *flag.Flag) { f.simRateSet = f.simRateSet || fl.Name == "sim-rate" })
	if f.simRateSet && f.simRate == 0 {
		f.simModel = "off"
	}
	switch {
	case f.simModel != "day" && f.simModel != "fleet" && f.simModel != "off":
		return f, usageError(`invalid setting sim (flag --sim): %q is not "day", "fleet" or "off"`, f.simModel)
	case !(f.simScale > 0 && f.simScale <= sim.MaxScale):
		return f, usageError("invalid setting sim-scale (flag --sim-scale): %g is outside (0, %d]", f.simScale, sim.MaxScale)
	case !(f.simSpeedup > 0) || math.IsInf(f.simSpeedup, 0):
		return f, usageError("invalid setting sim-speedup (flag --sim-speedup): %g is not a positive number", f.simSpeedup)
	case f.partitions < 1 || f.partitions > 1000:
		return f, usageError("invalid setting partitions (flag --partitions): %d is out of range [1, 1000]", f.partitions)
	case math.IsNaN(f.simRate) || math.IsInf(f.simRate, 0) || f.simRate < 0:
		return f, usageError("invalid setting sim-rate (flag --sim-rate): %g is not a non-negative number", f.simRate)
	case f.simContainers < 1:
		return f, usageError("invalid setting sim-containers (flag --sim-containers): must be at least 1")
	case math.IsNaN(f.simAISRate) || math.IsInf(f.simAISRate, 0) || f.simAISRate < 0:
		return f, usageError("invalid setting sim-ais-rate (flag --sim-ais-rate): %g is not a non-negative number", f.simAISRate)
	case math.IsNaN(f.simCustoms) || math.IsInf(f.simCustoms, 0) || f.simCustoms < 0:
		return f, usageError("invalid setting sim-customs-rate (flag --sim-customs-rate): %g is not a non-negative number", f.simCustoms)
	case f.simVessels < 1 || f.simVessels > maxSimVessels:
		return f, usageError("invalid setting sim-vessels (flag --sim-vessels): %d is out of range [1, %d]", f.simVessels, maxSimVessels)
	}
	if _, _, err := splitPort(f.brokerAddr); err != nil {
		return f, usageError("invalid setting broker-addr (flag --broker-addr): %v", err)
	}

	return f, nil
}

// loopback reports whether addr's host is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxSimVessels is the largest AIS fleet bench/sim generates.
const maxSimVessels = 10_000

func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", addr)
	}
	return host, port, nil
}

// demoGroup is the demo's consumer group: not serve's default (porttrack),
// so a `serve --group porttrack` pointed at the demo's broker is a consumer
// of its own instead of taking half of the demo's partitions.
const demoGroup = "porttrack-demo"

// demoWebhooksAllow is the demo's webhooks.allow: loopback only.
var demoWebhooksAllow = []string{"127.0.0.0/8", "::1/128"}

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	f, err := parseDemoFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.adminKey == "" {
		f.adminKey = getenv("PORTTRACK_ADMIN_KEY")
	}
	if f.adminKeyFile == "" {
		f.adminKeyFile = getenv("PORTTRACK_ADMIN_KEY_FILE")
	}
	if f.adminKeyFile != "" {
		if f.adminKey != "" {
			return usageError("invalid setting admin-key-file (flag --admin-key-file): --admin-key is set too; give the admin key one way")
		}
		if f.adminKey, err = readAdminKeyFile(f.adminKeyFile); err != nil {
			return usageError("invalid setting admin-key-file (flag --admin-key-file, env PORTTRACK_ADMIN_KEY_FILE): %v", err)
		}
	}
	if f.adminKey == "" && !loopback(f.httpAddr) {
		return usageError("invalid setting admin-key (flag --admin-key): required when http-addr %q is not a loopback address", f.httpAddr)
	}
	// The data directory: a temporary one of the demo's own is removed when
	// the demo ends cleanly or fails to start, and kept (and named) after a
	// failure while running; the user's --data-dir is never removed, only
	// what a failed start created in it.
	tempDir, started := f.dataDir == "", false
	if tempDir {
		if f.dataDir, err = os.MkdirTemp("", "porttrack-demo-"); err != nil {
			return err
		}
	}
	var created []string
	for _, sub := range []string{"kafka", "state"} {
		if p := filepath.Join(f.dataDir, sub); !exists(p) {
			created = append(created, p)
		}
	}
	defer func() {
		switch {
		case tempDir && (err == nil || !started):
			if rerr := os.RemoveAll(f.dataDir); rerr != nil {
				fmt.Fprintf(stderr, "porttrack: cannot remove the demo's data directory: %v\n", rerr)
			}
		case tempDir:
			fmt.Fprintf(stderr, "porttrack: the demo's data directory %s is kept for a look at what failed; remove it when done\n", f.dataDir)
		case !started:
			for _, p := range created {
				_ = os.RemoveAll(p)
			}
		}
	}()
	cfg := defaultConfig()
	cfg.HTTPAddr = f.httpAddr
	cfg.DataDir = f.dataDir
	cfg.LogLevel = f.logLevel
	cfg.AdminKey = f.adminKey
	cfg.openAPI = f.adminKey == ""
	// Receivers of the demo's webhooks run on this machine: loopback is
	// re-opened to callbacks, every other non-public range stays denied.
	cfg.Webhooks.Allow = demoWebhooksAllow
	cfg.Brokers = []string{f.brokerAddr}
	cfg.Group = demoGroup
	// Short group timings: one member on one machine rejoins fast.
	cfg.SessionTimeout = 3 * time.Second
	cfg.Heartbeat = 300 * time.Millisecond
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(&cfg, stderr)

	host, port, _ := splitPort(f.brokerAddr)
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.DataDir(filepath.Join(f.dataDir, "kafka")),
		kfake.SeedTopics(int32(f.partitions), cfg.Topics.all()...),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		return fmt.Errorf("embedded broker on %s: %w", f.brokerAddr, err)
	}
	defer cluster.Close()
	cfg.Brokers = cluster.ListenAddrs()

	n, err := newNode(&cfg, log)
	if err != nil {
		return err
	}
	started = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	simBox := sim.ContainerNumbers(1, 1)[0]
	if f.simModel == "day" {
		dc := demoDayConfig(f, cfg, log)
		simBox = firstRFIDBox(dc, simBox)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sim.RunDay(ctx, dc); err != nil && ctx.Err() == nil {
				log.Error("simulator stopped", "err", err)
			}
		}()
	}
	if f.simModel == "fleet" && f.simRate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := sim.Run(ctx, sim.Config{
				Brokers:    cfg.Brokers,
				Topic:      cfg.Topics.RFID,
				Rate:       f.simRate,
				Containers: f.simContainers,
				Seed:       1,
				BadRate:    0.01,
				DupRate:    0.02,
				Logger:     log,
			})
			if err != nil && ctx.Err() == nil {
				log.Error("simulator stopped", "err", err)
			}
		}()
	}
	if f.simModel == "fleet" && f.simAISRate > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := sim.RunAIS(ctx, sim.AISConfig{
				Brokers: cfg.Brokers,
				Topic:   cfg.Topics.AIS,
				Rate:    f.simAISRate,
				Vessels: f.simVessels,
				Seed:    1,
				// Every message tag-blocked (s: station, c: event time):
				// the generator's event time runs at its own pace (about
				// 1.4 sentences per event-second for 40 ships), so untagged
				// lines, timed by their Kafka timestamp (the wall clock),
				// would mix two clocks and the newer clock would hide the
				// other's positions.
				TagBlockRate: 1,
				Logger:       log,
			})
			if err != nil && ctx.Err() == nil {
				log.Error("AIS simulator stopped", "err", err)
			}
		}()
	}
	if f.simCustoms > 0 && f.simModel != "off" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// With the day model, container flows come from its boxes.
			_, err := sim.RunCustoms(ctx, demoCustomsSim(cfg.Brokers, cfg.Topics.Customs, f.simCustoms, f.simModel != "day", time.Now(), log))
			if err != nil && ctx.Err() == nil {
				log.Error("customs simulator stopped", "err", err)
			}
		}()
	}
	printDemoHints(stdout, cfg.Brokers[0], n.ln.Addr().String(), f, tempDir, simBox)
	auth := ""
	if cfg.openAPI {
		fmt.Fprintln(stdout, "\nThe API is open (no --admin-key): requests without a key act as the port operator, on loopback only.")
	} else {
		auth = "-H 'Authorization: Bearer <admin key>' "
		fmt.Fprintln(stdout, "\nThe API needs a key: curl "+auth+"...")
	}
	fmt.Fprintf(stdout, "Webhook callbacks may reach loopback (%s) for receivers on this machine; private, link-local and other non-public ranges stay denied.\n", strings.Join(demoWebhooksAllow, ","))
	fmt.Fprintf(stdout, "DCSA Track & Trace 2.2 events, newest first:\n  curl -s %s'http://%s/v2/events?sort=eventCreatedDateTime:DESC&limit=5'\n", auth, n.ln.Addr().String())
	printCustomsHints(stdout, cfg.Brokers[0], n.ln.Addr().String())
	err = n.run(ctx)
	cancel()
	wg.Wait()
	return err
}

// demoCatchUp is the simulated time the demo's day model replays at
// --sim-speedup before it reaches the wall clock and goes on in real time.
const demoCatchUp = 12 * time.Hour

// demoSimStart is the start of the demo's simulated day: far enough in the
// past that the clock, at speedup simulated seconds per second, reaches the
// wall clock after demoCatchUp of simulated time (sim.CatchUpStart): at 30×
// it starts 11 h 36 min back and catches up after 24 minutes. Simulated
// time is never in the future: event times stay before their ingest, and
// dwell and waiting times are measured on one clock.
func demoSimStart(now time.Time, speedup float64) time.Time {
	return sim.CatchUpStart(now.UTC(), demoCatchUp, speedup).Truncate(time.Second)
}

// demoDayConfig is the day model the demo runs: a week of simulated time
// from demoSimStart, paced by --sim-speedup (or --sim-rate) until it
// reaches the wall clock, then live.
func demoDayConfig(f demoFlags, cfg Config, log *slog.Logger) sim.DayConfig {
	dc := sim.DayConfig{
		Brokers:        cfg.Brokers,
		RFIDTopic:      cfg.Topics.RFID,
		AISTopic:       cfg.Topics.AIS,
		TransportTopic: cfg.Topics.Transport,
		Scale:          f.simScale,
		Speedup:        f.simSpeedup,
		Duration:       7 * 24 * time.Hour,
		Seed:           1,
		Start:          demoSimStart(time.Now(), f.simSpeedup),
		Live:           true,
		Logger:         log,
	}
	if dc.TransportTopic == "-" {
		dc.TransportTopic = "port.transport"
	}
	if f.simRateSet {
		dc.Rate = f.simRate
	}
	if f.simCustoms > 0 {
		dc.Customs = sim.CustomsDayFlows(dc.Seed) // the day's boxes through customs
		dc.CustomsTopic = cfg.Topics.Customs
	}
	return dc
}

// firstRFIDBox is the container of the day's first RFID record, def if the
// day has none.
func firstRFIDBox(dc sim.DayConfig, def string) string {
	g := sim.NewDayGenerator(dc)
	for i := 0; i < 100_000; i++ {
		r := g.Next(nil, 1)
		if len(r) == 0 {
			break
		}
		if r[0].Topic == dc.RFIDTopic {
			return string(r[0].Key)
		}
	}
	return def
}

// exists reports whether path names a file or directory.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// demoAISSentence is the hint's AIS sentence: the known-answer type 1 of
// DOMAIN.md §9.5 (MMSI 477553000). It holds a backtick and a '?': the hint
// single-quotes it and prints it with printf, so it pastes into any POSIX
// shell unchanged.
const demoAISSentence = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"

func printDemoHints(w io.Writer, broker, httpAddr string, f demoFlags, tempDir bool, simBox string) {
	now := time.Now().UTC().Format(time.RFC3339)
	rfidSim, aisSim := "off", "off"
	switch f.simModel {
	case "day":
		pace := fmt.Sprintf("runs %g× real time", f.simSpeedup)
		if f.simRateSet {
			pace = fmt.Sprintf("runs at %g records/s", f.simRate)
		}
		back := time.Now().Sub(demoSimStart(time.Now(), f.simSpeedup))
		rfidSim = fmt.Sprintf("day model at scale %g: ships, cranes, yard, trucks, trains; its clock starts %s back, %s until it reaches the wall clock, then runs in real time",
			f.simScale, fmtHours(back), pace)
		aisSim = "part of the day model"
	case "fleet":
		if f.simRate > 0 {
			rfidSim = fmt.Sprintf("%g RFID events/s over %d containers", f.simRate, f.simContainers)
		}
		if f.simAISRate > 0 {
			aisSim = fmt.Sprintf("%g AIS sentences/s over %d ships and %d small craft", f.simAISRate, f.simVessels, max(f.simVessels/8, 1))
		}
	}
	dataDir := f.dataDir
	if tempDir {
		dataDir += "  (temporary: removed when the demo stops)"
	}
	fmt.Fprintf(w, `porttrack demo is running (Ctrl-C stops it).
  Port map      http://%[2]s/map  (open it in a browser)
  HTTP API      http://%[2]s
  Kafka broker  %[1]s  (embedded, for one machine and trials; production uses a Kafka cluster)
  consumer group %[9]s  (a porttrack serve on this broker with another group consumes apart)
  data dir      %[3]s
  simulator     %[4]s
  AIS simulator %[5]s

Send an EPCIS gate-in event with kcat, then ask for the container:
  echo '{"type":"ObjectEvent","eventTime":"%[6]s","eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:bic:CSQU3054383"],"action":"OBSERVE","bizStep":"arriving","readPoint":{"id":"BLCT-GATE-L1"},"bizLocation":{"id":"CNNGB-BLCT-GATE"}}' | kcat -P -b %[1]s -t port.rfid -k CSQU3054383
  curl -s http://%[2]s/v1/containers/CSQU3054383
A simulated box and its history:
  curl -s 'http://%[2]s/v1/containers/%[7]s/events?limit=10'
Send a raw AIS sentence (NMEA !AIVDM, type 1, MMSI 477553000) with kcat, then ask for the vessel:
  printf '%%s\n' '%[8]s' | kcat -P -b %[1]s -t port.ais -k NBVTS-01
  curl -s http://%[2]s/v1/vessels/477553000
Vessels within 5 km of the Beilun anchorage, nearest first:
  curl -s 'http://%[2]s/v1/vessels?near=29.965,121.921&radius=5000&limit=10'
Boxes stacked in yard block C of the Beilun terminal (BLCT), and boxes in the terminal for more than an hour:
  curl -s 'http://%[2]s/v1/containers?facility=nbct-yard-c&count=true&limit=5'
  curl -s 'http://%[2]s/v1/containers?dwell_gt=1h&count=true&limit=5'
Trucks within 2 km of the Beilun (NBCT) gate, nearest first (the day model's GNSS tracks):
  curl -s 'http://%[2]s/v1/trucks?near=gate:nbct-gate&radius=2000&limit=10'
Health and metrics:
  curl -s http://%[2]s/readyz; echo; curl -s http://%[2]s/metrics | grep -E '^porttrack_(ingest_records|ais)'
`, broker, httpAddr, dataDir, rfidSim, aisSim, now, simBox, demoAISSentence, demoGroup)
}

// fmtHours prints d in hours and minutes: "11h36m".
func fmtHours(d time.Duration) string {
	d = d.Round(time.Minute)
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
}
