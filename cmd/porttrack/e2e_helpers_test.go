package main

// Helpers of the end-to-end tests (e2e_*_test.go): polling with a deadline
// instead of sleeping (nats server_test.go checkFor), free loopback ports,
// HTTP and Prometheus-text scraping, and a goroutine-safe output buffer.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond every 10 ms until it reports true or timeout passes,
// then fails the test with the last reason cond gave.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	waitForEvery(t, timeout, 10*time.Millisecond, cond)
}

// waitForEvery is waitFor with a chosen polling interval. It returns how
// long the wait took.
func waitForEvery(t testing.TB, timeout, every time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, why)
		}
		<-tick.C
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago (listen on :0, close).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// e2eHTTP is the client of the e2e tests: short timeouts, so that a hung
// server fails a poll instead of the whole test binary.
var e2eHTTP = &http.Client{Timeout: 5 * time.Second}

// httpGet returns the status and body of GET url.
func httpGet(url string) (int, []byte, error) {
	resp, err := e2eHTTP.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// scrape fetches a Prometheus text page and returns its samples keyed by the
// series as written ("name" or `name{label="v",...}`).
func scrape(url string) (map[string]float64, error) {
	code, body, err := httpGet(url)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.200s", url, code, body)
	}
	return parsePromText(body)
}

// parsePromText parses the sample lines of the Prometheus text format
// (enough of it for porttrack's own metrics: no timestamps, no spaces in
// label values).
func parsePromText(body []byte) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("malformed metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("malformed metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// series returns the samples of metric name whose label set contains every
// given label="value" pair, keyed by the full series.
func series(samples map[string]float64, name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range samples {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(k, l) {
				match = false
				break
			}
		}
		if match {
			out[k] = v
		}
	}
	return out
}

// syncBuffer is an io.Writer safe for concurrent use: the output of a
// process or of run, read by the test while it is written.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s, for failure messages.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
