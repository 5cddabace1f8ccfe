package query

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// dcsaSpec is the DCSA Track & Trace 2.2 OpenAPI document, in the
// repository's testdata (testdata/README.md).
var dcsaSpec = filepath.Join("..", "testdata", "dcsa", "TNT_v2.2.0-resolved.yaml")

type specValidator struct {
	router routers.Router
}

func loadSpec(t *testing.T) *specValidator {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(dcsaSpec)
	if err != nil {
		t.Fatalf("load %s: %v", dcsaSpec, err)
	}
	// The spec's own examples do not validate (a SHIPMENT example lacks
	// eventClassifierCode) and its array parameters have string defaults
	// ("RECE,DRFT,..."): check the schemas, not the examples and defaults.
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if err != nil {
		t.Fatal(err)
	}
	return &specValidator{router: r}
}

// check validates a request and its answer against the spec: status,
// every declared header and the body.
func (v *specValidator) check(t *testing.T, method, uri string, status int, h *fasthttp.ResponseHeader, body []byte) {
	t.Helper()
	v.checkWithBody(t, method, uri, nil, status, h, body)
}

// checkWithBody is check for a request with a body (JSON).
func (v *specValidator) checkWithBody(t *testing.T, method, uri string, reqBody []byte, status int, h *fasthttp.ResponseHeader, body []byte) {
	t.Helper()
	req := httptest.NewRequest(method, uri, bytes.NewReader(reqBody))
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no route in the spec: %v", method, uri, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true}}
	if status < 400 {
		// The request itself must be valid when the server accepted it
		// (eventCreatedDateTime:<op> names are not declared by the spec
		// and are ignored by the validator).
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: request invalid per spec: %v", method, uri, err)
		}
	}
	hdr := http.Header{}
	h.VisitAll(func(k, val []byte) { hdr.Add(string(k), string(val)) })
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: hdr,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: %d response invalid per spec: %v\n%s", method, uri, status, err, body)
	}
	if got := hdr.Get("API-Version"); got != dcsaAPIVersion {
		t.Errorf("%s %s: API-Version %q, want %q", method, uri, got, dcsaAPIVersion)
	}
}

type dcsaEv map[string]any

func (e dcsaEv) s(k string) string { v, _ := e[k].(string); return v }
func (e dcsaEv) box() string {
	if b := e.s("equipmentReference"); b != "" {
		return b
	}
	return e.s("documentID")
}
func (e dcsaEv) created(t *testing.T) time.Time {
	ts, err := time.Parse(time.RFC3339Nano, e.s("eventCreatedDateTime"))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
func (e dcsaEv) call() map[string]any { m, _ := e["transportCall"].(map[string]any); return m }

func ids(evs []dcsaEv) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.s("eventID")
	}
	return out
}

// get fetches one /v2/events URI, validates it and decodes the page.
func (f *dcsaFixture) page(t *testing.T, v *specValidator, uri, key string) ([]dcsaEv, *fasthttp.ResponseHeader) {
	t.Helper()
	code, h, body := f.do(t, "GET", uri, key, nil)
	v.check(t, "GET", uri, code, h, body)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", uri, code, body)
	}
	var evs []dcsaEv
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("GET %s: %v", uri, err)
	}
	return evs, h
}

// TestDCSAEventsConformance requests /v2/events with every filter and walks
// every page of each answer forwards and backwards, validating each status,
// header and body against the OpenAPI document and each result against a
// filter applied to the full list.
func TestDCSAEventsConformance(t *testing.T) {
	f := newDCSAFixture(t, false)
	v := loadSpec(t)
	all, _ := f.page(t, v, "/v2/events?limit=1000", keyPort)
	if len(all) != 36+2 {
		t.Fatalf("%d events, want 36 container events and ARRI, DEPA", len(all))
	}
	var arri dcsaEv
	for _, e := range all {
		if e.s("transportEventTypeCode") == "ARRI" {
			arri = e
		}
	}
	if arri == nil {
		t.Fatal("no ARRI event")
	}
	mid := all[len(all)/2].created(t)
	midS := mid.Format(time.RFC3339Nano)
	midPlus8 := mid.In(time.FixedZone("", 8*3600)).Format(time.RFC3339) // same instant, another offset
	inA := func(e dcsaEv) bool { return slices.Contains(boxesA, e.box()) }
	typ := func(ts ...string) func(dcsaEv) bool {
		return func(e dcsaEv) bool { return slices.Contains(ts, e.s("eventType")) }
	}
	code := func(field string, cs ...string) func(dcsaEv) bool {
		return func(e dcsaEv) bool { return slices.Contains(cs, e.s(field)) }
	}
	none := func(dcsaEv) bool { return false }
	cases := []struct {
		query    string
		want     func(dcsaEv) bool
		nonEmpty bool
	}{
		{"", func(dcsaEv) bool { return true }, true},
		{"eventType=EQUIPMENT", typ("EQUIPMENT"), true},
		{"eventType=SHIPMENT,TRANSPORT", typ("SHIPMENT", "TRANSPORT"), true},
		{"shipmentEventTypeCode=HOLD", code("shipmentEventTypeCode", "HOLD"), true},
		{"shipmentEventTypeCode=RELS,CONF", none, false},
		{"documentTypeCode=CUS", code("documentTypeCode", "CUS"), true},
		{"documentTypeCode=BKG", none, false},
		{"carrierBookingReference=BKG-A", inA, true},
		{"bookingReference=BKG-A", inA, true},
		{"carrierBookingReference=BKG-Z", none, false},
		{"transportDocumentReference=TD-A", func(e dcsaEv) bool { return e.box() == boxesA[0] }, true},
		{"transportEventTypeCode=ARRI", code("transportEventTypeCode", "ARRI"), true},
		{"transportEventTypeCode=ARRI,DEPA", typ("TRANSPORT"), true},
		{"transportCallID=" + url.QueryEscape(arri.call()["transportCallID"].(string)), func(e dcsaEv) bool {
			return e.call() != nil && e.call()["transportCallID"] == arri.call()["transportCallID"]
		}, true},
		{"vesselIMONumber=9321483", typ("TRANSPORT"), true},
		{"vesselIMONumber=9176187", none, false},
		{"exportVoyageNumber=2301W", none, false},
		{"carrierVoyageNumber=2301W", none, false},
		{"carrierServiceCode=FE1", none, false},
		{"scheduleID=7f2d833c-2c7f-4fc5-a71a-e510881da64a", none, false},
		{"transportDocumentID=7f2d833c-2c7f-4fc5-a71a-e510881da64a", none, false},
		{"UNLocationCode=CNNGB", func(dcsaEv) bool { return true }, true},
		{"UNLocationCode=CNSHA", none, false},
		{"equipmentEventTypeCode=GTIN,GTOT", code("equipmentEventTypeCode", "GTIN", "GTOT"), true},
		{"equipmentReference=MSKU9070323", func(e dcsaEv) bool { return e.box() == "MSKU9070323" }, true},
		{"equipmentReference=MSKU9070323&eventType=EQUIPMENT", func(e dcsaEv) bool {
			return e.box() == "MSKU9070323" && e.s("eventType") == "EQUIPMENT"
		}, true},
		{"eventType=SHIPMENT&equipmentEventTypeCode=LOAD", none, false},
		{"eventCreatedDateTime:gte=" + url.QueryEscape(midS), func(e dcsaEv) bool { return !e.created(t).Before(mid) }, true},
		{"eventCreatedDateTime:gt=" + url.QueryEscape(midPlus8), func(e dcsaEv) bool { return e.created(t).After(mid) }, true},
		{"eventCreatedDateTime:lte=" + url.QueryEscape(midS), func(e dcsaEv) bool { return !e.created(t).After(mid) }, true},
		{"eventCreatedDateTime:lt=" + url.QueryEscape(midS), func(e dcsaEv) bool { return e.created(t).Before(mid) }, true},
		{"eventCreatedDateTime:eq=" + url.QueryEscape(midS), func(e dcsaEv) bool { return e.created(t).Equal(mid) }, true},
		{"eventCreatedDateTime=" + url.QueryEscape(midS), func(e dcsaEv) bool { return e.created(t).Equal(mid) }, true},
		{"eventCreatedDateTime:gt=" + url.QueryEscape(midS) + "&eventCreatedDateTime:lt=" + url.QueryEscape(midS), none, false},
		{"sort=eventCreatedDateTime:DESC&eventType=EQUIPMENT", typ("EQUIPMENT"), true},
		{"sort=eventCreatedDateTime:ASC", func(dcsaEv) bool { return true }, true},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var want []dcsaEv
			for _, e := range all {
				if c.want(e) {
					want = append(want, e)
				}
			}
			if strings.Contains(c.query, "DESC") {
				slices.Reverse(want)
			}
			if c.nonEmpty != (len(want) > 0) {
				t.Fatalf("fixture gives %d events for %s", len(want), c.query)
			}
			sep := "?"
			if c.query != "" {
				sep = "?" + c.query + "&"
			}
			got, _ := f.page(t, v, "/v2/events"+sep+"limit=1000", keyPort)
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("got %d events %v\nwant %d %v", len(got), ids(got), len(want), ids(want))
			}
			// Forwards through pages of 4, then backwards from the last.
			uri := "/v2/events" + sep + "limit=4"
			var fwd []dcsaEv
			var last string
			pages := 0
			for uri != "" {
				evs, h := f.page(t, v, uri, keyPort)
				if len(evs) > 4 || (len(evs) == 0 && len(want) > 0) {
					t.Fatalf("page %s has %d events", uri, len(evs))
				}
				if len(h.Peek("Current-Page")) == 0 || len(h.Peek("First-Page")) == 0 {
					t.Fatalf("page %s lacks Current-Page or First-Page", uri)
				}
				if pages > 0 && len(h.Peek("Prev-Page")) == 0 {
					t.Fatalf("page %d lacks Prev-Page", pages)
				}
				fwd = append(fwd, evs...)
				last = uri
				uri = ""
				if n := h.Peek("Next-Page"); len(n) > 0 {
					uri = "/v2/events?cursor=" + string(n)
				}
				pages++
				if pages > 20 {
					t.Fatal("more pages than events")
				}
			}
			if !slices.Equal(ids(fwd), ids(want)) {
				t.Fatalf("forward pages %v\nwant %v", ids(fwd), ids(want))
			}
			var back []dcsaEv
			uri = last
			for uri != "" {
				evs, h := f.page(t, v, uri, keyPort)
				back = append(slices.Clone(evs), back...)
				uri = ""
				if p := h.Peek("Prev-Page"); len(p) > 0 {
					uri = "/v2/events?cursor=" + string(p)
				}
				if len(back) > len(want) {
					t.Fatalf("backward pages overrun: %v", ids(back))
				}
			}
			if !slices.Equal(ids(back), ids(want)) {
				t.Fatalf("backward pages %v\nwant %v", ids(back), ids(want))
			}
			_, h := f.page(t, v, "/v2/events"+sep+"limit=4", keyPort)
			lastPage, _ := f.page(t, v, "/v2/events?cursor="+string(h.Peek("Last-Page")), keyPort)
			if n := min(4, len(want)); !slices.Equal(ids(lastPage), ids(want[len(want)-n:])) {
				t.Fatalf("Last-Page %v, want %v", ids(lastPage), ids(want[len(want)-n:]))
			}
		})
	}

	// Every event by its id.
	for _, e := range all {
		uri := "/v2/events/" + e.s("eventID")
		code, h, body := f.do(t, "GET", uri, keyPort, nil)
		v.check(t, "GET", uri, code, h, body)
		var got dcsaEv
		if code != 200 || json.Unmarshal(body, &got) != nil || got.s("eventID") != e.s("eventID") {
			t.Fatalf("GET %s = %d %s", uri, code, body)
		}
	}

	// Errors carry the spec's error body.
	for _, c := range []struct {
		uri, key string
		status   int
		header   [2]string
	}{
		{"/v2/events?limit=0", keyPort, 400, [2]string{}},
		{"/v2/events?limit=x", keyPort, 400, [2]string{}},
		{"/v2/events?eventType=BOAT", keyPort, 400, [2]string{}},
		{"/v2/events?equipmentEventTypeCode=FLY", keyPort, 400, [2]string{}},
		{"/v2/events?eventCreatedDateTime:after=2026-01-01T00:00:00Z", keyPort, 400, [2]string{}},
		{"/v2/events?eventCreatedDateTime:gte=yesterday", keyPort, 400, [2]string{}},
		{"/v2/events?sort=eventDateTime:ASC", keyPort, 400, [2]string{}},
		{"/v2/events?nosuchfilter=1", keyPort, 400, [2]string{}},
		{"/v2/events?cursor=!!!", keyPort, 400, [2]string{}},
		{"/v2/events", keyPort, 400, [2]string{"API-Version", "3"}},
		{"/v2/events", "", 401, [2]string{}},
		{"/v2/events", "not-a-known-key-at-all", 401, [2]string{}},
		{"/v2/events/7f2d833c-2c7f-4fc5-a71a-e510881da64a", keyPort, 404, [2]string{}},
	} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://porttrack" + c.uri)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		if c.header[0] != "" {
			req.Header.Set(c.header[0], c.header[1])
		}
		if err := f.client.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != c.status {
			t.Errorf("GET %s = %d, want %d: %s", c.uri, resp.StatusCode(), c.status, resp.Body())
		}
		var e struct {
			StatusCode int    `json:"statusCode"`
			RequestURI string `json:"requestUri"`
			HTTPMethod string `json:"httpMethod"`
			Errors     []struct {
				Reason, Message string
			} `json:"errors"`
		}
		if err := json.Unmarshal(resp.Body(), &e); err != nil || e.StatusCode != c.status || e.RequestURI != c.uri || e.HTTPMethod != "GET" || len(e.Errors) != 1 || e.Errors[0].Message == "" {
			t.Errorf("GET %s: error body %s", c.uri, resp.Body())
		}
		h := new(fasthttp.ResponseHeader)
		resp.Header.CopyTo(h)
		v.check(t, "GET", strings.ReplaceAll(c.uri, "!", "%21"), resp.StatusCode(), h, bytes.Clone(resp.Body()))
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}

// TestDCSALegEvents: rail legs appear in /v2/events as EQUIPMENT LOAD with a
// RAIL transport call and TRANSPORT DEPA/ARRI of the train, valid against
// the OpenAPI document; a repeated rail event logs nothing more.
func TestDCSALegEvents(t *testing.T) {
	f := newDCSAFixture(t, false)
	v := loadSpec(t)
	before, _ := f.page(t, v, "/v2/events?limit=1000", keyPort)
	box := boxesA[0]
	at := func(h int) int64 { return f.t0.Add(time.Duration(h) * time.Hour).UnixNano() }
	load := state.PlanEvent{Mode: state.ModeRail, Plan: "X8417", Station: "beilun-rail-station", Event: state.PlanLoaded, Wagon: "W1", Container: box, Time: at(15)}
	for i, b := range []state.Batch{
		{Plans: []state.Plan{{Mode: state.ModeRail, ID: "X8417", From: "beilun-rail-station", To: "CNYIW", Departure: at(20), Cutoff: at(18), Time: at(6),
			Wagons: []state.Wagon{{ID: "W1", Containers: []string{box}}}}}},
		{PlanEvents: []state.PlanEvent{load, load}}, // sent twice
		{PlanEvents: []state.PlanEvent{{Mode: state.ModeRail, Plan: "X8417", Station: "beilun-rail-station", Event: state.PlanDeparted, Time: at(20)}}},
	} {
		b.Topic, b.Next = "port.transport", int64(i+1)
		if _, err := f.store.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := f.page(t, v, "/v2/events?limit=1000", keyPort)
	added := all[len(before):]
	if len(added) != 2 {
		t.Fatalf("%d events added, want LOAD and DEPA: %v", len(added), added)
	}
	if e := added[0]; e.s("equipmentEventTypeCode") != "LOAD" || e.box() != box || e.call()["modeOfTransport"] != "RAIL" ||
		e.call()["transportCallID"] != "X8417" || e.call()["facilityTypeCode"] != "RAMP" {
		t.Errorf("rail load event %v", e)
	}
	if e := added[1]; e.s("transportEventTypeCode") != "DEPA" || e.call()["modeOfTransport"] != "RAIL" || e.call()["otherFacility"] != "beilun-rail-station" {
		t.Errorf("train departure event %v", e)
	}
	// A truck leg: a waybill for the box, then the truck reports carrying
	// it (LOAD) and drops it (DISC); a terminal tractor's ride is no leg.
	next := int64(10)
	for _, b := range []state.Batch{
		{Waybills: []state.Waybill{{ID: "WB1", Plate: "浙B12345", Containers: []string{box}, From: "CNNGB-BLCT", To: "beilun-rail-station", Time: at(9)}}},
		{Trucks: []state.TruckReport{{Plate: "浙B12345", Time: at(10), Lat: 29.93, Lon: 121.86, SpeedKmh: 30, Heading: 90, Container: box}}},
		{Trucks: []state.TruckReport{{Plate: "浙B12345", Time: at(11), Lat: 29.94, Lon: 121.87, SpeedKmh: 0, Heading: 90}}},
		{Trucks: []state.TruckReport{{Plate: "BLCT-T12", Time: at(12), Lat: 29.93, Lon: 121.86, SpeedKmh: 10, Heading: 0, Container: box}}},
	} {
		b.Topic, b.Next = "port.transport", next
		next++
		if _, err := f.store.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	all2, _ := f.page(t, v, "/v2/events?limit=1000", keyPort)
	trucks := all2[len(all):]
	if len(trucks) != 2 || trucks[0].s("equipmentEventTypeCode") != "LOAD" || trucks[1].s("equipmentEventTypeCode") != "DISC" ||
		trucks[0].call()["modeOfTransport"] != "TRUCK" || trucks[0].call()["transportCallID"] != "浙B12345" {
		t.Errorf("truck leg events %v", trucks)
	}
	// The box's tenant sees its rail load through its booking.
	mine, _ := f.page(t, v, "/v2/events?equipmentEventTypeCode=LOAD&limit=1000", keyA)
	found := false
	for _, e := range mine {
		found = found || e.call()["modeOfTransport"] == "RAIL"
	}
	if !found {
		t.Errorf("tenant a does not see the rail load of its box %s", box)
	}
}
