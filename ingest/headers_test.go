package ingest_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestManyEmptyHeadersDeadLettered: one record with 4 M headers of an
// empty key and a null value (a few KB of zstd) is dead-lettered oversize
// with its headers truncated, and the engine allocates far less than the
// headers would take materialised.
func TestManyEmptyHeadersDeadLettered(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "port.rfid", "porttrack.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	produceRawBatch(t, brokers, emptyHeadersBatch(t, 4<<20))

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
	t.Logf("engine allocated %d MiB for a record of 4 M empty headers", alloc>>20)
	if alloc > 64<<20 {
		t.Errorf("engine allocated %d MiB for a record of 4 M empty headers, want under 64 MiB", alloc>>20)
	}
	var dlq []dlqRecord
	waitFor(t, 20*time.Second, func() (bool, string) {
		dlq = readDLQ(t, brokers)
		return len(dlq) == 1, fmt.Sprintf("%d dead letters, want 1", len(dlq))
	})
	d := dlq[0]
	if reason, _, _ := strings.Cut(d.headers["error"], ":"); reason != "oversize" || d.headers["headers-truncated"] != "true" ||
		string(d.key) != "K" || string(d.value) != "{" {
		t.Errorf("dead letter key %q value %q headers %v", d.key, d.value, d.headers)
	}
}

// emptyHeadersBatch is a zstd record batch v2 of one record, key "K",
// value "{", with n headers of an empty key and a null value.
func emptyHeadersBatch(t *testing.T, n int) []byte {
	t.Helper()
	rb := []byte{0, 0, 0} // attributes, timestamp delta, offset delta
	rb = append(binary.AppendVarint(rb, 1), 'K')
	rb = append(binary.AppendVarint(rb, 1), '{')
	rb = binary.AppendVarint(rb, int64(n))
	for range n {
		rb = append(rb, 0, 1) // key length 0, value length -1
	}
	body := append(binary.AppendVarint(nil, int64(len(rb))), rb...)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	z := enc.EncodeAll(body, nil)
	enc.Close()
	const hdr = 61
	b := make([]byte, hdr, hdr+len(z))
	binary.BigEndian.PutUint32(b[8:], uint32(hdr-12+len(z)))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], 4) // zstd
	now := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[27:], now)
	binary.BigEndian.PutUint64(b[35:], now)
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)     // epoch -1
	binary.BigEndian.PutUint32(b[53:], 0xffffffff) // sequence -1
	binary.BigEndian.PutUint32(b[57:], 1)
	b = append(b, z...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produceRawBatch writes one record batch as is to port.rfid partition 0.
func produceRawBatch(t *testing.T, brokers []string, batch []byte) {
	t.Helper()
	// Produce v12 and older name topics, not topic IDs.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxVersions(kversion.V3_6_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "port.rfid"
	part := kmsg.NewProduceRequestTopicPartition()
	part.Records = batch
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce: error code %d", code)
	}
}
