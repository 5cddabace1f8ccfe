package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/state/customs"
)

// TestCustomsBadInputDeadLettered: every kind of bad customs record goes to
// porttrack.dlq with its reason while the good documents around it make a
// matched order whose result reaches porttrack.customs-results.
func TestCustomsBadInputDeadLettered(t *testing.T) {
	h := start(t, "", "port.customs", "porttrack.customs-results")
	brokers := h.cluster.ListenAddrs()
	waitFor(t, 20*time.Second, func() (bool, string) { return h.engine.Ready(), "engine not ready" })

	doc := func(name string) []byte {
		b, err := os.ReadFile("customs/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	order := doc("ceb311.xml")
	bad := map[string][]byte{
		"malformed_xml":   order[:len(order)/2],
		"wrong_namespace": bytes.Replace(order, []byte("http://www.chinaport.gov.cn/ceb"), []byte("urn:x"), 1),
		"unknown_type":    bytes.ReplaceAll(order, []byte("CEB311Message"), []byte("CEB303Message")),
		"bad_encoding":    bytes.Replace(order, []byte("张三"), []byte{0xff, 0xfe}, 1),
		"oversize":        append(bytes.Clone(order), bytes.Repeat([]byte(" "), 300<<10)...),
		"invalid_json":    []byte(`{"type":"CEB411"`),
	}
	var msgs []kafka.Message
	good := []string{"ceb311.xml", "ceb411.xml", "ceb511.xml", "ceb621.xml", "ceb622.xml", "container_held.json"}
	kinds := []string{"malformed_xml", "wrong_namespace", "unknown_type", "bad_encoding", "oversize", "invalid_json"}
	for i, k := range kinds {
		msgs = append(msgs, kafka.Message{Key: []byte("NB20261122000001"), Value: bad[k], Headers: []kafka.Header{{Key: "kind", Value: []byte(k)}}},
			kafka.Message{Key: []byte("NB20261122000001"), Value: doc(good[i])})
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "port.customs", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 2 << 20}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	waitFor(t, 20*time.Second, func() (bool, string) {
		b, err := h.store.Customs.Order(nil, "3302461234", "NB20261122000001")
		return err == nil && bytes.Contains(b, []byte(`"result":"matched"`)) && bytes.Contains(b, []byte(`"status":"released"`)), fmt.Sprintf("%s %v", b, err)
	})
	var cc customs.ContainerCustoms
	if err := h.store.Customs.ContainerCustoms(h.store.Live(), "MSKU9070323", &cc); err != nil || string(cc.Status) != "held" {
		t.Errorf("container customs %s %v", cc.Status, err)
	}
	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == len(kinds), fmt.Sprintf("%d dead letters, want %d", len(dlq), len(kinds))
	})
	for _, d := range dlq {
		reason, _, _ := strings.Cut(d.headers["error"], ":")
		kind := d.headers["kind"]
		want := bad[kind]
		if len(want) > ingest.DefaultDeadLetterMaxBytes { // the oversize one: its prefix
			want = want[:ingest.DefaultDeadLetterMaxBytes]
		}
		if reason != kind || !bytes.Equal(d.value, want) || d.headers["source-topic"] != "port.customs" {
			t.Errorf("%s: dead letter with error %q, source %q", kind, d.headers["error"], d.headers["source-topic"])
		}
	}
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	for _, want := range []string{`porttrack_customs_documents_total{type="CEB311"} 1`, `porttrack_customs_documents_total{type="container"} 1`,
		`porttrack_ingest_records_dead_lettered_total{reason="bad_encoding"} 1`} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The results were published: nothing is left in the outbox.
	waitFor(t, 10*time.Second, func() (bool, string) {
		n, err := h.store.OutboxLen()
		return err == nil && n == 0, fmt.Sprintf("outbox holds %d (%v)", n, err)
	})
	if p := h.engine.Stats().Published; p < 2+uint64(len(kinds)) {
		t.Errorf("published %d messages, want the match, the receipt status and %d dead letters", p, len(kinds))
	}
}
