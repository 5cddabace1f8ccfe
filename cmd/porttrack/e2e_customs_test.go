package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// resultReader follows a topic with a kcat consumer and timestamps each
// record as it arrives.
type resultReader struct {
	mu    sync.Mutex
	lines []timedLine
}

type timedLine struct {
	at   time.Time
	text string
}

func followTopic(t *testing.T, kcat, broker, topic string) *resultReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning", "-u", "-q", "-f", "%s\n",
		// The reading client should not add its own long poll to the measure.
		"-X", "fetch.wait.max.ms=5")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &resultReader{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, timedLine{time.Now(), sc.Text()})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kcat consumer stderr: %s", stderr.String())
		}
	})
	return r
}

// waitRecord waits for a record containing every want substring.
func (r *resultReader) waitRecord(t *testing.T, timeout time.Duration, want ...string) timedLine {
	t.Helper()
	var got timedLine
	waitForEvery(t, timeout, time.Millisecond, func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, l := range r.lines {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l.text, w)
			}
			if ok {
				got = l
				return true, ""
			}
		}
		return false, fmt.Sprintf("no record with %q among %d: %v", want, len(r.lines), r.lines)
	})
	return got
}

func kcatProduceFiles(t *testing.T, kcat, broker, topic, key string, files ...string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Each file is one record.
	args := append([]string{"-P", "-b", broker, "-t", topic, "-k", key}, files...)
	out, err := exec.CommandContext(ctx, kcat, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, out)
	}
	return time.Now()
}

// TestKcatCustomsResults: CEB XML produced with kcat into port.customs (the
// order declared GB2312) gives a three_doc_match record on
// porttrack.customs-results, read back with kcat within 1 s of the last
// document; a CEB622 receipt gives an inventory_status record within 1 s;
// a message in the wrong namespace is dead-lettered with its reason.
func TestKcatCustomsResults(t *testing.T) {
	kcat := requireKcat(t)
	d := startDemo(t)
	results := followTopic(t, kcat, d.broker, "porttrack.customs-results")

	dir := t.TempDir()
	src := "../../ingest/customs/testdata/"
	read := func(name string) []byte {
		b, err := os.ReadFile(src + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(strings.Replace(string(read("ceb311.xml")), `encoding="UTF-8"`, `encoding="GB2312"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	order := write("ceb311-gb2312.xml", gbk)
	const orderNo = "NB20261122000001"
	kcatProduceFiles(t, kcat, d.broker, "port.customs", orderNo, order, src+"ceb411.xml", src+"ceb511.xml")
	sent := kcatProduceFiles(t, kcat, d.broker, "port.customs", orderNo, src+"ceb621.xml")
	got := results.waitRecord(t, 10*time.Second, `"kind":"three_doc_match"`, orderNo)
	latency := got.at.Sub(sent)
	t.Logf("three_doc_match read back by kcat %s after the inventory was produced: %s", latency.Round(time.Millisecond), got.text)
	if latency > time.Second {
		t.Errorf("result latency %s, want within 1s", latency)
	}
	var res struct {
		ID, Kind, EBPCode, OrderNo, Result string
		Reasons                            []any
		Missing                            []string
		Time                               time.Time
	}
	if err := json.Unmarshal([]byte(got.text), &res); err != nil {
		t.Fatal(err)
	}
	if res.Result != "matched" || res.EBPCode != "3302461234" || res.ID == "" || len(res.Reasons) != 0 || len(res.Missing) != 0 ||
		!res.Time.Equal(time.Date(2026, 11, 22, 0, 20, 0, 0, time.UTC)) {
		t.Errorf("result %+v, want matched at 2026-11-22T00:20:00Z (the inventory's appTime, UTC+8)", res)
	}

	sent = kcatProduceFiles(t, kcat, d.broker, "port.customs", orderNo, src+"ceb622.xml")
	got = results.waitRecord(t, 10*time.Second, `"kind":"inventory_status"`, `"status":"released"`)
	latency = got.at.Sub(sent)
	t.Logf("inventory_status read back %s after the receipt: %s", latency.Round(time.Millisecond), got.text)
	if latency > time.Second {
		t.Errorf("receipt latency %s, want within 1s", latency)
	}
	if !strings.Contains(got.text, `"orderNo":"`+orderNo+`"`) || !strings.Contains(got.text, `"returnStatus":"800"`) {
		t.Errorf("inventory_status %s", got.text)
	}

	code, body, err := httpGet(d.base + "/v1/orders/3302461234/" + orderNo)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET order: %d %s %v", code, body, err)
	}
	var o struct {
		Result, Status string
		Documents      struct {
			Order struct{ Doc struct{ BuyerName string } }
		}
	}
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	if o.Result != "matched" || o.Status != "released" || o.Documents.Order.Doc.BuyerName != "张三" {
		t.Errorf("order %s", body)
	}

	bad := write("bad.xml", []byte(strings.Replace(string(read("ceb311.xml")), "http://www.chinaport.gov.cn/ceb", "urn:other", 1)))
	kcatProduceFiles(t, kcat, d.broker, "port.customs", "bad", bad)
	waitFor(t, 10*time.Second, func() (bool, string) {
		m, err := scrape(d.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		n := m[`porttrack_ingest_records_dead_lettered_total{reason="wrong_namespace"}`]
		return n == 1, fmt.Sprintf("wrong_namespace dead letters: %v", n)
	})
	d.stop(t)
}
