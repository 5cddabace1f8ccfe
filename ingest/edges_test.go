package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTransactionsReadCommitted produces with a transactional producer that
// commits some transactions and aborts others, on every input topic:
// exactly the records of committed transactions are applied or
// dead-lettered, and the transaction markers are skipped.
func TestTransactionsReadCommitted(t *testing.T) {
	h := start(t, "", "port.ais", "port.transport", "port.customs")
	brokers := h.cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("porttrack-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	inputs := []string{"port.rfid", "port.ais", "port.transport", "port.customs"}
	ctx := t.Context()
	txn := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		end := kgo.TryAbort
		if commit {
			end = kgo.TryCommit
		}
		if err := cl.EndTransaction(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	bad := func(tag string) []*kgo.Record {
		var rs []*kgo.Record
		for _, topic := range inputs {
			rs = append(rs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("{not a record " + tag),
				Headers: []kgo.RecordHeader{{Key: "tag", Value: []byte(tag)}}})
		}
		return rs
	}
	rfid := func(box, at string) *kgo.Record {
		return &kgo.Record{Topic: "port.rfid", Key: []byte(box), Value: epcis(box, "arriving", at)}
	}
	txn(true, append(bad("committed-1"), rfid("CSQU3054383", "2026-11-22T08:00:00Z"))...)
	txn(false, append(append(bad("aborted-1"), bad("aborted-2")...), rfid("MSKU9070323", "2026-11-22T08:00:00Z"))...)
	txn(true, append(bad("committed-2"), rfid("TGHU0436455", "2026-11-22T09:00:00Z"))...)
	txn(false, rfid("MSKU9070323", "2026-11-22T10:00:00Z"))

	waitFor(t, 20*time.Second, func() (bool, string) {
		_, errA := h.store.Container("CSQU3054383")
		_, errC := h.store.Container("TGHU0436455")
		return errA == nil && errC == nil, fmt.Sprintf("committed boxes: %v / %v", errA, errC)
	})
	// Every aborted record was passed over (10) and the 8 committed bad
	// records dead-lettered; on timeout the checks below say what is wrong.
	var dlq []dlqRecord
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sb strings.Builder
		h.engine.WritePrometheus(&sb)
		dlq = readDLQ(t, brokers)
		aborted := grepLine(sb.String(), "porttrack_ingest_aborted_records_total")
		if aborted == "porttrack_ingest_aborted_records_total 10" && len(dlq) >= 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after 20s: %q, %d dead letters", aborted, len(dlq))
			break
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	byTopic := map[string]int{}
	for _, d := range dlq {
		if tag := d.headers["tag"]; !strings.HasPrefix(tag, "committed-") {
			t.Errorf("dead letter of an aborted record: %v", d.headers)
		}
		byTopic[d.headers["source-topic"]]++
	}
	for _, topic := range inputs {
		if byTopic[topic] != 2 {
			t.Errorf("%s: %d dead letters, want the 2 committed bad records", topic, byTopic[topic])
		}
	}
	if _, err := h.store.Container("MSKU9070323"); err == nil {
		t.Error("a box of aborted transactions only was applied")
	}
	var total uint64
	for _, n := range h.engine.DeadLettered() {
		total += n
	}
	if total != 8 {
		t.Errorf("dead-lettered %v, want 8 in all", h.engine.DeadLettered())
	}
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	if line := grepLine(sb.String(), "porttrack_ingest_control_records_total"); line == "" || strings.HasSuffix(line, " 0") {
		t.Errorf("no transaction marker counted: %q", line)
	}
}

// TestControlShapedDataRecord: a plain data record shaped like a transaction
// marker (4-byte key 00 00 00 01, 6-byte value) is data: it is
// dead-lettered like any undecodable record, not dropped.
func TestControlShapedDataRecord(t *testing.T) {
	h := start(t, "")
	brokers := h.cluster.ListenAddrs()
	produce(t, brokers,
		kafka.Message{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 3}},
		kafka.Message{Key: []byte("CSQU3054383"), Value: epcis("CSQU3054383", "arriving", "2026-11-22T08:00:00Z")})
	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == 1, fmt.Sprintf("%d dead letters, want 1 (stats %+v)", len(dlq), h.engine.Stats())
	})
	if !bytes.Equal(dlq[0].key, []byte{0, 0, 0, 1}) || !bytes.Equal(dlq[0].value, []byte{0, 0, 0, 0, 0, 3}) {
		t.Errorf("dead letter key %x value %x", dlq[0].key, dlq[0].value)
	}
}

// TestDecompressionBomb: a zstd record of 96 MiB of zeros (a few KB on the
// wire) is dead-lettered oversize with its prefix and the SHA-256 of the
// whole value, without the engine ever holding the value: the engine
// allocates far less than the value's size meanwhile.
func TestDecompressionBomb(t *testing.T) {
	const size = 96 << 20
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "porttrack.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	// Produced before the engine starts: the producer's own allocations
	// (the value, its compression) stay out of the measurement.
	produceZstd(t, brokers, make([]byte, size))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := startOn(t, c, "")
	waitFor(t, 30*time.Second, func() (bool, string) {
		d := h.engine.DeadLettered()
		return d["oversize"] == 1 && h.engine.Ready(), fmt.Sprintf("dead letters %v", d)
	})
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("engine allocated %d MiB while ingesting a %d MiB value", alloc>>20, size>>20)
	if alloc > 32<<20 {
		t.Errorf("engine allocated %d MiB while ingesting a %d MiB zstd bomb, want under 32 MiB", alloc>>20, size>>20)
	}
	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == 1, fmt.Sprintf("%d dead letters, want 1", len(dlq))
	})
	d := dlq[0]
	sum := sha256.Sum256(make([]byte, size))
	if reason, _, _ := strings.Cut(d.headers["error"], ":"); reason != "oversize" {
		t.Errorf("error header %q, want oversize", d.headers["error"])
	}
	if d.headers["value-size"] != strconv.Itoa(size) || d.headers["value-sha256"] != hex.EncodeToString(sum[:]) || d.headers["value-truncated"] != "true" {
		t.Errorf("headers %v", d.headers)
	}
	if len(d.value) != 64<<10 || !bytes.Equal(d.value, make([]byte, 64<<10)) {
		t.Errorf("dead letter value of %d bytes, want the 64 KiB prefix", len(d.value))
	}
}

// produceZstd produces value to port.rfid, compressed with zstd by kgo.
func produceZstd(t *testing.T, brokers []string, value []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(256<<20), kgo.BrokerMaxWriteBytes(512<<20), kgo.MaxBufferedBytes(512<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "port.rfid", Key: []byte("X"), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func grepLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	return ""
}
