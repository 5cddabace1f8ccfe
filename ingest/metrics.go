package ingest

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the engine's counters, exported in Prometheus text format by
// WritePrometheus (ingest imports no metrics library).
type metrics struct {
	consumed, decoded, batches, control atomic.Uint64
	aborted, outboxSetAside             atomic.Uint64
	stored, duplicates, late            atomic.Uint64
	published, publishErrors            atomic.Uint64
	partitionErrors, retentionGaps      atomic.Uint64
	deadMu                              sync.Mutex
	dead                                map[string]*atomic.Uint64 // by reason
	ais                                 aisMetrics
	transport                           transportMetrics
	customs                             customsMetrics
}

func (m *metrics) init() {
	m.dead = map[string]*atomic.Uint64{}
	m.transport.init()
}

func (m *metrics) deadLetter(reason string) {
	m.deadMu.Lock()
	c := m.dead[reason]
	if c == nil {
		c = new(atomic.Uint64)
		m.dead[reason] = c
	}
	m.deadMu.Unlock()
	c.Add(1)
}

// DeadLettered returns the number of dead-lettered records by reason.
func (e *Engine) DeadLettered() map[string]uint64 {
	e.metrics.deadMu.Lock()
	defer e.metrics.deadMu.Unlock()
	out := make(map[string]uint64, len(e.metrics.dead))
	for r, c := range e.metrics.dead {
		out[r] = c.Load()
	}
	return out
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Consumed, Decoded, Batches, Stored, Duplicates, Late, Published uint64
	// PartitionErrors counts partition consumer restarts after an error.
	PartitionErrors uint64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	m := &e.metrics
	return Stats{
		Consumed: m.consumed.Load(), Decoded: m.decoded.Load(), Batches: m.batches.Load(),
		Stored: m.stored.Load(), Duplicates: m.duplicates.Load(), Late: m.late.Load(),
		Published: m.published.Load(), PartitionErrors: m.partitionErrors.Load(),
	}
}

// WritePrometheus writes the engine's metrics in Prometheus text format.
func (e *Engine) WritePrometheus(w io.Writer) {
	m := &e.metrics
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("porttrack_ingest_records_consumed_total", "Records read from input topics.", m.consumed.Load())
	counter("porttrack_ingest_records_applied_total", "Records decoded and applied to state.", m.decoded.Load())
	counter("porttrack_ingest_control_records_total", "Transaction markers (control records) skipped.", m.control.Load())
	counter("porttrack_ingest_aborted_records_total", "Records of aborted transactions skipped (read_committed).", m.aborted.Load())
	counter("porttrack_ingest_batches_total", "State batches committed.", m.batches.Load())
	counter("porttrack_ingest_events_stored_total", "New events stored in history.", m.stored.Load())
	counter("porttrack_ingest_events_duplicate_total", "Events ignored because their id was already stored.", m.duplicates.Load())
	counter("porttrack_ingest_events_late_total", "Events older than the container's newest (history only).", m.late.Load())
	counter("porttrack_outbox_published_total", "Outbox messages acknowledged by Kafka.", m.published.Load())
	counter("porttrack_outbox_publish_errors_total", "Failed outbox publish attempts (retried).", m.publishErrors.Load())
	counter("porttrack_outbox_set_aside_total", "Outbox entries the broker refused for good, replaced by a stub dead letter.", m.outboxSetAside.Load())
	fmt.Fprintf(w, "# HELP porttrack_outbox_oldest_age_seconds Age of the oldest unpublished outbox entry (0 when empty; counted from the first scan after a start).\n# TYPE porttrack_outbox_oldest_age_seconds gauge\nporttrack_outbox_oldest_age_seconds %g\n", e.outboxAge.age(time.Now()).Seconds())
	counter("porttrack_ingest_partition_errors_total", "Partition consumer restarts after an error.", m.partitionErrors.Load())
	counter("porttrack_ingest_retention_gap_records_total", "Records deleted by retention before they were applied.", m.retentionGaps.Load())

	dead := e.DeadLettered()
	reasons := make([]string, 0, len(dead))
	for r := range dead {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "# HELP porttrack_ingest_records_dead_lettered_total Records sent to the dead-letter topic, by reason.\n# TYPE porttrack_ingest_records_dead_lettered_total counter\n")
	for _, r := range reasons {
		fmt.Fprintf(w, "porttrack_ingest_records_dead_lettered_total{reason=%q} %d\n", r, dead[r])
	}

	a := &m.ais
	counter("porttrack_ais_lines_total", "AIS input lines read.", a.lines.Load())
	counter("porttrack_ais_sentences_total", "Well-formed AIS sentences.", a.sentences.Load())
	counter("porttrack_ais_messages_total", "AIS messages decoded (fragments assembled).", a.messages.Load())
	counter("porttrack_ais_messages_ignored_total", "AIS messages that say nothing about a vessel (base stations, binary, unsupported types, invalid MMSI).", a.skipped.Load())
	counter("porttrack_ais_reports_invalid_total", "Decoded AIS reports dropped because they fail validation (e.g. no usable time).", a.invalid.Load())
	fmt.Fprintf(w, "# HELP porttrack_ais_lines_dropped_total AIS input lines dropped, by reason.\n# TYPE porttrack_ais_lines_dropped_total counter\n")
	for _, d := range a.dropped() {
		fmt.Fprintf(w, "porttrack_ais_lines_dropped_total{reason=%q} %d\n", d.reason, d.n)
	}
	m.transport.write(w)
	m.customs.write(w)

	type row struct {
		p                   tp
		lag, next, caughtUp int64
	}
	e.mu.Lock()
	rows := make([]row, 0, len(e.mu.partitions))
	for p, ps := range e.mu.partitions {
		r := row{p: p, next: ps.next.Load(), lag: max(0, ps.hwm.Load()-ps.next.Load())}
		if ps.caughtUp.Load() {
			r.caughtUp = 1
		}
		rows = append(rows, r)
	}
	e.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].p.topic != rows[j].p.topic {
			return rows[i].p.topic < rows[j].p.topic
		}
		return rows[i].p.partition < rows[j].p.partition
	})
	fmt.Fprintf(w, "# HELP porttrack_ingest_partition_lag Records between the stored offset and the high-water mark.\n# TYPE porttrack_ingest_partition_lag gauge\n")
	for _, r := range rows {
		fmt.Fprintf(w, "porttrack_ingest_partition_lag{topic=%q,partition=\"%d\"} %d\n", r.p.topic, r.p.partition, r.lag)
	}
	fmt.Fprintf(w, "# HELP porttrack_ingest_partition_offset Next offset to consume (stored with the state).\n# TYPE porttrack_ingest_partition_offset gauge\n")
	for _, r := range rows {
		fmt.Fprintf(w, "porttrack_ingest_partition_offset{topic=%q,partition=\"%d\"} %d\n", r.p.topic, r.p.partition, r.next)
	}
	fmt.Fprintf(w, "# HELP porttrack_ingest_partition_caught_up 1 when the partition reached the high-water mark seen at start.\n# TYPE porttrack_ingest_partition_caught_up gauge\n")
	for _, r := range rows {
		fmt.Fprintf(w, "porttrack_ingest_partition_caught_up{topic=%q,partition=\"%d\"} %d\n", r.p.topic, r.p.partition, r.caughtUp)
	}
	st := e.store.Metrics()
	fmt.Fprintf(w, "# HELP porttrack_state_disk_bytes On-disk size of the state database.\n# TYPE porttrack_state_disk_bytes gauge\nporttrack_state_disk_bytes %d\n", st.DiskBytes)
	fmt.Fprintf(w, "# HELP porttrack_state_apply_seconds_total Time spent in state batches (divide by batches for the mean).\n# TYPE porttrack_state_apply_seconds_total counter\nporttrack_state_apply_seconds_total %g\n", float64(st.ApplyNanos)/1e9)
}
