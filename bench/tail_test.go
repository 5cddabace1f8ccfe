package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceTxns writes, with a transactional producer, one aborted
// transaction holding a record keyed "aborted", then one committed
// transaction holding a record keyed "committed", to partition 0 of topic.
func produceTxns(t *testing.T, brokers []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("bench-tail-test"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, key := range []string{"aborted", "committed"} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: []byte(key)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		end := kgo.TryAbort
		if key == "committed" {
			end = kgo.TryCommit
		}
		if err := cl.EndTransaction(t.Context(), end); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestTailersReadCommitted: the freshness ceiling's tailing consumer and
// the customs latency phase's result follower read as the engine does
// (ingest/fetch, read_committed): a record of an aborted transaction is
// never seen, the committed one after it is.
func TestTailersReadCommitted(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tail"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()

	t.Run("freshness", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		index := map[string]int{"aborted": 0, "committed": 1}
		at := make([]atomic.Int64, 2)
		ready := make(chan struct{}, 1)
		errc := make(chan error, 1)
		dialer := &kafka.Dialer{Timeout: 10 * time.Second, ClientID: "porttrack"}
		go func() { errc <- tailPartition(ctx, dialer, brokers[0], "tail", 0, index, at, ready) }()
		select {
		case <-ready:
		case err := <-errc:
			t.Fatal(err)
		}
		produceTxns(t, brokers, "tail")
		waitFor(t, "the committed record", func() bool { return at[1].Load() != 0 })
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if at[0].Load() != 0 {
			t.Error("the tailing consumer saw the record of an aborted transaction")
		}
	})

	t.Run("customs", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var seen []string
		wg, err := followResults(ctx, brokers[0], "tail", 1, func(_ time.Time, v []byte) {
			mu.Lock()
			seen = append(seen, string(v))
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		produceTxns(t, brokers, "tail")
		waitFor(t, "the committed record", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seen {
				if s == "committed" {
					return true
				}
			}
			return false
		})
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 1 {
			t.Errorf("the result follower saw %q, want only the committed record", seen)
		}
	})
}
