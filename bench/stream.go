package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/query"
	"github.com/porttrack/porttrack/state/portstate"
)

// StreamConfig configures the stream scenario: what live-stream clients
// cost the engine's ingest rate. The ingest scenario's records are ingested
// into a fresh store alternately without stream clients and with Clients
// of them connected on loopback (each GET /v1/stream?kinds=containers,
// reading everything), Ingest.Rounds times each way.
type StreamConfig struct {
	Ingest  IngestConfig
	Clients int // default 1000
	// Kinds is the clients' kinds parameter, default "containers": every
	// change the RFID records make goes to every client. The map's own
	// subscription, "vessels,trucks,trains,alerts", gets none of them and
	// measures what idle streams cost.
	Kinds string
}

// StreamResult is the outcome of RunStream: medians over the rounds.
type StreamResult struct {
	Scenario   string  `json:"scenario"` // "stream"
	Records    int     `json:"records"`
	Partitions int     `json:"partitions"`
	Clients    int     `json:"clients"`
	Kinds      string  `json:"kinds"`
	Rounds     int     `json:"rounds"`
	CPUs       int     `json:"cpus"`
	RateAlone  float64 `json:"engine_records_per_sec_alone"`
	RateWith   float64 `json:"engine_records_per_sec_with_clients"`
	Cost       float64 `json:"cost"` // 1 - RateWith/RateAlone
	// EventsPerClient and BytesPerClient are what one client received in a
	// round with clients (median).
	EventsPerClient float64       `json:"events_per_client"`
	BytesPerClient  float64       `json:"bytes_per_client"`
	PerRound        []StreamRound `json:"per_round"`
}

// StreamRound is one round: the engine alone and with clients.
type StreamRound struct {
	RateAlone, RateWith float64
	Events, Bytes       float64 // per client
}

// RunStream runs the stream scenario.
func RunStream(ctx context.Context, cfg StreamConfig) (res StreamResult, err error) {
	if cfg.Clients == 0 {
		cfg.Clients = 1000
	}
	if cfg.Kinds == "" {
		cfg.Kinds = "containers"
	}
	for _, k := range strings.Split(cfg.Kinds, ",") {
		if !slices.Contains([]string{"vessels", "trucks", "containers", "trains", "alerts", "customs"}, k) {
			return res, fmt.Errorf("bench: stream: kinds: %q is not one of vessels, trucks, containers, trains, alerts, customs", k)
		}
	}
	if cfg.Clients < 1 || cfg.Clients > 20000 {
		return res, fmt.Errorf("bench: stream: clients: %d out of range [1, 20000]", cfg.Clients)
	}
	if err := cfg.Ingest.Validate(); err != nil {
		return res, fmt.Errorf("bench: stream: %w", err)
	}
	ic := cfg.Ingest.withDefaults()
	raiseNoFile()
	res = StreamResult{Scenario: "stream", Records: ic.Records, Partitions: ic.Partitions, Clients: cfg.Clients, Kinds: cfg.Kinds, Rounds: ic.Rounds, CPUs: runtime.GOMAXPROCS(0)}
	dir, err := os.MkdirTemp(ic.DataDir, "porttrack-bench-stream-")
	if err != nil {
		return res, fmt.Errorf("bench: stream: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	topics := ingest.Topics{RFID: ingest.DefaultRFIDTopic, DLQ: ingest.DefaultDLQTopic}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "kafka")),
		kfake.SeedTopics(int32(ic.Partitions), topics.RFID, topics.DLQ))
	if err != nil {
		return res, fmt.Errorf("bench: stream: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	var ir IngestResult
	expected, err := produce(ctx, ic, brokers, topics.RFID, &ir)
	if err != nil {
		return res, err
	}
	for round := range ic.Rounds {
		var r StreamRound
		for _, clients := range []int{0, cfg.Clients} {
			runtime.GC()
			er, got, err := runEngineStreaming(ctx, ic, brokers, topics, filepath.Join(dir, fmt.Sprintf("state-%d-%d", round, clients)), expected, clients, cfg.Kinds)
			if err != nil {
				return res, fmt.Errorf("bench: stream: round %d, %d clients: %w", round+1, clients, err)
			}
			rate := float64(er.stored) / er.d.Seconds()
			if clients == 0 {
				r.RateAlone = rate
			} else {
				r.RateWith = rate
				r.Events, r.Bytes = float64(got.events)/float64(clients), float64(got.bytes)/float64(clients)
			}
			ic.Logger.Info("bench stream: engine", "round", round+1, "clients", clients, "rate", rate, "events_per_client", float64(got.events)/max(1, float64(clients)))
		}
		res.PerRound = append(res.PerRound, r)
	}
	res.RateAlone = median(res.PerRound, func(r StreamRound) float64 { return r.RateAlone })
	res.RateWith = median(res.PerRound, func(r StreamRound) float64 { return r.RateWith })
	res.EventsPerClient = median(res.PerRound, func(r StreamRound) float64 { return r.Events })
	res.BytesPerClient = median(res.PerRound, func(r StreamRound) float64 { return r.Bytes })
	res.Cost = 1 - res.RateWith/res.RateAlone
	return res, nil
}

// streamReceived counts what the clients read.
type streamReceived struct {
	events, bytes int64
}

// runEngineStreaming is runEngine with clients stream clients connected to
// a query server on the same store before the engine starts.
func runEngineStreaming(ctx context.Context, cfg IngestConfig, brokers []string, topics ingest.Topics, dir string, expected int64, clients int, kinds string) (engineRun, streamReceived, error) {
	var got streamReceived
	if clients == 0 {
		er, err := runEngine(ctx, cfg, brokers, topics, dir, expected, nil)
		return er, got, err
	}
	var events, bytes atomic.Int64
	er, err := runEngine(ctx, cfg, brokers, topics, dir, expected, func(store *portstate.State) (func(), error) {
		return startStreamClients(ctx, store, clients, kinds, &events, &bytes)
	})
	got.events, got.bytes = events.Load(), bytes.Load()
	return er, got, err
}

// startStreamClients serves the query API on loopback and connects n
// stream clients that read everything; it returns once all are streaming.
func startStreamClients(ctx context.Context, store *portstate.State, n int, kinds string, events, bytes *atomic.Int64) (stop func(), err error) {
	srv, err := query.New(query.Config{Store: store, Open: true, Stream: query.StreamConfig{MaxClients: n}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	addr := ln.Addr().String()
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, n)
	var mu sync.Mutex
	stop = func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		srv.Shutdown()
		wg.Wait()
	}
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("stream client: %w", err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		if _, err := io.WriteString(c, "GET /v1/stream?kinds="+kinds+" HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			stop()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReaderSize(c, 32<<10)
			for {
				line, err := r.ReadSlice('\n')
				bytes.Add(int64(len(line)))
				if len(line) > 6 && string(line[:6]) == "data: " {
					events.Add(1)
				}
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
			}
		}()
	}
	// Wait until the server counts every client.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if streamClients(addr) >= n {
			return stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("stream clients: %d of %d connected after 30 s", streamClients(addr), n)
		}
		time.Sleep(10 * time.Millisecond) // polling the server's gauge
	}
}

// streamClients reads porttrack_stream_clients from /metrics.
func streamClients(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return -1
	}
	defer c.Close()
	io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "porttrack_stream_clients "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// WriteTable prints the result.
func (r StreamResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "stream: %d records, %d partitions, %d stream clients (kinds=%s) on loopback, %d rounds, GOMAXPROCS %d (medians)\n",
		r.Records, r.Partitions, r.Clients, r.Kinds, r.Rounds, r.CPUs)
	fmt.Fprintf(w, "  engine alone         %10.0f records/s\n", r.RateAlone)
	fmt.Fprintf(w, "  engine with clients  %10.0f records/s   cost %.1f %%\n", r.RateWith, 100*r.Cost)
	fmt.Fprintf(w, "  per client           %10.0f events, %.0f bytes\n", r.EventsPerClient, r.BytesPerClient)
}
