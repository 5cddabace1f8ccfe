package fetch

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Protocol versions used. Both are non-flexible (plain request header v1,
// response header v0) and served by Kafka 2.3 through 4.x and by kfake:
// Fetch v11 has IsolationLevel, AbortedTransactions and LastStableOffset;
// ListOffsets v4 has IsolationLevel.
const (
	fetchVersion       = 11
	listOffsetsVersion = 4
)

// Config configures a Conn. Zero values take the defaults of withDefaults.
type Config struct {
	// MaxBytes bounds one fetch response (and the partition's share of it);
	// the broker still returns a first batch larger than this whole.
	MaxBytes int32
	// MaxWait is how long the broker may hold a fetch while it has no data.
	MaxWait time.Duration
	// MaxRecordBytes bounds a record's value, key and headers: a record over
	// it is delivered Oversize, with only a prefix of its value.
	MaxRecordBytes int
	// PrefixBytes is how much of an oversize value is kept (at most
	// MaxRecordBytes).
	PrefixBytes int
	// MaxBatchBytes bounds the decompressed bytes of one record batch.
	MaxBatchBytes int64
	// ClientID names this client to the broker.
	ClientID string
	// DialTimeout bounds the TCP connect.
	DialTimeout time.Duration
}

// Defaults.
const (
	DefaultMaxBytes       = 4 << 20
	DefaultMaxWait        = 250 * time.Millisecond
	DefaultMaxRecordBytes = 256 << 10
	DefaultPrefixBytes    = 64 << 10
	DefaultMaxBatchBytes  = 1 << 30
	// maxWindow bounds the zstd window (the history a frame may refer back
	// to, held while decoding). Producers use 8 MiB or less.
	maxWindow = 32 << 20
)

func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.PrefixBytes == 0 {
		c.PrefixBytes = DefaultPrefixBytes
	}
	c.PrefixBytes = min(c.PrefixBytes, c.MaxRecordBytes)
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.ClientID == "" {
		c.ClientID = "porttrack"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	return c
}

// Conn is a connection to the leader of one partition.
type Conn struct {
	cfg       Config
	c         net.Conn
	topic     string
	partition int32
	corr      int32
	wbuf      []byte
	rbuf      []byte
	// maxResponse bounds a response read from the socket: MaxBytes plus
	// room for a first batch larger than it (the broker's own limit on a
	// batch is 1 MiB by default) and the response's framing.
	maxResponse int
	dec         decompressors
	arena       arena
	rec         Record
	value       valueReader
}

// Dial connects to addr, the leader of topic/partition (kafka-go's
// Dialer.LookupLeader finds it).
func Dial(ctx context.Context, addr, topic string, partition int32, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{cfg: cfg, c: nc, topic: topic, partition: partition,
		maxResponse: int(cfg.MaxBytes) + 64<<20}, nil
}

// Close closes the connection. It may be called from another goroutine to
// interrupt a request in flight; Release frees the rest.
func (c *Conn) Close() error {
	return c.c.Close()
}

// Release frees the decompressors' buffers; call it once, from the owning
// goroutine, after the last Fetch.
func (c *Conn) Release() {
	c.dec.close()
	c.rbuf, c.wbuf = nil, nil
}

// request sends req and reads its response into resp.
func (c *Conn) request(req kmsg.Request, resp kmsg.Response, timeout time.Duration) error {
	if req.IsFlexible() {
		return fmt.Errorf("fetch: %T v%d is a flexible version (not supported)", req, req.GetVersion())
	}
	c.corr++
	b := append(c.wbuf[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(c.corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.cfg.ClientID)))
	b = append(b, c.cfg.ClientID...)
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.wbuf = b
	if err := c.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := c.c.Write(b); err != nil {
		return err
	}
	var hdr [8]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4])) - 4
	if corr := int32(binary.BigEndian.Uint32(hdr[4:])); corr != c.corr {
		return fmt.Errorf("fetch: response correlation id %d, want %d", corr, c.corr)
	}
	if n < 0 || n > c.maxResponse {
		return fmt.Errorf("fetch: response of %d bytes exceeds the limit of %d", n, c.maxResponse)
	}
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	c.rbuf = c.rbuf[:n]
	if _, err := io.ReadFull(c.c, c.rbuf); err != nil {
		return err
	}
	resp.SetVersion(req.GetVersion())
	return resp.ReadFrom(c.rbuf)
}

// Offsets returns the partition's first offset (log start) and its end
// under read_committed: the last stable offset, below which every
// transaction is decided.
func (c *Conn) Offsets(ctx context.Context) (first, end int64, err error) {
	get := func(ts int64) (int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(listOffsetsVersion)
		req.IsolationLevel = 1
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = c.topic
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition = c.partition
		p.Timestamp = ts
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		resp := kmsg.NewPtrListOffsetsResponse()
		if err := c.request(req, resp, c.cfg.DialTimeout); err != nil {
			return 0, err
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rt.Topic == c.topic && rp.Partition == c.partition {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						return 0, err
					}
					return rp.Offset, nil
				}
			}
		}
		return 0, fmt.Errorf("fetch: list offsets: no answer for %s/%d", c.topic, c.partition)
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if first, err = get(-2); err != nil {
		return 0, 0, fmt.Errorf("list offsets (earliest): %w", err)
	}
	if end, err = get(-1); err != nil {
		return 0, 0, fmt.Errorf("list offsets (latest): %w", err)
	}
	return first, end, nil
}

// Result describes one fetch.
type Result struct {
	// Next is the offset to fetch next: past every record delivered and
	// every control batch and aborted batch skipped.
	Next int64
	// HighWatermark and LastStableOffset as the broker reported them.
	HighWatermark, LastStableOffset int64
	// Records delivered to the callback (including oversize records and
	// problem ranges); Control counts transaction markers skipped; Aborted
	// counts records of aborted transactions skipped.
	Records, Control, Aborted int
}

// ErrOffsetOutOfRange is returned (wrapped) when offset is outside the log.
var ErrOffsetOutOfRange = kerr.OffsetOutOfRange

// Fetch fetches from offset and calls fn for every record at or after it,
// in offset order. An error from fn stops the fetch and is returned.
// Records before an error are delivered; Result.Next then covers only
// what was delivered or skipped.
func (c *Conn) Fetch(ctx context.Context, offset int64, fn func(*Record) error) (Result, error) {
	res := Result{Next: offset, HighWatermark: -1, LastStableOffset: -1}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(fetchVersion)
	req.MaxWaitMillis = int32(c.cfg.MaxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = c.cfg.MaxBytes
	req.IsolationLevel = 1 // read_committed
	req.SessionEpoch = -1  // no fetch session
	t := kmsg.NewFetchRequestTopic()
	t.Topic = c.topic
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = c.partition
	p.FetchOffset = offset
	p.PartitionMaxBytes = c.cfg.MaxBytes
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp := kmsg.NewPtrFetchResponse()

	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	err := c.request(req, resp, c.cfg.MaxWait+10*time.Second)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return res, err
	}
	var part *kmsg.FetchResponseTopicPartition
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Topic == c.topic && resp.Topics[i].Partitions[j].Partition == c.partition {
				part = &resp.Topics[i].Partitions[j]
			}
		}
	}
	if part == nil {
		return res, fmt.Errorf("fetch: no answer for %s/%d", c.topic, c.partition)
	}
	if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
		return res, err
	}
	res.HighWatermark, res.LastStableOffset = part.HighWatermark, part.LastStableOffset
	if err := c.readBatches(part.RecordBatches, part.AbortedTransactions, &res, fn); err != nil {
		return res, err
	}
	if res.Next == offset && len(part.RecordBatches) > 0 {
		// Only the start of a batch came back: brokers since Kafka 0.10.1
		// return a first batch whole however large, so this one does not.
		// Fetching again would spin.
		return res, fmt.Errorf("fetch: the broker returned %d bytes of a record batch at %d but not the whole batch (fetch_max_bytes %d)",
			len(part.RecordBatches), offset, c.cfg.MaxBytes)
	}
	return res, nil
}
