package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest"
	"github.com/porttrack/porttrack/ingest/fetch"
)

// engineFetch is ingest.Engine's fetch configuration (the fetch settings
// the benches set on the engine, ingest's defaults for the rest), so a
// bench's own consumer reads as the engine does.
func engineFetch() fetch.Config {
	return fetch.Config{MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait, MaxRecordBytes: ingest.DefaultMaxRecordBytes,
		PrefixBytes: ingest.DefaultDeadLetterMaxBytes, MaxBatchBytes: ingest.DefaultMaxBatchBytes, ClientID: "porttrack"}
}

// dialFetch connects an ingest/fetch reader (read_committed) to the leader
// of topic/partition, found through broker.
func dialFetch(ctx context.Context, dialer *kafka.Dialer, broker, topic string, partition int, cfg fetch.Config) (*fetch.Conn, error) {
	leader, err := dialer.LookupLeader(ctx, "tcp", broker, topic, partition)
	if err != nil {
		return nil, err
	}
	return fetch.Dial(ctx, net.JoinHostPort(leader.Host, strconv.Itoa(leader.Port)), topic, int32(partition), cfg)
}

// tailFrom fetches conn from offset next on and calls fn with every record
// (ranges the reader could not decode are passed over) until ctx ends,
// then returns nil; it closes and releases conn. Only records of committed
// transactions reach fn, and no transaction markers.
func tailFrom(ctx context.Context, conn *fetch.Conn, next int64, fn func(*fetch.Record)) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	defer conn.Release()
	deliver := func(r *fetch.Record) error {
		if r.Problem == "" {
			fn(r)
		}
		return nil
	}
	for ctx.Err() == nil {
		res, err := conn.Fetch(ctx, next, deliver)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch at %d: %w", next, err)
		}
		next = res.Next
	}
	return nil
}
