package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, why)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func epcis(box, bizStep, at string) []byte {
	return []byte(fmt.Sprintf(`{"type":"ObjectEvent","eventTime":%q,"eventTimeZoneOffset":"+08:00","epcList":["urn:epc:id:bic:%s"],"action":"OBSERVE","bizStep":%q,"readPoint":{"id":"BLCT-GATE-L1"},"bizLocation":{"id":"CNNGB-BLCT-GATE"}}`, at, box, bizStep))
}

type harness struct {
	cluster *kfake.Cluster
	store   *portstate.State
	engine  *ingest.Engine
	cancel  context.CancelFunc
	done    chan error
}

func start(t *testing.T, group string, topics ...string) *harness {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, append([]string{"port.rfid", "porttrack.dlq"}, topics...)...),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return startOn(t, c, group)
}

// startOn runs an engine with a fresh store against the cluster c.
func startOn(t *testing.T, c *kfake.Cluster, group string) *harness {
	t.Helper()
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ingest.New(ingest.Config{
		Brokers: c.ListenAddrs(), GroupID: group,
		SessionTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond, RebalanceTimeout: time.Second,
		FetchMaxWait: 50 * time.Millisecond, Deadlines: store.Customs,
	}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{cluster: c, store: store, engine: e, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- e.Run(ctx) }()
	t.Cleanup(func() {
		h.stop(t)
		store.Close()
	})
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("engine did not stop within 15s")
	}
}

func produce(t *testing.T, brokers []string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "port.rfid", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 2 << 20}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

type dlqRecord struct {
	key, value []byte
	headers    map[string]string
}

func readDLQ(t *testing.T, brokers []string) []dlqRecord {
	t.Helper()
	var out []dlqRecord
	for p := 0; p < 3; p++ {
		conn, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], "porttrack.dlq", p)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := conn.ReadOffsets()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
			t.Fatal(err)
		}
		for off := first; off < last; {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			b := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				hs := map[string]string{}
				for _, h := range m.Headers {
					hs[h.Key] = string(h.Value)
				}
				out = append(out, dlqRecord{m.Key, m.Value, hs})
				off = m.Offset + 1
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	return out
}

// TestBadInputDeadLettered is the bad-input acceptance test: each kind of
// bad record lands in porttrack.dlq with its reason, the good records around
// it are applied, and the engine stays ready.
func TestBadInputDeadLettered(t *testing.T) {
	for _, group := range []string{"", "bad-input"} {
		t.Run("group="+group, func(t *testing.T) { testBadInput(t, group) })
	}
}

func testBadInput(t *testing.T, group string) {
	h := start(t, group)
	brokers := h.cluster.ListenAddrs()
	waitFor(t, 20*time.Second, func() (bool, string) { return h.engine.Ready(), "engine not ready on an empty topic" })

	garbage := make([]byte, 512)
	rand.New(rand.NewSource(1)).Read(garbage)
	big := append(epcis("CSQU3054383", "arriving", "2026-11-22T08:00:00Z"), bytes.Repeat([]byte(" "), 900<<10)...)
	bad := map[string][]byte{
		"empty":           nil,
		"invalid_json":    []byte(`{"type":"ObjectEvent",`),
		"oversize":        big,
		"check_digit":     epcis("TGHU0436452", "arriving", "2026-11-22T08:00:00Z"),
		"unknown_bizstep": epcis("CSQU3054383", "repairing", "2026-11-22T08:00:00Z"),
		"garbage":         garbage,
	}
	// Good records for two boxes around every bad one, all on the same keys
	// so that they share partitions with the bad records.
	var msgs []kafka.Message
	hour := 0
	good := func(box string) {
		hour++
		msgs = append(msgs, kafka.Message{Key: []byte(box), Value: epcis(box, "arriving", fmt.Sprintf("2026-11-22T%02d:00:00Z", hour))})
	}
	kinds := []string{"empty", "invalid_json", "oversize", "check_digit", "unknown_bizstep", "garbage"}
	for _, k := range kinds {
		good("CSQU3054383")
		msgs = append(msgs, kafka.Message{Key: []byte("CSQU3054383"), Value: bad[k], Headers: []kafka.Header{{Key: "kind", Value: []byte(k)}}})
		good("MSKU9070323")
	}
	produce(t, brokers, msgs...)

	waitFor(t, 20*time.Second, func() (bool, string) {
		a, errA := h.store.Container("CSQU3054383")
		b, errB := h.store.Container("MSKU9070323")
		return errA == nil && errB == nil && a.Count == 6 && b.Count == 6, fmt.Sprintf("%+v %v / %+v %v", a, errA, b, errB)
	})
	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == len(kinds), fmt.Sprintf("%d dead letters, want %d", len(dlq), len(kinds))
	})
	seen := map[string]bool{}
	for _, d := range dlq {
		kind := d.headers["kind"]
		seen[kind] = true
		wantValue := bad[kind]
		if len(wantValue) > ingest.DefaultDeadLetterMaxBytes {
			// A dead letter carries a prefix of a long value, and says so.
			wantValue = wantValue[:ingest.DefaultDeadLetterMaxBytes]
			sum := sha256.Sum256(bad[kind])
			if d.headers["value-truncated"] != "true" || d.headers["value-size"] != strconv.Itoa(len(bad[kind])) ||
				d.headers["value-sha256"] != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: truncated dead letter headers %v, want value-truncated true, value-size %d, value-sha256 %x", kind, d.headers, len(bad[kind]), sum)
			}
		} else if _, ok := d.headers["value-truncated"]; ok {
			t.Errorf("%s: a whole value is marked truncated", kind)
		}
		if !bytes.Equal(d.value, wantValue) || string(d.key) != "CSQU3054383" {
			t.Errorf("%s: dead letter does not carry the original key and value (or its prefix): %d bytes", kind, len(d.value))
		}
		reason, _, _ := strings.Cut(d.headers["error"], ":")
		want := kind
		if kind == "garbage" {
			want = "invalid_json"
		}
		if reason != want {
			t.Errorf("%s: error header %q, want reason %q", kind, d.headers["error"], want)
		}
		for _, hk := range []string{"source-topic", "source-partition", "source-offset", "porttrack-id"} {
			if d.headers[hk] == "" {
				t.Errorf("%s: header %s missing", kind, hk)
			}
		}
		if d.headers["source-topic"] != "port.rfid" {
			t.Errorf("%s: source-topic %q", kind, d.headers["source-topic"])
		}
	}
	if len(seen) != len(kinds) {
		t.Errorf("dead letters by kind: %v", seen)
	}
	dead := h.engine.DeadLettered()
	var total uint64
	for _, n := range dead {
		total += n
	}
	if total != uint64(len(kinds)) || dead["invalid_json"] != 2 || dead["oversize"] != 1 {
		t.Errorf("dead-letter counts by reason: %v", dead)
	}
	if !h.engine.Ready() {
		t.Error("engine not ready after bad input")
	}
	// Idle partitions poll the log end; that is not an error.
	if n := h.engine.Stats().PartitionErrors; n != 0 {
		t.Errorf("%d partition consumer restarts", n)
	}
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `porttrack_ingest_records_dead_lettered_total{reason="oversize"} 1`) {
		t.Errorf("metrics lack the oversize count:\n%s", sb.String())
	}
}

// TestResumeFromStoredOffset restarts the engine on the same store and
// checks that nothing is applied twice and later records are applied.
func TestResumeFromStoredOffset(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "porttrack.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs := vfs.NewMem()
	brokers := c.ListenAddrs()
	run := func(check func(*portstate.State) (bool, string)) {
		t.Helper()
		store, err := portstate.Open(state.Options{Dir: "db", FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		e, err := ingest.New(ingest.Config{Brokers: brokers, FetchMaxWait: 20 * time.Millisecond}, store.Store)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); e.Run(ctx) }()
		waitFor(t, 20*time.Second, func() (bool, string) {
			if !e.Ready() {
				return false, "not ready"
			}
			return check(store)
		})
		cancel()
		wg.Wait()
		if st := e.Stats(); st.Duplicates != 0 {
			t.Errorf("restart re-applied %d records", st.Duplicates)
		}
	}
	var msgs []kafka.Message
	for i := 1; i <= 20; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte("APZU4812090"), Value: epcis("APZU4812090", "loading", fmt.Sprintf("2026-11-22T08:%02d:00Z", i))})
	}
	produce(t, brokers, msgs[:10]...)
	count := func(n uint64) func(*portstate.State) (bool, string) {
		return func(s *portstate.State) (bool, string) {
			c, err := s.Container("APZU4812090")
			return err == nil && c.Count == n, fmt.Sprintf("count %d (%v), want %d", c.Count, err, n)
		}
	}
	run(count(10))
	produce(t, brokers, msgs[10:]...)
	run(count(20))
}
