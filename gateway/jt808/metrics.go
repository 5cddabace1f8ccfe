package jt808

import (
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"
)

// Metrics counts what the gateway did; WritePrometheus serves it.
type Metrics struct {
	connections                                atomic.Int64
	accepted, refused                          atomic.Uint64
	frames, malformed, oversize, reassembled   atomic.Uint64
	unsupported, replies                       atomic.Uint64
	registered, refusedRegistrations           atomic.Uint64
	authenticated, authFailed, unauthenticated atomic.Uint64
	locations, unlocated, alarms               atomic.Uint64
	produced, produceErrors                    atomic.Uint64
	ack                                        histogram
}

func newMetrics() *Metrics { return &Metrics{} }

// Snapshot is a copy of the counters, for tests and the bench.
type Snapshot struct {
	Connections                        int64
	Frames, Malformed, Unsupported     uint64
	Reassembled, RefusedRegistrations  uint64
	Locations, Produced, ProduceErrors uint64
	Alarms                             uint64
}

// Snapshot returns the counters now.
func (m *Metrics) Snapshot() Snapshot {
	return Snapshot{
		Connections: m.connections.Load(), Frames: m.frames.Load(), Malformed: m.malformed.Load(),
		Unsupported: m.unsupported.Load(), Reassembled: m.reassembled.Load(),
		RefusedRegistrations: m.refusedRegistrations.Load(), Locations: m.locations.Load(),
		Produced: m.produced.Load(), ProduceErrors: m.produceErrors.Load(), Alarms: m.alarms.Load(),
	}
}

// AckQuantile is the q-quantile of the time from frame received to records
// acknowledged, from the histogram buckets (their upper bound).
func (m *Metrics) AckQuantile(q float64) time.Duration { return m.ack.quantile(q) }

// WritePrometheus writes the metrics in the Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	g := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	c := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	g("porttrack_jt808_connections", "Terminal connections open.", m.connections.Load())
	c("porttrack_jt808_connections_accepted_total", "Terminal connections accepted.", m.accepted.Load())
	c("porttrack_jt808_connections_refused_total", "Connections closed at once: over the global or per-IP limit.", m.refused.Load())
	c("porttrack_jt808_frames_total", "Frames received.", m.frames.Load())
	c("porttrack_jt808_frames_malformed_total", "Frames or bodies that did not decode (escape, check code, length, body).", m.malformed.Load())
	c("porttrack_jt808_frames_oversize_total", "Frames longer than the maximum frame size (also counted as malformed).", m.oversize.Load())
	c("porttrack_jt808_messages_reassembled_total", "Split messages reassembled.", m.reassembled.Load())
	c("porttrack_jt808_messages_unsupported_total", "Messages of an id the gateway does not handle, answered as unsupported.", m.unsupported.Load())
	c("porttrack_jt808_replies_total", "Replies written to terminals.", m.replies.Load())
	c("porttrack_jt808_registrations_total", "Terminal registrations accepted.", m.registered.Load())
	c("porttrack_jt808_registrations_refused_total", "Terminal registrations refused (allow-list, plate bound to another device, bad plate).", m.refusedRegistrations.Load())
	c("porttrack_jt808_authentications_total", "Successful authentications.", m.authenticated.Load())
	c("porttrack_jt808_authentications_failed_total", "Failed authentications.", m.authFailed.Load())
	c("porttrack_jt808_unauthenticated_total", "Location messages refused because the connection had not authenticated.", m.unauthenticated.Load())
	c("porttrack_jt808_locations_total", "Locations received (one per 0x0200, one per batch item).", m.locations.Load())
	c("porttrack_jt808_locations_unlocated_total", "Locations without a GNSS fix (no truck.position produced).", m.unlocated.Load())
	c("porttrack_jt808_alarms_total", "Truck alarms (emergency, overspeed, fatigue driving) produced.", m.alarms.Load())
	c("porttrack_jt808_records_produced_total", "Records acknowledged by Kafka.", m.produced.Load())
	c("porttrack_jt808_produce_errors_total", "Produce calls that failed (the terminal was told to resend).", m.produceErrors.Load())
	m.ack.write(w, "porttrack_jt808_ack_latency_seconds", "From frame received to records acknowledged by Kafka.")
}

// ackBuckets are the histogram's upper bounds in seconds.
var ackBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts [len(ackBuckets) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(ackBuckets) && s > ackBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

func (h *histogram) quantile(q float64) time.Duration {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			if i == len(ackBuckets) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(ackBuckets[i] * float64(time.Second))
		}
	}
	return 0
}

func (h *histogram) write(w io.Writer, name, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range ackBuckets {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, b, cum)
	}
	cum += h.counts[len(ackBuckets)].Load()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, cum, name, float64(h.sumNs.Load())/1e9, name, cum)
}
