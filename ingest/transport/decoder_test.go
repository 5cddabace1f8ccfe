package transport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

// decodeTrucks decodes into a batch holding dst as its trucks and returns
// the trucks: the truck-position view of Decode.
func decodeTrucks(d *Decoder, dst []state.TruckReport, value []byte) ([]state.TruckReport, string, error) {
	b := state.Batch{Trucks: dst}
	ignored, err := d.Decode(&b, value)
	if len(b.Plans)+len(b.PlanEvents)+len(b.Waybills) != 0 {
		return b.Trucks, ignored, fmt.Errorf("decoded %d plans, %d plan events, %d waybills", len(b.Plans), len(b.PlanEvents), len(b.Waybills))
	}
	return b.Trucks, ignored, err
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unixNano(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func TestTransportDecodeTestdata(t *testing.T) {
	d := NewDecoder()
	at8 := unixNano(t, "2026-11-22T08:00:00Z")
	for _, c := range []struct {
		file    string
		want    []state.TruckReport
		ignored string
	}{
		{file: "truck_position.json", want: []state.TruckReport{{Plate: "浙B12345", Time: at8, Lat: 29.93, Lon: 121.86, SpeedKmh: 12.5, Heading: 90, Container: "MSKU9070323"}}},
		// Unix ms; plate normalised; null speed is unknown; 359.7° rounds to north.
		{file: "truck_position_millis.json", want: []state.TruckReport{{Plate: "浙B 67890", Time: at8, Lat: 29.9412, Lon: 121.8873, SpeedKmh: state.UnknownFloat, Heading: 0}}},
		// Zone offset; container as printed on the box.
		{file: "truck_position_offset.json", want: []state.TruckReport{{Plate: "沪AD12345", Time: at8, Lat: 30, Lon: 122, SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt, Container: "CSQU3054383"}}},
		{file: "barge_arrival.json", ignored: "barge.*"},
	} {
		t.Run(c.file, func(t *testing.T) {
			b := state.Batch{Trucks: []state.TruckReport{{Plate: "X"}}}
			ignored, err := d.Decode(&b, readTestdata(t, c.file))
			got := b.Trucks
			if err != nil {
				t.Fatal(err)
			}
			if ignored != c.ignored {
				t.Errorf("ignored = %q, want %q", ignored, c.ignored)
			}
			if len(got) != 1+len(c.want) || got[0].Plate != "X" {
				t.Fatalf("Decode appended %d reports to dst, want %d: %+v", len(got)-1, len(c.want), got)
			}
			for i, w := range c.want {
				if got[1+i] != w {
					t.Errorf("report %d\n got %+v\nwant %+v", i, got[1+i], w)
				}
				if err := got[1+i].Validate(); err != nil {
					t.Errorf("report %d fails Validate: %v", i, err)
				}
			}
		})
	}
}

func TestTransportDecodeErrors(t *testing.T) {
	d := NewDecoder()
	const base = `"type":"truck.position","plate":"浙B12345","lat":29.93,"lon":121.86,"t":"2026-11-22T08:00:00Z"`
	for _, c := range []struct {
		name, value, reason string
	}{
		{"empty", ``, decode.ReasonEmpty},
		{"not json", `{"type":`, decode.ReasonInvalidJSON},
		{"array", `[{` + base + `}]`, decode.ReasonUnknownFormat},
		{"no type", `{"plate":"浙B12345"}`, decode.ReasonMissingField},
		{"type not string", `{"type":7}`, decode.ReasonBadField},
		{"foreign type", `{"type":"ObjectEvent"}`, decode.ReasonUnknownFormat},
		{"bare family", `{"type":"truck."}`, decode.ReasonUnknownFormat},
		{"no plate", `{"type":"truck.position","lat":29.93,"lon":121.86,"t":"2026-11-22T08:00:00Z"}`, decode.ReasonMissingField},
		{"plate number", `{` + strings.Replace(base, `"浙B12345"`, `12345`, 1) + `}`, decode.ReasonBadField},
		{"plate blank", `{` + strings.Replace(base, `"浙B12345"`, `"  "`, 1) + `}`, decode.ReasonBadField},
		{"plate control", `{` + strings.Replace(base, `"浙B12345"`, `"浙B\u000112345"`, 1) + `}`, decode.ReasonBadField},
		{"plate too long", `{` + strings.Replace(base, `"浙B12345"`, `"浙B1234567890123456"`, 1) + `}`, decode.ReasonBadField},
		{"plate huge", `{` + strings.Replace(base, `"浙B12345"`, `"`+strings.Repeat("浙", 1000)+`"`, 1) + `}`, decode.ReasonBadField},
		{"no lat", `{` + strings.Replace(base, `"lat":29.93,`, ``, 1) + `}`, decode.ReasonMissingField},
		{"lat range", `{` + strings.Replace(base, `29.93`, `91`, 1) + `}`, decode.ReasonBadField},
		{"lon range", `{` + strings.Replace(base, `121.86`, `-180.5`, 1) + `}`, decode.ReasonBadField},
		{"lat string", `{` + strings.Replace(base, `29.93`, `"29.93"`, 1) + `}`, decode.ReasonBadField},
		{"no t", `{` + strings.Replace(base, `,"t":"2026-11-22T08:00:00Z"`, ``, 1) + `}`, decode.ReasonMissingField},
		{"t no zone", `{` + strings.Replace(base, `08:00:00Z`, `08:00:00`, 1) + `}`, decode.ReasonBadTime},
		{"t seconds", `{` + strings.Replace(base, `"2026-11-22T08:00:00Z"`, `1795334400.5`, 1) + `}`, decode.ReasonBadTime},
		{"t bool", `{` + strings.Replace(base, `"2026-11-22T08:00:00Z"`, `true`, 1) + `}`, decode.ReasonBadTime},
		{"t 1969", `{` + strings.Replace(base, `2026-11-22`, `1969-12-31`, 1) + `}`, decode.ReasonBadTime},
		{"t far", `{` + strings.Replace(base, `"2026-11-22T08:00:00Z"`, `1795334400000000`, 1) + `}`, decode.ReasonBadTime},
		{"speed negative", `{` + base + `,"speed":-1}`, decode.ReasonBadField},
		{"speed huge", `{` + base + `,"speed":1000}`, decode.ReasonBadField},
		{"speed string", `{` + base + `,"speed":"12"}`, decode.ReasonBadField},
		{"heading range", `{` + base + `,"heading":361}`, decode.ReasonBadField},
		{"container check digit", `{` + base + `,"container":"MSKU9070324"}`, decode.ReasonCheckDigit},
		{"container format", `{` + base + `,"container":"MSKU907032"}`, decode.ReasonBadContainer},
		{"container number", `{` + base + `,"container":9070323}`, decode.ReasonBadField},
	} {
		t.Run(c.name, func(t *testing.T) {
			prior := []state.TruckReport{{Plate: "X"}}
			got, ignored, err := decodeTrucks(d, prior, []byte(c.value))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, no error", c.value, got)
			}
			if r := decode.Reason(err); r != c.reason {
				t.Errorf("reason %q (%v), want %q", r, err, c.reason)
			}
			if len(got) != 1 || ignored != "" {
				t.Errorf("on error Decode returned %d reports, ignored %q", len(got), ignored)
			}
		})
	}
}

func TestTransportDecodeOptionalFields(t *testing.T) {
	d := NewDecoder()
	for _, c := range []struct {
		extra     string
		speed     float64
		heading   int
		container string
	}{
		{``, state.UnknownFloat, state.UnknownInt, ""},
		{`,"speed":null,"heading":null,"container":null`, state.UnknownFloat, state.UnknownInt, ""},
		{`,"container":""`, state.UnknownFloat, state.UnknownInt, ""},
		{`,"speed":0,"heading":0`, 0, 0, ""},
		{`,"speed":400,"heading":360`, 400, 0, ""},
		{`,"heading":179.4`, state.UnknownFloat, 179, ""},
		{`,"container":"MSKU 907032-3","unknown":{"x":[1,2]}`, state.UnknownFloat, state.UnknownInt, "MSKU9070323"},
	} {
		v := `{"type":"truck.position","plate":"浙B12345","lat":29.93,"lon":121.86,"t":1795334400000` + c.extra + `}`
		got, _, err := decodeTrucks(d, nil, []byte(v))
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		if r := got[0]; r.SpeedKmh != c.speed || r.Heading != c.heading || r.Container != c.container {
			t.Errorf("%s: %+v", v, r)
		}
	}
}

func TestTransportIgnoredTypes(t *testing.T) {
	d := NewDecoder()
	labels := map[string]bool{}
	for _, l := range IgnoredTypes() {
		labels[l] = true
	}
	for typ, want := range map[string]string{
		"truck.appointment": "truck.appointment",
		"truck.gate_event":  "truck.*",
		"rail.consist":      "rail.*",
		"barge.departure":   "barge.*",
	} {
		got, ignored, err := decodeTrucks(d, nil, []byte(`{"type":"`+typ+`","anything":1}`))
		if err != nil || len(got) != 0 || ignored != want {
			t.Errorf("%s: %d reports, ignored %q, err %v; want ignored %q", typ, len(got), ignored, err, want)
		}
		if !labels[ignored] {
			t.Errorf("%s: label %q not in IgnoredTypes", typ, ignored)
		}
	}
}

// TestTransportDecodeOwnsStrings reuses the input buffer after Decode: the report
// must not change.
func TestTransportDecodeOwnsStrings(t *testing.T) {
	d := NewDecoder()
	value := readTestdata(t, "truck_position.json")
	got, _, err := decodeTrucks(d, nil, value)
	if err != nil {
		t.Fatal(err)
	}
	for i := range value {
		value[i] = 'x'
	}
	if got[0].Plate != "浙B12345" || got[0].Container != "MSKU9070323" {
		t.Fatalf("report aliases the value: %+v", got[0])
	}
}
