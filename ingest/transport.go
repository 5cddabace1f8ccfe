package ingest

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/ingest/transport"
	"github.com/porttrack/porttrack/state"
)

// transportDecoder turns port.transport records into truck reports. The
// transport decoder is stateless, so partitions share one.
//
// Record types of the topic that later work will decode (waybills, rail
// plans, barge events) are not errors: they are counted by type and their
// offsets applied, so they count as applied records too.
type transportDecoder struct {
	dec *transport.Decoder
	m   *transportMetrics
}

func (d transportDecoder) decode(b *state.Batch, msg *kafka.Message) error {
	n := len(b.Trucks)
	var (
		ignored string
		err     error
	)
	b.Trucks, ignored, err = d.dec.Decode(b.Trucks, msg.Value)
	if err == nil {
		// The decoder guarantees this; an invalid report would fail the
		// whole batch in Apply and stop the partition.
		for i := n; i < len(b.Trucks); i++ {
			if verr := b.Trucks[i].Validate(); verr != nil {
				err = decode.Errorf(decode.ReasonInvalidEvent, "%v", verr)
				break
			}
		}
	}
	if err != nil {
		clear(b.Trucks[n:])
		b.Trucks = b.Trucks[:n]
		return err
	}
	if ignored != "" {
		d.m.ignore(ignored)
	}
	d.m.trucks.Add(uint64(len(b.Trucks) - n))
	return nil
}

// transportMetrics count port.transport records across partitions. The
// label set is fixed (transport.IgnoredTypes), so the map is read-only
// after init.
type transportMetrics struct {
	trucks  atomic.Uint64
	ignored map[string]*atomic.Uint64
}

func (m *transportMetrics) init() {
	m.ignored = make(map[string]*atomic.Uint64, len(transport.IgnoredTypes()))
	for _, l := range transport.IgnoredTypes() {
		m.ignored[l] = new(atomic.Uint64)
	}
}

func (m *transportMetrics) ignore(label string) {
	if c := m.ignored[label]; c != nil {
		c.Add(1)
	}
}

// IgnoredTransport returns the port.transport records ignored (types of
// later work), by type label.
func (e *Engine) IgnoredTransport() map[string]uint64 {
	out := make(map[string]uint64, len(e.metrics.transport.ignored))
	for l, c := range e.metrics.transport.ignored {
		out[l] = c.Load()
	}
	return out
}

func (m *transportMetrics) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP porttrack_transport_truck_reports_total Truck GNSS positions decoded from the transport topic.\n# TYPE porttrack_transport_truck_reports_total counter\nporttrack_transport_truck_reports_total %d\n", m.trucks.Load())
	fmt.Fprintf(w, "# HELP porttrack_transport_records_ignored_total Transport records of types not decoded yet (waybills, rail, barge), by type.\n# TYPE porttrack_transport_records_ignored_total counter\n")
	for _, l := range transport.IgnoredTypes() {
		fmt.Fprintf(w, "porttrack_transport_records_ignored_total{type=%q} %d\n", l, m.ignored[l].Load())
	}
}
