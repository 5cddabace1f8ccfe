package main

// Helpers of the end-to-end tests (e2e_*_test.go): polling with a deadline
// instead of sleeping (nats server_test.go checkFor), free loopback ports,
// HTTP and Prometheus-text scraping, and a goroutine-safe output buffer.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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

// requireKcat returns kcat's path; it skips the test without kcat, unless CI
// is set (CI installs it in .ci/run), where that is a failure.
func requireKcat(t *testing.T) string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("kcat is not on PATH (CI installs it in .ci/run)")
		}
		t.Fatalf("kcat is not on PATH although CI is set (.ci/run installs it): %v", err)
	}
	return kcat
}

// demoRun is `porttrack demo` running in-process with both simulators off.
type demoRun struct {
	broker, httpAddr, base string
	stdout, stderr         syncBuffer
	cancel                 context.CancelFunc
	done                   chan error
	returned               bool
}

// startDemo runs the demo on free ports with the simulators off and its
// default partitions, and waits until /readyz is 200 (startDemoArgs).
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	return startDemoArgs(t, "--partitions", "6", "--sim-rate", "0", "--sim-ais-rate", "0", "--sim-customs-rate", "0",
		"--data-dir", t.TempDir())
}

// exited fails the test if the demo has returned.
func (d *demoRun) exited(t testing.TB) {
	t.Helper()
	select {
	case err := <-d.done:
		d.returned = true
		t.Fatalf("demo returned before the test ended: %v", err)
	default:
	}
}

// stop cancels the demo and requires a clean shutdown within 10 s.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case err := <-d.done:
		d.returned = true
		if err != nil {
			t.Errorf("run returned %v after cancellation, want nil (clean shutdown)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10 s of cancellation")
	}
}

// topicLine is one record value read by consumeTopic, with when it arrived.
type topicLine struct {
	at   time.Time
	text string
}

// topicConsumer is a kcat consumer of one topic from its beginning.
type topicConsumer struct {
	t     *testing.T
	lines chan topicLine
	cerr  *bytes.Buffer
	topic string
}

// consumeTopic starts kcat consuming topic and proves it live with a marker
// record, which it consumes; the consumer ends with ctx.
func consumeTopic(ctx context.Context, t *testing.T, kcat, broker, topic string) *topicConsumer {
	t.Helper()
	cons := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning",
		"-u", "-X", "fetch.wait.max.ms=5", "-f", "%s\n")
	out, err := cons.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &topicConsumer{t: t, lines: make(chan topicLine, 64), cerr: new(bytes.Buffer), topic: topic}
	cons.Stderr = c.cerr
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cons.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- topicLine{time.Now(), sc.Text()}
		}
		close(c.lines)
	}()
	kcatProduce(ctx, t, kcat, broker, topic, "marker", `{"kind":"marker"}`+"\n")
	if l := c.next("marker"); l.text != `{"kind":"marker"}` {
		t.Fatalf("first record on %s: %s, want the marker", topic, l.text)
	}
	return c
}

// next returns the next record, failing the test after 20 s without one.
func (c *topicConsumer) next(what string) topicLine {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("kcat consumer of %s ended before %s: %s", c.topic, what, c.cerr.String())
		}
		return l
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no %s on %s within 20 s: %s", what, c.topic, c.cerr.String())
	}
	return topicLine{}
}

// kcatProduce produces value (one record per line) to topic with kcat and
// returns when kcat exited.
func kcatProduce(ctx context.Context, t *testing.T, kcat, broker, topic, key, value string) time.Time {
	t.Helper()
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", broker, "-t", topic, "-k", key)
	cmd.Stdin = strings.NewReader(value)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	return time.Now()
}
