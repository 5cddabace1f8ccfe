package sim

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/ingest/rfid"
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
}
