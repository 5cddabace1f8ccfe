package ingest

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/ingest/fetch"
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

func (d transportDecoder) decode(b *state.Batch, msg *fetch.Record) error {
	nt, np, ne, nw := len(b.Trucks), len(b.Plans), len(b.PlanEvents), len(b.Waybills)
	ignored, err := d.dec.Decode(b, msg.Value)
	if err == nil {
		// The decoder guarantees this; an invalid record would fail the
		// whole batch in Apply and stop the partition.
		err = validateTail(b, nt, np, ne, nw)
	}
	if err != nil {
		clear(b.Trucks[nt:])
		clear(b.Plans[np:])
		clear(b.PlanEvents[ne:])
		clear(b.Waybills[nw:])
		b.Trucks, b.Plans, b.PlanEvents, b.Waybills = b.Trucks[:nt], b.Plans[:np], b.PlanEvents[:ne], b.Waybills[:nw]
		return err
	}
	if ignored != "" {
		d.m.ignore(ignored)
	}
	d.m.trucks.Add(uint64(len(b.Trucks) - nt))
	d.m.plans.Add(uint64(len(b.Plans) - np))
	d.m.planEvents.Add(uint64(len(b.PlanEvents) - ne))
	d.m.waybills.Add(uint64(len(b.Waybills) - nw))
	return nil
}

func validateTail(b *state.Batch, nt, np, ne, nw int) error {
	for i := nt; i < len(b.Trucks); i++ {
		if err := b.Trucks[i].Validate(); err != nil {
			return decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
		}
	}
	for i := np; i < len(b.Plans); i++ {
		if err := b.Plans[i].Validate(); err != nil {
			return decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
		}
	}
	for i := ne; i < len(b.PlanEvents); i++ {
		if err := b.PlanEvents[i].Validate(); err != nil {
			return decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
		}
	}
	for i := nw; i < len(b.Waybills); i++ {
		if err := b.Waybills[i].Validate(); err != nil {
			return decode.Errorf(decode.ReasonInvalidEvent, "%v", err)
		}
	}
	return nil
}

// transportMetrics count port.transport records across partitions. The
// label set is fixed (transport.IgnoredTypes), so the map is read-only
// after init.
type transportMetrics struct {
	trucks, plans, planEvents, waybills atomic.Uint64
	ignored                             map[string]*atomic.Uint64
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
	fmt.Fprintf(w, "# HELP porttrack_transport_plans_total Rail and barge plans decoded from the transport topic.\n# TYPE porttrack_transport_plans_total counter\nporttrack_transport_plans_total %d\n", m.plans.Load())
	fmt.Fprintf(w, "# HELP porttrack_transport_plan_events_total Rail and barge events decoded from the transport topic.\n# TYPE porttrack_transport_plan_events_total counter\nporttrack_transport_plan_events_total %d\n", m.planEvents.Load())
	fmt.Fprintf(w, "# HELP porttrack_transport_waybills_total Truck e-waybills decoded from the transport topic.\n# TYPE porttrack_transport_waybills_total counter\nporttrack_transport_waybills_total %d\n", m.waybills.Load())
	fmt.Fprintf(w, "# HELP porttrack_transport_records_ignored_total Transport records of types porttrack does not decode, by type.\n# TYPE porttrack_transport_records_ignored_total counter\n")
	for _, l := range transport.IgnoredTypes() {
		fmt.Fprintf(w, "porttrack_transport_records_ignored_total{type=%q} %d\n", l, m.ignored[l].Load())
	}
}
