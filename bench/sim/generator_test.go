package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/state"
)

var testStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func TestContainerNumbers(t *testing.T) {
	const n = 20_000
	got := ContainerNumbers(42, n)
	if len(got) != n {
		t.Fatalf("got %d numbers, want %d", len(got), n)
	}
	seen := make(map[string]bool, n)
	for _, s := range got {
		if err := state.CheckContainer(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !slices.Contains(ownerCodes, s[:4]) {
			t.Fatalf("%s: owner code %s is not in ownerCodes", s, s[:4])
		}
		if seen[s] {
			t.Fatalf("%s is drawn twice", s)
		}
		seen[s] = true
	}
	if again := ContainerNumbers(42, n); !slices.Equal(got, again) {
		t.Fatal("the same seed gave different numbers")
	}
	if other := ContainerNumbers(43, n); slices.Equal(got[:100], other[:100]) {
		t.Fatal("another seed gave the same numbers")
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, Containers: 500, BadRate: 0.05, DupRate: 0.05, Start: testStart}
	a := NewGenerator(cfg).Next(nil, 5000)
	b := NewGenerator(cfg).Next(nil, 5000)
	if !slices.EqualFunc(a, b, recordEqual) {
		t.Fatal("two generators with the same config differ")
	}
	cfg.Seed = 8
	if c := NewGenerator(cfg).Next(nil, 5000); slices.EqualFunc(a[:100], c[:100], recordEqual) {
		t.Fatal("another seed gave the same records")
	}
}

func recordEqual(a, b Record) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
}

// next lists the codes that may follow each code in one container's stream
// ("" is the start); a visit ends with GTOT or LOAD.
var next = map[string][]string{
	"":     {"DISC", "GTIN"},
	"DISC": {"HOLD", "INSP", "GTOT", "LOAD"},
	"HOLD": {"INSP", "GTOT"},
	"INSP": {"GTOT"},
	"GTIN": {"LOAD"},
	"GTOT": {"DISC", "GTIN"},
	"LOAD": {"DISC", "GTIN"},
}

func TestGeneratorGoodRecords(t *testing.T) {
	readers := rfid.DefaultReaders()
	g := NewGenerator(Config{Seed: 3, Containers: 300, Start: testStart})
	recs := g.Next(nil, 20_000)
	if st := g.Stats(); st != (Stats{Produced: 20_000}) {
		t.Fatalf("stats %+v, want only good records", st)
	}
	var (
		prev     time.Time
		last     = map[string]event{}
		codes    = map[string]int{}
		epcis    int
		rampSeen bool
	)
	for i, rec := range recs {
		ev, err := decodeRecord(readers, rec)
		if err != nil {
			t.Fatalf("record %d %s: %v", i, rec.Value, err)
		}
		if i == 0 && !ev.time.Equal(testStart) {
			t.Fatalf("first event at %v, want Start %v", ev.time, testStart)
		}
		if ev.time.Before(prev) {
			t.Fatalf("record %d: event time %v goes back from %v", i, ev.time, prev)
		}
		prev = ev.time
		p := last[ev.container]
		if !slices.Contains(next[p.code], ev.code) {
			t.Fatalf("record %d: %s %s follows %q", i, ev.container, ev.code, p.code)
		}
		if p.code != "" && !ev.time.After(p.time) {
			t.Fatalf("record %d: %s %s at %v, not after %v", i, ev.container, ev.code, ev.time, p.time)
		}
		last[ev.container] = ev
		codes[ev.code]++
		if ev.epcis {
			epcis++
		}
		rampSeen = rampSeen || strings.HasPrefix(ev.reader, "BLRS-")
	}
	for _, c := range []string{"GTIN", "GTOT", "LOAD", "DISC", "INSP", "HOLD"} {
		if codes[c] == 0 {
			t.Errorf("no %s event in %d records", c, len(recs))
		}
	}
	if !rampSeen {
		t.Error("no rail ramp read")
	}
	if f := float64(epcis) / float64(len(recs)); f < 0.45 || f > 0.55 {
		t.Errorf("EPCIS share %.3f, want about half", f)
	}
}

func TestGeneratorBadRate(t *testing.T) {
	readers := rfid.DefaultReaders()
	for _, rate := range []float64{0, 0.1, 0.5} {
		t.Run(fmt.Sprintf("rate=%v", rate), func(t *testing.T) {
			const n = 20_000
			g := NewGenerator(Config{Seed: 5, BadRate: rate, Start: testStart})
			kinds := map[string]int{}
			bad := 0
			for _, rec := range g.Next(nil, n) {
				if _, err := decodeRecord(readers, rec); err != nil {
					bad++
					kinds[badKindOf(t, rec, err)]++
				}
				if err := state.CheckContainer(string(rec.Key)); err != nil {
					t.Fatalf("key %q: %v", rec.Key, err)
				}
			}
			if st := g.Stats(); st.Bad != int64(bad) {
				t.Errorf("Stats.Bad = %d, found %d malformed records", st.Bad, bad)
			}
			// 0.02 is about 10 standard deviations of the share at 0.1.
			if f := float64(bad) / n; f < rate-0.02 || f > rate+0.02 {
				t.Errorf("malformed share %.4f, want %v ± 0.02", f, rate)
			}
			if rate > 0 && len(kinds) != 4 {
				t.Errorf("malformed kinds %v, want empty, json, check_digit and bizstep", kinds)
			}
		})
	}
}

func badKindOf(t *testing.T, rec Record, err error) string {
	t.Helper()
	switch {
	case len(rec.Value) == 0:
		return "empty"
	case errors.Is(err, errInvalidJSON):
		return "json"
	case errors.Is(err, state.ErrContainerCheckDigit):
		return "check_digit"
	case errors.Is(err, errUnknownBizStep):
		return "bizstep"
	}
	t.Fatalf("%s: unexpected error %v", rec.Value, err)
	return ""
}

func TestGeneratorDuplicates(t *testing.T) {
	const n = 20_000
	g := NewGenerator(Config{Seed: 9, DupRate: 0.1, Start: testStart})
	seen := make(map[string]bool, n)
	dups := 0
	for _, rec := range g.Next(nil, n) {
		k := string(rec.Key) + "\x00" + string(rec.Value)
		if seen[k] {
			dups++
		}
		seen[k] = true
	}
	if st := g.Stats(); st.Duplicates != int64(dups) {
		t.Errorf("Stats.Duplicates = %d, found %d re-sent records", st.Duplicates, dups)
	}
	if f := float64(dups) / n; f < 0.08 || f > 0.12 {
		t.Errorf("duplicate share %.4f, want 0.1 ± 0.02", f)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"localhost:9092"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"Brokers", func(c *Config) { c.Brokers = nil }},
		{"Total", func(c *Config) { c.Total = -1 }},
		{"Rate", func(c *Config) { c.Rate = math.Inf(1) }},
		{"Containers", func(c *Config) { c.Containers = -1 }},
		{"Containers", func(c *Config) { c.Containers = maxContainers + 1 }},
		{"BadRate", func(c *Config) { c.BadRate = 1.5 }},
		{"DupRate", func(c *Config) { c.DupRate = -0.1 }},
		{"DupRate", func(c *Config) { c.BadRate, c.DupRate = 0.6, 0.6 }},
		{"Readers", func(c *Config) { c.Readers = map[string]rfid.Reader{"X-GATE": {Facility: "X"}} }},
		{"Readers", func(c *Config) { c.Readers = map[string]rfid.Reader{"X\"1": {Facility: "X"}} }},
		{"Readers", func(c *Config) { c.Readers = map[string]rfid.Reader{"X-1": {Facility: "X", Event: "PICK"}} }},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: got %v, want an error naming the field", tc.field, err)
		}
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	g := NewGenerator(Config{Start: testStart})
	recs := g.Next(nil, 1000)
	var size int
	for _, r := range recs {
		size += len(r.Value)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	for b.Loop() {
		recs = g.Next(recs[:0], 1)
	}
}

// event is what the engine needs from a record.
type event struct {
	container, code, reader string
	time                    time.Time
	epcis                   bool
}

var (
	errInvalidJSON    = errors.New("invalid JSON")
	errUnknownBizStep = errors.New("unknown bizStep")
	uuidURN           = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	codeOfBizStep     = map[string]string{
		"arriving": "GTIN", "departing": "GTOT", "loading": "LOAD",
		"unloading": "DISC", "inspecting": "INSP", "holding": "HOLD", "storing": "STOR",
	}
)

// decodeRecord checks a record against the two formats the engine decodes,
// field by field, with encoding/json (the rfid decoder is not written yet).
func decodeRecord(readers map[string]rfid.Reader, rec Record) (event, error) {
	var m struct {
		Context                                                        string `json:"@context"`
		Type, EventID, EventTime, EventTimeZoneOffset, Action, BizStep string
		Disposition                                                    string
		EPCList                                                        []string
		ReadPoint, BizLocation                                         struct{ ID string }
		Reader, EPC, T, Dir                                            string
		Antenna, RSSI                                                  int
	}
	if !json.Valid(rec.Value) {
		return event{}, errInvalidJSON
	}
	d := json.NewDecoder(bytes.NewReader(rec.Value))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return event{}, err
	}
	var (
		ev  event
		err error
		epc string
	)
	if m.Type != "" {
		ev.epcis = true
		switch {
		case m.Context != "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld" || m.Type != "ObjectEvent":
			return ev, fmt.Errorf("bad @context or type")
		case !uuidURN.MatchString(m.EventID):
			return ev, fmt.Errorf("eventID %q", m.EventID)
		case !strings.HasSuffix(m.EventTime, "Z") || m.EventTimeZoneOffset != "+08:00":
			return ev, fmt.Errorf("eventTime %q, offset %q", m.EventTime, m.EventTimeZoneOffset)
		case len(m.EPCList) != 1 || m.Action != "OBSERVE" || m.Disposition != "in_transit":
			return ev, fmt.Errorf("epcList, action or disposition")
		}
		epc, ev.reader = m.EPCList[0], m.ReadPoint.ID
		if ev.time, err = time.Parse(time.RFC3339, m.EventTime); err != nil {
			return ev, err
		}
		var ok bool
		if ev.code, ok = codeOfBizStep[m.BizStep]; !ok {
			return ev, fmt.Errorf("%w %q", errUnknownBizStep, m.BizStep)
		}
		if r, ok := readers[ev.reader]; ok && m.BizLocation.ID != r.Facility {
			return ev, fmt.Errorf("bizLocation %q at reader %s", m.BizLocation.ID, ev.reader)
		}
	} else {
		epc, ev.reader = m.EPC, m.Reader
		if m.Antenna < 1 || m.Antenna > 4 || m.RSSI < -70 || m.RSSI > -40 {
			return ev, fmt.Errorf("antenna %d, rssi %d", m.Antenna, m.RSSI)
		}
		if ev.time, err = time.Parse(time.RFC3339, m.T); err != nil {
			return ev, err
		}
		ev.code = map[string]string{"in": "GTIN", "out": "GTOT", "": readers[ev.reader].Event}[m.Dir]
	}
	r, ok := readers[ev.reader]
	switch {
	case !ok:
		return ev, fmt.Errorf("unknown reader %q", ev.reader)
	case r.Event == "" && ev.code != "GTIN" && ev.code != "GTOT",
		r.Event != "" && ev.code != r.Event && !(ev.code == "HOLD" && r.Event == "INSP"):
		return ev, fmt.Errorf("%s at reader %s (event %q)", ev.code, ev.reader, r.Event)
	}
	ev.container, ok = strings.CutPrefix(epc, "urn:epc:id:bic:")
	if !ok {
		return ev, fmt.Errorf("epc %q", epc)
	}
	if err := state.CheckContainer(ev.container); err != nil {
		return ev, err
	}
	if string(rec.Key) != ev.container {
		return ev, fmt.Errorf("key %q for container %s", rec.Key, ev.container)
	}
	return ev, nil
}
