package sim

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/ingest/customs"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

func customsTestConfig() CustomsConfig {
	return CustomsConfig{Brokers: []string{"x:1"}, Seed: 3, Start: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		MismatchRate: 0.2, MissingRate: 0.1, GBKRate: 0.3, DupRate: 0.02}
}

func TestCustomsSameSeedSameTraffic(t *testing.T) {
	a := NewCustomsGenerator(customsTestConfig()).Next(nil, 500)
	b := NewCustomsGenerator(customsTestConfig()).Next(nil, 500)
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || !bytes.Equal(a[i].Key, b[i].Key) {
			t.Fatalf("record %d differs", i)
		}
	}
}

// TestCustomsTrafficDecodesAndMatches: every record decodes, and applied
// to a store the orders give exactly the generated mix of matched and
// mismatched results (orders missing a document give none yet).
func TestCustomsTrafficDecodesAndMatches(t *testing.T) {
	g := NewCustomsGenerator(customsTestConfig())
	recs := g.Next(nil, 3000)
	// Complete the started orders so that every counted order is whole.
	recs = g.Flush(recs)
	st := g.CustomsStats()
	s, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dec := customs.NewDecoder(customs.Config{})
	var docs []state.CustomsDoc
	for i, r := range recs {
		if docs, err = dec.Decode(docs, r.Value); err != nil {
			t.Fatalf("record %d does not decode: %v\n%s", i, err, r.Value)
		}
	}
	if _, err := s.Apply(&state.Batch{Topic: "port.customs", Next: 1, Customs: docs}); err != nil {
		t.Fatal(err)
	}
	var matched, mismatched, released int64
	err = s.ScanOutbox(1<<30, func(e *state.OutboxEntry) error {
		var m struct{ Kind, Result, Status string }
		if err := json.Unmarshal(e.Value, &m); err != nil {
			return err
		}
		switch {
		case m.Result == "matched":
			matched++
		case m.Result == "mismatched":
			mismatched++
		case m.Status == "released":
			released++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v: matched %d, mismatched %d, released %d", st, matched, mismatched, released)
	// A mismatched order may also miss a document (then it has no result).
	if matched+mismatched > st.Orders-st.Missing+st.Mismatched || mismatched > st.Mismatched || matched < st.Orders-st.Missing-st.Mismatched {
		t.Errorf("results matched %d + mismatched %d do not fit %+v", matched, mismatched, st)
	}
	if released != st.Orders || st.BoxFlows == 0 || st.Mismatched == 0 || st.Missing == 0 {
		t.Errorf("released %d (want %d), stats %+v", released, st.Orders, st)
	}
}

// TestCustomsDayFlows: the day model with the customs source produces
// container customs messages that all decode, for boxes of the day.
func TestCustomsDayFlows(t *testing.T) {
	g := NewDayGenerator(DayConfig{Scale: 0.02, Seed: 5, Start: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), Duration: 24 * time.Hour,
		Customs: CustomsDayFlows(5)})
	dec := customs.NewDecoder(customs.Config{})
	events := map[string]int{}
	var docs []state.CustomsDoc
	for {
		recs := g.Next(nil, 1000)
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Topic != "port.customs" {
				continue
			}
			var err error
			if docs, err = dec.Decode(docs[:0], r.Value); err != nil {
				t.Fatalf("%s: %v", r.Value, err)
			}
			events[docs[0].Box.Event]++
		}
	}
	t.Logf("customs events of the day: %v", events)
	if events["manifest_arrival"] == 0 || events["released"] == 0 || events["declared"] < events["manifest_arrival"] {
		t.Errorf("customs events %v", events)
	}
}
