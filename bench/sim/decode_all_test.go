package sim

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/ingest/transport"
	"github.com/porttrack/porttrack/state"
)

var fixedStart = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// digest hashes n records of a generator, keys and values.
func digest(next func([]Record, int) []Record, n int) string {
	h := sha256.New()
	for _, r := range next(nil, n) {
		fmt.Fprintf(h, "%d:%s|%d:%s|", len(r.Key), r.Key, len(r.Value), r.Value)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestSameSeedSameTraffic: the same seed and options give byte-identical
// traffic, another seed different traffic.
func TestSameSeedSameTraffic(t *testing.T) {
	rc := Config{Brokers: []string{"x:1"}, Seed: 7, BadRate: 0.05, DupRate: 0.05, Start: fixedStart}
	ac := AISConfig{Brokers: []string{"x:1"}, Seed: 7, Start: fixedStart}
	a, b := digest(NewGenerator(rc).Next, 20000), digest(NewGenerator(rc).Next, 20000)
	if a != b {
		t.Errorf("RFID traffic differs between two runs with seed 7: %s vs %s", a, b)
	}
	rc.Seed = 8
	if c := digest(NewGenerator(rc).Next, 20000); c == a {
		t.Error("RFID traffic of seeds 7 and 8 is identical")
	}
	a, b = digest(NewAISGenerator(ac).Next, 20000), digest(NewAISGenerator(ac).Next, 20000)
	if a != b {
		t.Errorf("AIS traffic differs between two runs with seed 7: %s vs %s", a, b)
	}
	t.Logf("seed 7 AIS digest %s", a[:16])

	dc := DayConfig{Scale: 0.02, Seed: 7, Start: fixedStart, Duration: 12 * time.Hour}
	dayDigest := func(cfg DayConfig) string {
		h := sha256.New()
		g := NewDayGenerator(cfg)
		for _, r := range g.Next(nil, 1<<30) {
			fmt.Fprintf(h, "%s|%d:%s|%d:%s|%d|", r.Topic, len(r.Key), r.Key, len(r.Value), r.Value, r.Time.UnixNano())
		}
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	a, b = dayDigest(dc), dayDigest(dc)
	if a != b {
		t.Errorf("day model traffic differs between two runs with seed 7: %s vs %s", a, b)
	}
	dc.Seed = 8
	if c := dayDigest(dc); c == a {
		t.Error("day model traffic of seeds 7 and 8 is identical")
	}
	t.Logf("seed 7 day model digest %s", a[:16])
}

// TestEverythingDecodes: every record the simulator produces decodes through
// porttrack's decoders, except the ones it meant to be malformed; the two
// counts are equal.
func TestEverythingDecodes(t *testing.T) {
	const n = 50000
	g := NewGenerator(Config{Brokers: []string{"x:1"}, Seed: 3, BadRate: 0.02, DupRate: 0.02, Start: fixedStart})
	dec, err := rfid.NewDecoder(rfid.Config{Readers: rfid.DefaultReaders()})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	var evs []state.Event
	for _, r := range g.Next(nil, n) {
		evs, err = dec.Decode(evs[:0], r.Value)
		if err != nil || len(r.Value) == 0 {
			failed++
		}
	}
	bad := g.Stats().Bad
	t.Logf("rfid: %d records, %d meant malformed, %d failed to decode", n, bad, failed)
	if int64(failed) != bad || bad == 0 {
		t.Errorf("%d records failed to decode, the simulator made %d malformed", failed, bad)
	}

	ag := NewAISGenerator(AISConfig{Brokers: []string{"x:1"}, Seed: 3, Start: fixedStart})
	ad, err := ais.NewDecoder(ais.Config{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := 0
	for _, r := range ag.Next(nil, n) {
		if err := ad.FeedFrom(r.Key, r.Value, time.Time{}, func(*ais.Message) { msgs++ }); err != nil {
			t.Fatalf("AIS record %q: %v", r.Value, err)
		}
	}
	st := ad.Stats()
	t.Logf("ais: %d records, %d sentences, %d messages, %d rejected lines", n, st.Sentences, msgs, st.NotAIS+st.BadChecksum+st.BadField+st.BadArmour+st.BadLength)
	if st.Sentences != uint64(ag.Sentences()) || st.Expired+st.Evicted+st.Superseded != 0 || st.InFlight != 0 {
		t.Errorf("AIS: generator wrote %d sentences, decoder accepted %d; stats %+v", ag.Sentences(), st.Sentences, st)
	}
	t.Run("day", dayEverythingDecodes)
}

// dayEverythingDecodes: every record of the day model decodes through
// porttrack's decoders (records of port.transport types porttrack accepts
// and does not apply yet count as decoded), except the ones it meant to be
// malformed; the two counts are equal.
func dayEverythingDecodes(t *testing.T) {
	g := NewDayGenerator(DayConfig{Scale: 0.05, Seed: 3, Start: fixedStart, BadRate: 0.01})
	rd, err := rfid.NewDecoder(rfid.Config{Readers: rfid.DefaultReaders()})
	if err != nil {
		t.Fatal(err)
	}
	td := transport.NewDecoder()
	ad, err := ais.NewDecoder(ais.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		failed, decoded, aisMsgs int
		ignored                  = map[string]int{}
		evs                      []state.Event
		tb                       state.Batch
		decodedBy                = map[string]int{}
	)
	recs := g.Next(nil, 1<<30)
	for _, r := range recs {
		switch r.Topic {
		case "port.rfid":
			evs, err = rd.Decode(evs[:0], r.Value)
			if err != nil || len(r.Value) == 0 {
				failed++
				continue
			}
		case "port.transport":
			tb = state.Batch{}
			label, err := td.Decode(&tb, r.Value)
			if err != nil {
				failed++
				continue
			}
			if label != "" {
				ignored[label]++
			}
			decodedBy["truck.position"] += len(tb.Trucks)
			decodedBy["plan"] += len(tb.Plans)
			decodedBy["plan event"] += len(tb.PlanEvents)
			decodedBy["waybill"] += len(tb.Waybills)
		case "port.ais":
			if err := ad.FeedFrom(r.Key, r.Value, r.Time, func(*ais.Message) { aisMsgs++ }); err != nil {
				t.Fatalf("AIS record %q: %v", r.Value, err)
			}
		default:
			t.Fatalf("record on topic %q", r.Topic)
		}
		decoded++
	}
	st := g.Stats()
	as := ad.Stats()
	t.Logf("day model: %d records (%v), %d decoded, %d failed, %d meant malformed; transport decoded into %v, not yet applied: %v; AIS: %d sentences, %d messages",
		len(recs), st.ByKind, decoded, failed, st.Malformed, decodedBy, ignored, as.Sentences, aisMsgs)
	if int64(failed) != st.Malformed || st.Malformed == 0 {
		t.Errorf("%d records failed to decode, the simulator made %d malformed", failed, st.Malformed)
	}
	if as.Sentences != uint64(st.AISSentences) || as.Expired+as.Evicted+as.Superseded != 0 || as.InFlight != 0 {
		t.Errorf("AIS: generator wrote %d sentences, decoder accepted %d; stats %+v", st.AISSentences, as.Sentences, as)
	}
	for i, n := range st.ByKind {
		if n == 0 && KindNames[i] != "customs" {
			t.Errorf("no %s records", KindNames[i])
		}
	}
}
