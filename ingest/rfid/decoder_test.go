package rfid

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

func newTestDecoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder(Config{Readers: DefaultReaders()})
	if err != nil {
		t.Fatal(err)
	}
	return d
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

// mustDecode decodes value, fails the test on error and checks every event.
func mustDecode(t testing.TB, d *Decoder, value []byte) []state.Event {
	t.Helper()
	evs, err := d.Decode(nil, value)
	if err != nil {
		t.Fatalf("Decode(%s): %v", value, err)
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			t.Fatalf("event %d fails Validate: %v", i, err)
		}
	}
	return evs
}

// withFields returns the JSON of base with fields overridden; a nil value
// deletes the field.
func withFields(t testing.TB, base map[string]any, fields map[string]any) []byte {
	t.Helper()
	m := make(map[string]any, len(base)+len(fields))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func baseEvent() map[string]any {
	return map[string]any{
		"type":        "ObjectEvent",
		"action":      "OBSERVE",
		"bizStep":     "arriving",
		"epcList":     []any{"urn:epc:id:bic:CSQU3054383"},
		"eventTime":   "2026-11-22T16:00:00+08:00",
		"readPoint":   map[string]any{"id": "rp"},
		"bizLocation": map[string]any{"id": "loc"},
	}
}

func baseRead() map[string]any {
	return map[string]any{
		"reader":  "BLCT-GATE-L1",
		"antenna": 2,
		"epc":     "urn:epc:id:bic:CSQU3054383",
		"t":       "2026-11-22T08:00:00Z",
		"rssi":    -52.5,
		"dir":     "in",
	}
}

func TestDecodeTestdata(t *testing.T) {
	const loc = "https://id.nbport.example/loc/"
	tests := []struct {
		file string
		want []state.Event
	}{{
		file: "gate_in_object_event.json",
		want: []state.Event{{
			ID:        "ni:///sha-256;4b0f6c1e8a1f4e2b9d7c3a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192?ver=CBV2.0",
			Container: "CSQU3054383", Code: state.CodeGTIN, Time: unixNano(t, "2026-11-22T08:00:00Z"),
			Location: loc + "BLCT", ReadPoint: loc + "BLCT/gate/3/lane/2", Source: "epcis", Disposition: "in_transit",
			Refs: []state.Ref{{Kind: state.LinkTransport, Value: "MEDUNB123456"}},
		}},
	}, {
		file: "vessel_loading_aggregation_event.json",
		want: []state.Event{{
			ID:        "urn:uuid:6f1c2a9e-3b7d-4c1e-9a52-0d8e4b7f3c21#MSKU9070323",
			Container: "MSKU9070323", Code: state.CodeLOAD, Time: unixNano(t, "2026-11-22T09:41:07.25Z"),
			Location: loc + "BLCT/berth/B07", ReadPoint: loc + "BLCT/quay/QC03", Source: "epcis", Disposition: "in_transit",
		}, {
			ID:        "urn:uuid:6f1c2a9e-3b7d-4c1e-9a52-0d8e4b7f3c21#APZU4812090",
			Container: "APZU4812090", Code: state.CodeLOAD, Time: unixNano(t, "2026-11-22T09:41:07.25Z"),
			Location: loc + "BLCT/berth/B07", ReadPoint: loc + "BLCT/quay/QC03", Source: "epcis", Disposition: "in_transit",
		}},
	}, {
		file: "epcis_document.json",
		want: []state.Event{{
			ID:        "urn:uuid:0b4a7d12-58e3-4f0a-8c6d-2e9f1a3b5c70",
			Container: "CICU3789922", Code: state.CodeGTOT, Time: unixNano(t, "2026-11-22T09:58:12Z"),
			Location: loc + "CSCT", ReadPoint: loc + "CSCT/gate/1/lane/4", Source: "epcis", Disposition: "in_transit",
		}, {
			// No eventID: a content hash. Hash IDs are pinned here because
			// they are stored; they were checked with an independent
			// implementation of the encoding documented on hashID.
			ID:        "sha256:d37aefc1cba94620f1061bc98d1b3e1d",
			Container: "CSQU3054300", Code: state.CodeHOLD, Time: unixNano(t, "2026-11-22T10:15:00Z"),
			Location: loc + "CSCT/inspection", ReadPoint: loc + "CSCT/inspection", Source: "epcis", Disposition: "unavailable",
		}, {
			ID:        "urn:uuid:9d3e5f70-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
			Container: "TGHU0436455", Code: state.CodeDISC, Time: unixNano(t, "2026-11-21T22:30:00.5Z"),
			Location: loc + "CSCT/berth/C02", ReadPoint: loc + "CSCT/quay/QC11", Source: "epcis",
		}},
	}, {
		file: "read_gate_in.json",
		want: []state.Event{{
			ID:        "sha256:f168ec32bb78bb8598dd54f67250aeb9",
			Container: "CSQU3054383", Code: state.CodeGTIN, Time: unixNano(t, "2026-11-22T08:00:00Z"),
			Location: "CNNGB-BLCT-GATE", ReadPoint: "BLCT-GATE-L1", Source: "rfid-read",
		}},
	}, {
		file: "read_quay_crane.json",
		want: []state.Event{{
			ID:        "sha256:a8db19cb4c1d5dd2236633f8daf9ed04",
			Container: "MSKU9070323", Code: state.CodeLOAD, Time: unixNano(t, "2026-11-22T08:00:00Z"),
			Location: "CNNGB-CSCT-QUAY", ReadPoint: "CSCT-QC03-LOAD", Source: "rfid-read",
		}},
	}}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := mustDecode(t, d, readTestdata(t, tt.file))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeBizStep(t *testing.T) {
	tests := []struct {
		step string
		want state.Code
	}{
		{"arriving", state.CodeGTIN},
		{"departing", state.CodeGTOT},
		{"loading", state.CodeLOAD},
		{"unloading", state.CodeDISC},
		{"inspecting", state.CodeINSP},
		{"holding", state.CodeHOLD},
		{"storing", state.CodeSTOR},
	}
	d := newTestDecoder(t)
	for _, tt := range tests {
		for _, form := range []string{"", "https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:"} {
			t.Run(form+tt.step, func(t *testing.T) {
				evs := mustDecode(t, d, withFields(t, baseEvent(), map[string]any{"bizStep": form + tt.step}))
				if len(evs) != 1 || evs[0].Code != tt.want {
					t.Fatalf("got %+v, want one %v event", evs, tt.want)
				}
			})
		}
	}
}

func TestDecodeEPCISFields(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]any
		check  func(t *testing.T, evs []state.Event)
	}{{
		name:   "location is bizLocation",
		fields: nil,
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Location != "loc" || evs[0].ReadPoint != "rp" {
				t.Errorf("Location, ReadPoint = %q, %q, want loc, rp", evs[0].Location, evs[0].ReadPoint)
			}
		},
	}, {
		name:   "location falls back to readPoint",
		fields: map[string]any{"bizLocation": nil},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Location != "rp" {
				t.Errorf("Location = %q, want rp", evs[0].Location)
			}
		},
	}, {
		name:   "no location",
		fields: map[string]any{"bizLocation": nil, "readPoint": nil},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Location != "" || evs[0].ReadPoint != "" {
				t.Errorf("Location, ReadPoint = %q, %q, want empty", evs[0].Location, evs[0].ReadPoint)
			}
		},
	}, {
		name:   "disposition web URI",
		fields: map[string]any{"disposition": "https://ref.gs1.org/cbv/Disp-in_transit"},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Disposition != "in_transit" {
				t.Errorf("Disposition = %q, want in_transit", evs[0].Disposition)
			}
		},
	}, {
		name:   "disposition URN",
		fields: map[string]any{"disposition": "urn:epcglobal:cbv:disp:damaged"},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Disposition != "damaged" {
				t.Errorf("Disposition = %q, want damaged", evs[0].Disposition)
			}
		},
	}, {
		name:   "non-container EPCs skipped",
		fields: map[string]any{"epcList": []any{"urn:epc:id:sscc:6901234.0000000017", "urn:epc:id:bic:APZU4812090", "urn:epc:id:giai:4000001.12345"}},
		check: func(t *testing.T, evs []state.Event) {
			if len(evs) != 1 || evs[0].Container != "APZU4812090" {
				t.Errorf("got %+v, want one APZU4812090 event", evs)
			}
		},
	}, {
		name:   "one eventID, one container",
		fields: map[string]any{"eventID": "urn:uuid:1", "epcList": []any{"urn:epc:id:sscc:6901234.0000000017", "urn:epc:id:bic:APZU4812090"}},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].ID != "urn:uuid:1" {
				t.Errorf("ID = %q, want urn:uuid:1", evs[0].ID)
			}
		},
	}, {
		name:   "one eventID, two containers",
		fields: map[string]any{"eventID": "urn:uuid:1", "epcList": []any{"urn:epc:id:bic:CSQU3054383", "urn:epc:id:bic:APZU4812090"}},
		check: func(t *testing.T, evs []state.Event) {
			if len(evs) != 2 || evs[0].ID != "urn:uuid:1#CSQU3054383" || evs[1].ID != "urn:uuid:1#APZU4812090" {
				t.Errorf("got %+v, want IDs urn:uuid:1#<container>", evs)
			}
		},
	}, {
		name:   "eventID and null optional fields",
		fields: map[string]any{"eventID": "", "disposition": nil, "bizLocation": nil},
		check: func(t *testing.T, evs []state.Event) {
			if !strings.HasPrefix(evs[0].ID, "sha256:") {
				t.Errorf("ID = %q, want a content hash for an empty eventID", evs[0].ID)
			}
		},
	}, {
		name:   "aggregation uses childEPCs, not parentID or epcList",
		fields: map[string]any{"type": "AggregationEvent", "parentID": "urn:epc:id:bic:CICU3789922", "childEPCs": []any{"urn:epc:id:bic:MSKU9070323"}},
		check: func(t *testing.T, evs []state.Event) {
			if len(evs) != 1 || evs[0].Container != "MSKU9070323" {
				t.Errorf("got %+v, want one MSKU9070323 event", evs)
			}
		},
	}, {
		name:   "container normalised",
		fields: map[string]any{"epcList": []any{"urn:epc:id:bic:csqu 305438-3"}},
		check: func(t *testing.T, evs []state.Event) {
			if evs[0].Container != "CSQU3054383" {
				t.Errorf("Container = %q, want CSQU3054383", evs[0].Container)
			}
		},
	}}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustDecode(t, d, withFields(t, baseEvent(), tt.fields)))
		})
	}
}

func TestDecodeDocumentEmpty(t *testing.T) {
	d := newTestDecoder(t)
	evs := mustDecode(t, d, []byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[]}}`))
	if len(evs) != 0 {
		t.Fatalf("got %d events from an empty document", len(evs))
	}
}

func TestDecodeRead(t *testing.T) {
	tests := []struct {
		name      string
		fields    map[string]any
		reader    string
		container string
		code      state.Code
		time      string
	}{
		{"gate in", nil, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTIN, "2026-11-22T08:00:00Z"},
		{"gate out", map[string]any{"dir": "out"}, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTOT, "2026-11-22T08:00:00Z"},
		{"crane reader ignores dir", map[string]any{"reader": "BLCT-QC01-DISC", "dir": "out"}, "BLCT-QC01-DISC", "CSQU3054383", state.CodeDISC, "2026-11-22T08:00:00Z"},
		{"rail reader without dir", map[string]any{"reader": "BLRS-RAMP-LOAD", "dir": nil}, "BLRS-RAMP-LOAD", "CSQU3054383", state.CodeLOAD, "2026-11-22T08:00:00Z"},
		{"inspection reader", map[string]any{"reader": "MSCT-INSP", "dir": nil}, "MSCT-INSP", "CSQU3054383", state.CodeINSP, "2026-11-22T08:00:00Z"},
		{"plain number in epc", map[string]any{"epc": "APZU4812090"}, "BLCT-GATE-L1", "APZU4812090", state.CodeGTIN, "2026-11-22T08:00:00Z"},
		{"container field", map[string]any{"epc": nil, "container": "apzu 481209 0"}, "BLCT-GATE-L1", "APZU4812090", state.CodeGTIN, "2026-11-22T08:00:00Z"},
		{"epc wins over container", map[string]any{"container": "APZU4812090"}, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTIN, "2026-11-22T08:00:00Z"},
		{"time with offset", map[string]any{"t": "2026-11-22T16:00:00.123+08:00"}, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTIN, "2026-11-22T08:00:00.123Z"},
		{"unix millis", map[string]any{"t": 1795334400123}, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTIN, "2026-11-22T08:00:00.123Z"},
		{"no antenna", map[string]any{"antenna": nil}, "BLCT-GATE-L1", "CSQU3054383", state.CodeGTIN, "2026-11-22T08:00:00Z"},
	}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := mustDecode(t, d, withFields(t, baseRead(), tt.fields))
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			want := state.Event{
				ID: evs[0].ID, Container: tt.container, Code: tt.code, Time: unixNano(t, tt.time),
				Location: DefaultReaders()[tt.reader].Facility, ReadPoint: tt.reader, Source: "rfid-read",
			}
			if !reflect.DeepEqual(evs[0], want) {
				t.Errorf("got %+v\nwant %+v", evs[0], want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("x", state.MaxFieldLen+1)
	ev := func(fields map[string]any) string { return string(withFields(t, baseEvent(), fields)) }
	rd := func(fields map[string]any) string { return string(withFields(t, baseRead(), fields)) }
	doc := func(events ...string) string {
		return `{"type":"EPCISDocument","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
	}
	tests := []struct {
		name, value, reason string
	}{
		{"empty", "", decode.ReasonEmpty},
		{"truncated", `{"reader":"BLCT-GATE-L1"`, decode.ReasonInvalidJSON},
		{"garbage", `not json`, decode.ReasonInvalidJSON},
		{"whitespace", " \n", decode.ReasonInvalidJSON},
		{"two values", `{} {}`, decode.ReasonInvalidJSON},
		{"array", `[{"type":"ObjectEvent"}]`, decode.ReasonUnknownFormat},
		{"string", `"urn:epc:id:bic:CSQU3054383"`, decode.ReasonUnknownFormat},
		{"null", `null`, decode.ReasonUnknownFormat},
		{"empty object", `{}`, decode.ReasonUnknownFormat},
		{"unknown type", ev(map[string]any{"type": "ShipmentEvent"}), decode.ReasonUnknownFormat},
		{"type not a string", ev(map[string]any{"type": 1}), decode.ReasonUnknownFormat},
		{"null reader", `{"reader":null}`, decode.ReasonUnknownFormat},

		{"TransactionEvent", ev(map[string]any{"type": "TransactionEvent"}), decode.ReasonUnsupported},
		{"TransformationEvent", ev(map[string]any{"type": "TransformationEvent"}), decode.ReasonUnsupported},
		{"AssociationEvent", ev(map[string]any{"type": "AssociationEvent", "childEPCs": []any{"urn:epc:id:bic:CSQU3054383"}}), decode.ReasonUnsupported},
		{"EPCISQueryDocument", `{"type":"EPCISQueryDocument","epcisBody":{"queryResults":{}}}`, decode.ReasonUnsupported},
		{"document with an AssociationEvent", doc(ev(nil), ev(map[string]any{"type": "AssociationEvent"})), decode.ReasonUnsupported},

		{"no bizStep", ev(map[string]any{"bizStep": nil}), decode.ReasonUnknownBizStep},
		{"unmapped bizStep", ev(map[string]any{"bizStep": "shipping"}), decode.ReasonUnknownBizStep},
		{"unmapped URI bizStep", ev(map[string]any{"bizStep": "https://ref.gs1.org/cbv/BizStep-receiving"}), decode.ReasonUnknownBizStep},
		{"foreign URI bizStep", ev(map[string]any{"bizStep": "http://epcis.example.org/arriving"}), decode.ReasonUnknownBizStep},
		{"bizStep not a string", ev(map[string]any{"bizStep": 3}), decode.ReasonUnknownBizStep},

		{"no eventTime", ev(map[string]any{"eventTime": nil}), decode.ReasonMissingField},
		{"no epcList", ev(map[string]any{"epcList": nil}), decode.ReasonMissingField},
		{"empty epcList", ev(map[string]any{"epcList": []any{}}), decode.ReasonMissingField},
		{"only SSCC", ev(map[string]any{"epcList": []any{"urn:epc:id:sscc:6901234.0000000017"}}), decode.ReasonMissingField},
		{"aggregation with epcList only", ev(map[string]any{"type": "AggregationEvent"}), decode.ReasonMissingField},
		{"document without body", `{"type":"EPCISDocument"}`, decode.ReasonMissingField},
		{"document without eventList", `{"type":"EPCISDocument","epcisBody":{}}`, decode.ReasonMissingField},
		{"read without time", rd(map[string]any{"t": nil}), decode.ReasonMissingField},
		{"read without container", rd(map[string]any{"epc": nil}), decode.ReasonMissingField},

		{"epcisBody not an object", `{"type":"EPCISDocument","epcisBody":[]}`, decode.ReasonBadField},
		{"eventList not an array", `{"type":"EPCISDocument","epcisBody":{"eventList":{}}}`, decode.ReasonBadField},
		{"event not an object", doc(ev(nil), `"x"`), decode.ReasonBadField},
		{"epcList not an array", ev(map[string]any{"epcList": "urn:epc:id:bic:CSQU3054383"}), decode.ReasonBadField},
		{"EPC not a string", ev(map[string]any{"epcList": []any{1}}), decode.ReasonBadField},
		{"readPoint not an object", ev(map[string]any{"readPoint": "rp"}), decode.ReasonBadField},
		{"readPoint id not a string", ev(map[string]any{"readPoint": map[string]any{"id": 1}}), decode.ReasonBadField},
		{"readPoint too long", ev(map[string]any{"readPoint": map[string]any{"id": long}}), decode.ReasonBadField},
		{"bizLocation too long", ev(map[string]any{"bizLocation": map[string]any{"id": long}}), decode.ReasonBadField},
		{"disposition too long", ev(map[string]any{"disposition": long}), decode.ReasonBadField},
		{"disposition URI too long", ev(map[string]any{"disposition": "urn:epcglobal:cbv:disp:" + long}), decode.ReasonBadField},
		{"disposition not a string", ev(map[string]any{"disposition": true}), decode.ReasonBadField},
		{"eventID too long", ev(map[string]any{"eventID": strings.Repeat("e", state.MaxIDLen+1)}), decode.ReasonBadField},
		{"eventID too long for two containers", ev(map[string]any{
			"eventID": strings.Repeat("e", state.MaxIDLen-5),
			"epcList": []any{"urn:epc:id:bic:CSQU3054383", "urn:epc:id:bic:APZU4812090"},
		}), decode.ReasonBadField},
		{"eventID not a string", ev(map[string]any{"eventID": 7}), decode.ReasonBadField},
		{"reader not a string", rd(map[string]any{"reader": 1}), decode.ReasonBadField},
		{"reader too long", rd(map[string]any{"reader": long}), decode.ReasonBadField},
		{"epc not a string", rd(map[string]any{"epc": 1}), decode.ReasonBadField},
		{"antenna not an integer", rd(map[string]any{"antenna": 1.5}), decode.ReasonBadField},
		{"antenna a string", rd(map[string]any{"antenna": "2"}), decode.ReasonBadField},
		{"bad dir", rd(map[string]any{"dir": "up"}), decode.ReasonBadField},
		{"bad dir at a crane", rd(map[string]any{"reader": "BLCT-QC01-LOAD", "dir": "IN"}), decode.ReasonBadField},
		{"dir not a string", rd(map[string]any{"dir": 1}), decode.ReasonBadField},
		{"no dir at a gate", rd(map[string]any{"dir": nil}), decode.ReasonBadField},

		{"EPCIS bad container", ev(map[string]any{"epcList": []any{"urn:epc:id:bic:CSQ3054383"}}), decode.ReasonBadContainer},
		{"EPCIS category letter", ev(map[string]any{"epcList": []any{"urn:epc:id:bic:CSQX3054383"}}), decode.ReasonBadContainer},
		{"EPCIS empty bic", ev(map[string]any{"epcList": []any{"urn:epc:id:bic:"}}), decode.ReasonBadContainer},
		{"read bad container", rd(map[string]any{"epc": "CSQU30543"}), decode.ReasonBadContainer},
		{"read non-bic EPC", rd(map[string]any{"epc": "urn:epc:id:sscc:6901234.0000000017"}), decode.ReasonBadContainer},

		{"EPCIS check digit", ev(map[string]any{"epcList": []any{"urn:epc:id:bic:TGHU0436452"}}), decode.ReasonCheckDigit},
		{"aggregation check digit", ev(map[string]any{"type": "AggregationEvent", "childEPCs": []any{"urn:epc:id:bic:MSKU9070323", "urn:epc:id:bic:TGHU0436452"}}), decode.ReasonCheckDigit},
		{"read check digit", rd(map[string]any{"epc": "TGHU0436452"}), decode.ReasonCheckDigit},

		{"eventTime not RFC 3339", ev(map[string]any{"eventTime": "22/11/2026 08:00"}), decode.ReasonBadTime},
		{"eventTime without offset", ev(map[string]any{"eventTime": "2026-11-22T08:00:00"}), decode.ReasonBadTime},
		{"eventTime a number", ev(map[string]any{"eventTime": 1795334400000}), decode.ReasonBadTime},
		{"eventTime before 1970", ev(map[string]any{"eventTime": "1969-12-31T23:59:59Z"}), decode.ReasonBadTime},
		{"eventTime at the epoch", ev(map[string]any{"eventTime": "1970-01-01T00:00:00Z"}), decode.ReasonBadTime},
		{"eventTime in 2200", ev(map[string]any{"eventTime": "2200-01-01T00:00:00Z"}), decode.ReasonBadTime},
		{"eventTime in year 9999", ev(map[string]any{"eventTime": "9999-12-31T23:59:59Z"}), decode.ReasonBadTime},
		{"read time without offset", rd(map[string]any{"t": "2026-11-22 08:00:00"}), decode.ReasonBadTime},
		{"read millis negative", rd(map[string]any{"t": -1}), decode.ReasonBadTime},
		{"read millis zero", rd(map[string]any{"t": 0}), decode.ReasonBadTime},
		{"read millis after 2200", rd(map[string]any{"t": 7258118400000}), decode.ReasonBadTime},
		{"read millis fraction", rd(map[string]any{"t": 1795334400000.5}), decode.ReasonBadTime},
		{"read millis overflow", rd(map[string]any{"t": json.Number("99999999999999999999")}), decode.ReasonBadTime},
		{"read time bool", rd(map[string]any{"t": true}), decode.ReasonBadTime},

		{"unknown reader", rd(map[string]any{"reader": "BLCT-GATE-L9"}), decode.ReasonUnknownReader},
		{"empty reader", rd(map[string]any{"reader": ""}), decode.ReasonUnknownReader},
	}
	d := newTestDecoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := d.Decode(nil, []byte(tt.value))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, want %s error", tt.value, evs, tt.reason)
			}
			var de *decode.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T, want *decode.Error", err, err)
			}
			if de.Reason != tt.reason {
				t.Errorf("reason %s (%v), want %s", de.Reason, err, tt.reason)
			}
			if len(evs) != 0 {
				t.Errorf("got %d events with the error", len(evs))
			}
		})
	}
}

// A reader table that bypassed Validate must not let an invalid event out.
func TestDecodeInvalidEvent(t *testing.T) {
	d := &Decoder{readers: map[string]reader{"R": {id: "R", facility: strings.Repeat("f", state.MaxFieldLen+1), code: state.CodeGTIN}}}
	_, err := d.Decode(nil, []byte(`{"reader":"R","epc":"CSQU3054383","t":1795334400000}`))
	if got := decode.Reason(err); got != decode.ReasonInvalidEvent {
		t.Fatalf("reason %s (%v), want %s", got, err, decode.ReasonInvalidEvent)
	}
}

func TestDecodeAppendsAllOrNothing(t *testing.T) {
	d := newTestDecoder(t)
	prev := state.Event{ID: "prev"}
	dst := make([]state.Event, 1, 16)
	dst[0] = prev

	good := readTestdata(t, "epcis_document.json")
	out, err := d.Decode(dst, good)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || !reflect.DeepEqual(out[0], prev) {
		t.Fatalf("Decode appended %d events after %+v, want 3 after prev", len(out)-1, out[0])
	}

	// The third event is bad: nothing of the first two may remain.
	bad := strings.Replace(string(good), "TGHU0436455", "TGHU0436452", 1)
	out, err = d.Decode(dst, []byte(bad))
	if decode.Reason(err) != decode.ReasonCheckDigit {
		t.Fatalf("err = %v, want %s", err, decode.ReasonCheckDigit)
	}
	if !strings.Contains(err.Error(), "eventList[2]") {
		t.Errorf("error %q does not name eventList[2]", err)
	}
	if len(out) != 1 || !reflect.DeepEqual(out[0], prev) {
		t.Fatalf("Decode returned %+v on error, want dst unchanged", out)
	}
	if rest := dst[1:4]; !reflect.DeepEqual(rest[0], state.Event{}) || !reflect.DeepEqual(rest[1], state.Event{}) {
		t.Errorf("rejected events left in dst's array: %+v", rest)
	}
}

func TestEventIDs(t *testing.T) {
	d := newTestDecoder(t)
	id := func(t *testing.T, value []byte) string {
		t.Helper()
		return mustDecode(t, d, value)[0].ID
	}
	// Each group decodes to one ID; each group differs from the others.
	groups := []struct {
		name   string
		values [][]byte
	}{
		{"epcis", [][]byte{
			withFields(t, baseEvent(), nil),
			withFields(t, baseEvent(), map[string]any{"bizStep": "https://ref.gs1.org/cbv/BizStep-arriving"}),
			withFields(t, baseEvent(), map[string]any{"eventTime": "2026-11-22T08:00:00.000Z"}),
			withFields(t, baseEvent(), map[string]any{"disposition": "in_transit", "action": "ADD"}),
			withFields(t, baseEvent(), map[string]any{"epcList": []any{"urn:epc:id:sscc:6901234.0000000017", "urn:epc:id:bic:CSQU3054383"}}),
		}},
		{"epcis type", [][]byte{withFields(t, baseEvent(), map[string]any{"type": "AggregationEvent", "childEPCs": []any{"urn:epc:id:bic:CSQU3054383"}})}},
		{"epcis bizStep", [][]byte{withFields(t, baseEvent(), map[string]any{"bizStep": "holding"})}},
		{"epcis time", [][]byte{withFields(t, baseEvent(), map[string]any{"eventTime": "2026-11-22T16:00:00.000000001+08:00"})}},
		{"epcis container", [][]byte{withFields(t, baseEvent(), map[string]any{"epcList": []any{"urn:epc:id:bic:APZU4812090"}})}},
		{"epcis readPoint", [][]byte{withFields(t, baseEvent(), map[string]any{"readPoint": map[string]any{"id": "rp2"}})}},
		{"epcis bizLocation", [][]byte{withFields(t, baseEvent(), map[string]any{"bizLocation": nil})}},
		// Field boundaries matter: "rp"+"loc" must not hash like "rpl"+"oc".
		{"epcis shifted boundary", [][]byte{withFields(t, baseEvent(), map[string]any{"readPoint": map[string]any{"id": "rpl"}, "bizLocation": map[string]any{"id": "oc"}})}},
		{"read", [][]byte{
			withFields(t, baseRead(), nil),
			withFields(t, baseRead(), map[string]any{"epc": "CSQU3054383", "rssi": -70}),
			withFields(t, baseRead(), map[string]any{"t": 1795334400000}),
		}},
		{"read reader", [][]byte{withFields(t, baseRead(), map[string]any{"reader": "BLCT-GATE-L2"})}},
		{"read antenna", [][]byte{withFields(t, baseRead(), map[string]any{"antenna": 3})}},
		{"read no antenna", [][]byte{withFields(t, baseRead(), map[string]any{"antenna": nil})}},
		{"read container", [][]byte{withFields(t, baseRead(), map[string]any{"epc": "APZU4812090"})}},
		{"read time", [][]byte{withFields(t, baseRead(), map[string]any{"t": 1795334400001})}},
		{"read dir", [][]byte{withFields(t, baseRead(), map[string]any{"dir": "out"})}},
	}
	seen := make(map[string]string)
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			want := id(t, g.values[0])
			for i, v := range g.values {
				for range 2 { // redelivery
					if got := id(t, v); got != want {
						t.Errorf("value %d: ID %s, want %s", i, got, want)
					}
				}
			}
			if other, ok := seen[want]; ok {
				t.Errorf("ID %s also produced by group %s", want, other)
			}
			seen[want] = g.name
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		readers map[string]Reader
		wantErr string // substring; "" for valid
	}{
		{"default table", DefaultReaders(), ""},
		{"empty table", nil, ""},
		{"no facility", map[string]Reader{"G1": {}, "G2": {Facility: "F"}}, `reader "G1"`},
		{"bad event", map[string]Reader{"G1": {Facility: "F", Event: "ARRI"}}, `reader "G1"`},
		{"bad event names the codes", map[string]Reader{"G1": {Facility: "F", Event: "ARRI"}}, `"ARRI" is not one of GTIN, GTOT, LOAD, DISC, INSP, HOLD, STOR`},
		{"yard stacker", map[string]Reader{"YS1": {Facility: "CNNGB-BLCT-YARD-C", Event: "STOR"}}, ""},
		{"empty id", map[string]Reader{"": {Facility: "F"}}, `reader ""`},
		{"long id", map[string]Reader{strings.Repeat("r", state.MaxFieldLen+1): {Facility: "F"}}, "id longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Readers: tt.readers}
			err := cfg.Validate()
			_, nerr := NewDecoder(cfg)
			switch {
			case tt.wantErr == "" && (err != nil || nerr != nil):
				t.Fatalf("Validate() = %v, NewDecoder error %v, want nil", err, nerr)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			case tt.wantErr != "" && nerr == nil:
				t.Fatal("NewDecoder accepted an invalid config")
			}
		})
	}
}

func TestNewDecoderCopiesReaders(t *testing.T) {
	readers := map[string]Reader{"G1": {Facility: "F", Event: "GTIN"}}
	d, err := NewDecoder(Config{Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	readers["G1"] = Reader{Facility: "changed", Event: "GTOT"}
	e := mustDecode(t, d, []byte(`{"reader":"G1","epc":"CSQU3054383","t":1795334400000}`))[0]
	if e.Location != "F" || e.Code != state.CodeGTIN {
		t.Fatalf("got %+v after changing the config", e)
	}
}

func TestDecodeLinks(t *testing.T) {
	doc := `{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-11-22T08:00:00Z","eventTimeZoneOffset":"+08:00",
	"epcList":["urn:epc:id:bic:CSQU3054383"],"bizStep":"arriving",
	"bizTransactionList":[{"type":"https://ref.gs1.org/cbv/BTT-bol","bizTransaction":"BL-1"},{"type":"bkg","bizTransaction":"BKG-9"},{"type":"po","bizTransaction":"PO-3"}],
	"sourceList":[{"type":"urn:epcglobal:cbv:sdt:owning_party","source":"PARTY-A"},{"type":"location","source":"LOC"}],
	"destinationList":[{"type":"possessing_party","destination":"PARTY-B"}]}`
	got := mustDecode(t, newTestDecoder(t), []byte(doc))
	want := []state.Ref{{Kind: state.LinkTransport, Value: "BL-1"}, {Kind: state.LinkBooking, Value: "BKG-9"},
		{Kind: state.LinkParty, Value: "PARTY-A"}, {Kind: state.LinkParty, Value: "PARTY-B"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Refs, want) {
		t.Fatalf("refs = %+v, want %+v", got, want)
	}
	bad := strings.Replace(doc, `"bizTransactionList":[`, `"bizTransactionList":[7,`, 1)
	if _, err := newTestDecoder(t).Decode(nil, []byte(bad)); decode.Reason(err) != decode.ReasonBadField {
		t.Fatalf("err = %v, want %s", err, decode.ReasonBadField)
	}
}

// TestDecodeTimeZoneOffset: an EPCIS eventTimeZoneOffset that is not
// ±hh:mm within ±14:00 is a bad_time dead letter, not ignored; a valid one
// (or none) decodes.
func TestDecodeTimeZoneOffset(t *testing.T) {
	doc := func(off string) []byte {
		return []byte(`{"type":"ObjectEvent","action":"OBSERVE","eventTime":"2026-11-22T08:00:00Z",` + off +
			`"epcList":["urn:epc:id:bic:CSQU3054383"],"bizStep":"arriving"}`)
	}
	for _, off := range []string{``, `"eventTimeZoneOffset":"+08:00",`, `"eventTimeZoneOffset":"-14:00",`, `"eventTimeZoneOffset":"+14:00",`,
		`"eventTimeZoneOffset":"+00:00",`, `"eventTimeZoneOffset":"-03:30",`, `"eventTimeZoneOffset":"+05:45",`} {
		if _, err := newTestDecoder(t).Decode(nil, doc(off)); err != nil {
			t.Errorf("%s: %v", off, err)
		}
	}
	for _, off := range []string{`"eventTimeZoneOffset":"+14:01",`, `"eventTimeZoneOffset":"-15:00",`, `"eventTimeZoneOffset":"+8:00",`,
		`"eventTimeZoneOffset":"08:00",`, `"eventTimeZoneOffset":"+08:60",`, `"eventTimeZoneOffset":"+0800",`, `"eventTimeZoneOffset":"Z",`,
		`"eventTimeZoneOffset":"",`, `"eventTimeZoneOffset":"+08:00 ",`, `"eventTimeZoneOffset":"+ 8:00",`, `"eventTimeZoneOffset":8,`,
		`"eventTimeZoneOffset":"+99:99",`, `"eventTimeZoneOffset":"+٠٨:٠٠",`} {
		if _, err := newTestDecoder(t).Decode(nil, doc(off)); decode.Reason(err) != decode.ReasonBadTime {
			t.Errorf("%s: err = %v, want %s", off, err, decode.ReasonBadTime)
		}
	}
}
