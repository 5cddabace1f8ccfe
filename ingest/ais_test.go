package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/state"
)

// tagged wraps a sentence in an NMEA 4.10 tag block with a correct checksum.
func tagged(fields, sentence string) string {
	var x byte
	for i := 0; i < len(fields); i++ {
		x ^= fields[i]
	}
	return fmt.Sprintf(`\%s*%02X\%s`, fields, x, sentence)
}

// TestAISIngest feeds raw NMEA as receivers deliver it — tag blocks, a
// two-part message split across records, junk lines — and checks vessel
// state, and that junk never reaches state but is counted.
func TestAISIngest(t *testing.T) {
	h := start(t, "", "port.ais")
	brokers := h.cluster.ListenAddrs()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "port.ais", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := []kafka.Message{
		// Type 1, mmsi 477553000 at 47.582833, -122.345833 (DOMAIN.md §9.5), tag-blocked.
		{Key: []byte("s1"), Value: []byte(tagged("s:NBVTS-01,c:1764000000", "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"))},
		// Type 5 EVER DIADEM, fragments in two records of the same key.
		{Key: []byte("s1"), Value: []byte("!AIVDM,2,1,3,B,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1D")},
		{Key: []byte("s1"), Value: []byte("!AIVDM,2,2,3,B,88888888880,2*24")},
		// Junk only: dead-lettered.
		{Key: []byte("s1"), Value: []byte("$GPZDA,050013.00,20,11,2026,00,00*65\nnot nmea at all")},
		// Junk around a good sentence: the good one is kept.
		{Key: []byte("s1"), Value: []byte("$PGHP,1,2026,11,20,5,0,13,0,,,,*00\n!AIVDM,1,1,,A,15MgK45P3@G?fl0E`JbR0OwT0@MS,0*4E")},
	}
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		v, err := h.store.Vessel(477553000)
		s, err2 := h.store.Vessel(351759000)
		return err == nil && err2 == nil && v.HasPosition && s.Name == "EVER DIADEM", fmt.Sprintf("%+v %v / %+v %v", v, err, s, err2)
	})
	v, _ := h.store.Vessel(477553000)
	if v.Lat < 47.58283 || v.Lat > 47.58284 || v.Lon > -122.34583 || v.Lon < -122.34584 || v.Status != 5 || v.Heading != 181 || v.PosStation != "NBVTS-01" {
		t.Errorf("type 1 vessel %+v", v)
	}
	if v.PosTime != time.Unix(1764000000, 0).UnixNano() {
		t.Errorf("position time %v, want the tag block's c:", time.Unix(0, v.PosTime).UTC())
	}
	s, _ := h.store.Vessel(351759000)
	if s.IMO != 9134270 || s.CallSign != "3FOF8" || s.ToBow != 225 || s.ETA != "05-15T14:00Z" || s.Draught != 12.2 || s.Destination != "NEW YORK" {
		t.Errorf("type 5 vessel %+v", s)
	}
	if byIMO, err := h.store.VesselByIMO(9134270); err != nil || byIMO.MMSI != 351759000 {
		t.Errorf("by IMO: %+v %v", byIMO, err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		_, err := h.store.Vessel(366730000) // the position after the junk line
		return err == nil, fmt.Sprint(err)
	})
	waitFor(t, 10*time.Second, func() (bool, string) {
		d := h.engine.DeadLettered()
		return d["not_ais"] == 1, fmt.Sprintf("dead letters %v", d)
	})
	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `porttrack_ais_lines_dropped_total{reason="not_ais"} 3`) {
		t.Errorf("junk lines not counted:\n%s", grep(sb.String(), "porttrack_ais"))
	}
	n := 0
	if err := h.store.EachVessel(func(*state.Vessel) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("%d vessels in state (%v), want 3", n, err)
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAISZeroTagTimeDoesNotBlock: a tag block with c:0 (Unix time 0) must
// neither fail the batch nor block the partition; the record time is used.
func TestAISZeroTagTimeDoesNotBlock(t *testing.T) {
	h := start(t, "", "port.ais")
	w := &kafka.Writer{Addr: kafka.TCP(h.cluster.ListenAddrs()...), Topic: "port.ais", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(t.Context(),
		kafka.Message{Key: []byte("s9"), Value: []byte(tagged("c:0", "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"))},
		kafka.Message{Key: []byte("s9"), Value: []byte("!AIVDM,1,1,,A,15MgK45P3@G?fl0E`JbR0OwT0@MS,0*4E")},
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() (bool, string) {
		a, errA := h.store.Vessel(477553000)
		_, errB := h.store.Vessel(366730000)
		return errA == nil && errB == nil && a.PosTime > 0, fmt.Sprintf("%v %v %+v", errA, errB, a)
	})
	if v, _ := h.store.Vessel(366730000); v.PosStation != "s9" {
		t.Errorf("untagged report station %q, want the record key s9", v.PosStation)
	}
	if n := h.engine.Stats().PartitionErrors; n != 0 {
		t.Errorf("%d partition restarts", n)
	}
}
