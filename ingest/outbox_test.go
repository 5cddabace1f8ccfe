package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestOutboxSetsAsideRefusedEntries: the broker refuses a dead letter for
// good (larger than its message.max.bytes); the publisher sets it aside with
// a stub dead letter naming it, and the entries after it are published.
func TestOutboxSetsAsideRefusedEntries(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "porttrack.dlq"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h := startOn(t, c, "")
	brokers := c.ListenAddrs()
	big := bytes.Repeat([]byte("{"), 30000) // compresses below the limit, its dead letter does not
	wc := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "port.rfid", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Compression: kafka.Zstd}
	defer wc.Close()
	if err := wc.WriteMessages(t.Context(), kafka.Message{Key: []byte("K"), Value: big}); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, kafka.Message{Key: []byte("K"), Value: []byte("{small")})

	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == 2, fmt.Sprintf("%d dead letters, want the stub and the small one", len(dlq))
	})
	var stub, small *dlqRecord
	for i := range dlq {
		switch {
		case dlq[i].headers["outbox-seq"] != "":
			stub = &dlq[i]
		case string(dlq[i].value) == "{small":
			small = &dlq[i]
		}
	}
	if stub == nil || small == nil {
		t.Fatalf("dead letters %+v", dlq)
	}
	if !strings.Contains(stub.headers["error"], "refused by the broker") || stub.headers["outbox-topic"] != "porttrack.dlq" ||
		stub.headers["outbox-porttrack-id"] != "port.rfid/"+small.headers["source-partition"]+"/0" || len(stub.value) != 0 {
		t.Errorf("stub headers %v, value %d bytes", stub.headers, len(stub.value))
	}
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), "porttrack_outbox_set_aside_total 1\n") {
		t.Errorf("metrics: %s", grepLine(sb.String(), "porttrack_outbox_set_aside_total"))
	}
}

// TestOutboxOldestAge: while the outbox cannot publish (its topic does not
// exist), the age of its oldest entry grows and Degraded names the outbox;
// once the topic exists the entry is published and both clear.
func TestOutboxOldestAge(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := ingest.New(ingest.Config{Brokers: c.ListenAddrs(), FetchMaxWait: 50 * time.Millisecond,
		RetryBackoff: 50 * time.Millisecond, OutboxDegradedAfter: time.Second}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	produce(t, c.ListenAddrs(), kafka.Message{Key: []byte("K"), Value: []byte("{bad")})
	waitFor(t, 20*time.Second, func() (bool, string) {
		d := e.Degraded()
		return len(d) == 1 && strings.HasPrefix(d[0], "outbox: "), fmt.Sprintf("degraded %q", d)
	})
	var sb strings.Builder
	e.WritePrometheus(&sb)
	line := grepLine(sb.String(), "porttrack_outbox_oldest_age_seconds")
	var age float64
	if _, err := fmt.Sscanf(line, "porttrack_outbox_oldest_age_seconds %g", &age); err != nil || age < 1 {
		t.Errorf("%q, want an age of at least 1s", line)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = "porttrack.dlq", 1, 1
	req.Topics = append(req.Topics, tp)
	if _, err := req.RequestWith(t.Context(), cl); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		var sb strings.Builder
		e.WritePrometheus(&sb)
		line := grepLine(sb.String(), "porttrack_outbox_oldest_age_seconds")
		return len(e.Degraded()) == 0 && line == "porttrack_outbox_oldest_age_seconds 0", fmt.Sprintf("degraded %q, %s", e.Degraded(), line)
	})
}
