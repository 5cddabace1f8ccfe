package ingest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestPublishResendsBatchRefusal: the broker refuses the batch that holds
// a too-large entry and a small good one (same partition, one
// WriteMessages). The small one is published intact; only the large one is
// set aside with a stub.
func TestPublishResendsBatchRefusal(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "porttrack.dlq"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "20000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := New(Config{Brokers: c.ListenAddrs()}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(c.ListenAddrs()...), Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	big := bytes.Repeat([]byte("{"), 30000)
	msgs := []kafka.Message{
		{Topic: "porttrack.dlq", Key: []byte("K"), Value: big},
		{Topic: "porttrack.dlq", Key: []byte("K"), Value: []byte("{small"), Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.publish(ctx, w, msgs, []uint64{1, 2}); err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("porttrack.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	for len(got) < 2 && ctx.Err() == nil {
		got = append(got, cl.PollFetches(ctx).Records()...)
	}
	var small, stub int
	for _, r := range got {
		switch {
		case string(r.Value) == "{small" && len(r.Headers) == 1 && r.Headers[0].Key == "h" && string(r.Headers[0].Value) == "v":
			small++
		case len(r.Value) == 0 && headerOf(r, HeaderOutboxSeq) == "1" && strings.Contains(headerOf(r, HeaderError), "refused"):
			stub++
		default:
			t.Errorf("unexpected record: %d bytes, headers %v", len(r.Value), r.Headers)
		}
	}
	if small != 1 || stub != 1 {
		t.Errorf("published %d small entries and %d stubs, want 1 and 1", small, stub)
	}
	if n := e.metrics.outboxSetAside.Load(); n != 1 {
		t.Errorf("set aside %d, want 1", n)
	}
}

func headerOf(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
