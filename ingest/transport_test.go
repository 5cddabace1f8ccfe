package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/state/truck"
)

func truckPosition(plate, at string, lat, lon float64, container string) []byte {
	c := ""
	if container != "" {
		c = fmt.Sprintf(`,"container":%q`, container)
	}
	return []byte(fmt.Sprintf(`{"type":"truck.position","plate":%q,"lat":%v,"lon":%v,"t":%q,"speed":42.5,"heading":270%s}`, plate, lat, lon, at, c))
}

// TestTransportIngest produces truck positions, other transport messages
// and bad records to port.transport with kafka-go, and checks truck state,
// the box riding on a truck, dead letters and the ignored-type counter.
func TestTransportIngest(t *testing.T) {
	h := start(t, "", "port.transport")
	brokers := h.cluster.ListenAddrs()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "port.transport", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	const plate, box = "浙B12345", "MSKU9070323"
	key := []byte(plate)
	msgs := []kafka.Message{
		{Key: key, Value: truckPosition(plate, "2026-11-22T08:00:00Z", 29.90, 121.80, box)},
		{Key: key, Value: truckPosition(plate, "2026-11-22T08:00:30Z", 29.91, 121.82, box)},
		{Key: key, Value: truckPosition(plate, "2026-11-22T08:00:30Z", 29.91, 121.82, box)},  // sent twice
		{Key: key, Value: truckPosition(plate, "2026-11-22T08:00:15Z", 29.905, 121.81, box)}, // late
		{Key: key, Value: []byte(`{"type":"truck.waybill","waybill":"WB1","plate":"浙B12345","container":"MSKU9070323","t":"2026-11-22T07:30:00Z"}`)},
		{Key: key, Value: []byte(`{"type":"rail.plan","train":"X8417"}`)}, // no departure: dead letter
		{Key: key, Value: []byte(`{"type":"truck.appointment","plate":"浙B12345"}`)},
		{Key: key, Value: truckPosition(plate, "2026-11-22T08:01:00Z", 29.92, 121.84, "MSKU9070324")}, // check digit
		{Key: key, Value: []byte(`{"type":"truck.position","plate":"浙B12345","lat":95,"lon":121.8,"t":"2026-11-22T08:01:00Z"}`)},
		{Key: key, Value: []byte(`{"type":"ObjectEvent"}`)},
		// Another truck, lower-case plate from its terminal, no box.
		{Key: []byte("浙B67890"), Value: truckPosition("浙b67890", "2026-11-22T08:00:00Z", 29.93, 121.86, "")},
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		a, errA := h.store.Trucks.Truck(plate)
		b, errB := h.store.Trucks.Truck("浙B67890")
		return errA == nil && errB == nil && a.Reports == 3, fmt.Sprintf("%+v %v / %+v %v", a, errA, b, errB)
	})
	tr, _ := h.store.Trucks.Truck(plate)
	want := time.Date(2026, 11, 22, 8, 0, 30, 0, time.UTC).UnixNano()
	if tr.Lat != 29.91 || tr.Lon != 121.82 || tr.Time != want || tr.SpeedKmh != 42.5 || tr.Heading != 270 || tr.Container != box {
		t.Errorf("truck %+v", tr)
	}
	var n int
	if err := h.store.Trucks.Track(plate, 0, 0, 100, func(*truck.TruckPoint) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("track has %d points (%v), want 3", n, err)
	}
	lat, lon, src, at, ok := h.store.Trucks.ContainerPosition(box)
	if !ok || lat != 29.91 || lon != 121.82 || src != "truck:"+plate || at != want {
		t.Errorf("ContainerPosition = %v,%v %q %d %v", lat, lon, src, at, ok)
	}
	var near []string
	h.store.Trucks.Near(29.93, 121.86, 1000, 0, func(tr *truck.Truck, _ float64) bool { near = append(near, tr.Plate); return true })
	if len(near) != 1 || near[0] != "浙B67890" {
		t.Errorf("trucks near: %q", near)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		d := h.engine.DeadLettered()
		return d["check_digit"] == 1 && d["bad_field"] == 1 && d["unknown_format"] == 1 && d["missing_field"] == 1, fmt.Sprintf("dead letters %v", d)
	})
	if ig := h.engine.IgnoredTransport(); ig["truck.appointment"] != 1 {
		t.Errorf("ignored %v", ig)
	}
	if wb, err := h.store.Waybill("WB1"); err != nil || wb.Plate != plate || len(wb.Containers) != 1 || wb.Containers[0] != box {
		t.Errorf("waybill WB1: %+v %v", wb, err)
	}
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	for _, m := range []string{
		`porttrack_transport_records_ignored_total{type="truck.appointment"} 1`,
		`porttrack_transport_waybills_total 1`,
		`porttrack_transport_records_ignored_total{type="barge.*"} 0`,
		`porttrack_transport_truck_reports_total 5`,
	} {
		if !strings.Contains(sb.String(), m) {
			t.Errorf("metrics lack %s:\n%s", m, grep(sb.String(), "porttrack_transport"))
		}
	}
	// Ignored and dead-lettered records do not hold the partitions back.
	waitFor(t, 20*time.Second, func() (bool, string) { return h.engine.Ready(), "engine not ready" })

	// The truck drops the box: the ride ends.
	if err := w.WriteMessages(t.Context(), kafka.Message{Key: key, Value: truckPosition(plate, "2026-11-22T08:05:00Z", 29.95, 121.9, "")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		_, _, _, _, ok := h.store.Trucks.ContainerPosition(box)
		tr, err := h.store.Trucks.Truck(plate)
		return !ok && err == nil && tr.Container == "", fmt.Sprintf("still riding: %+v %v", tr, err)
	})
}
