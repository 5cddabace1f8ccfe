package query

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

func at(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

// TestTrainRoutes (guard clock 10:40, the newest record): two departures of one service from Beilun rail station,
// one box on track (at the station), one at risk (not discharged, no truck
// appointment, late), a truck on its way to the station gate.
func TestTrainRoutes(t *testing.T) {
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const st = "beilun-rail-station"
	b := state.Batch{Topic: "port.transport", Next: 1,
		Plans: []state.Plan{
			{Mode: state.ModeRail, ID: "X8417", Service: "YW", From: st, To: "CNYIW", Departure: at(t, "2026-11-22T20:00:00Z"), Cutoff: at(t, "2026-11-22T18:00:00Z"),
				Wagons: []state.Wagon{{ID: "W1", Containers: []string{"MSKU9070323"}}, {ID: "W2", Containers: []string{"CSQU3054383"}}}, Time: at(t, "2026-11-22T06:00:00Z")},
			{Mode: state.ModeRail, ID: "X8419", Service: "YW", From: st, To: "CNYIW", Departure: at(t, "2026-11-23T20:00:00Z"), Cutoff: at(t, "2026-11-23T18:00:00Z"),
				Wagons: []state.Wagon{{ID: "W1"}}, Time: at(t, "2026-11-22T06:00:00Z")},
		},
		Events:   []state.Event{{ID: "e1", Container: "MSKU9070323", Code: state.CodeGTIN, Time: at(t, "2026-11-22T10:00:00Z"), Location: st, Source: "test"}},
		Waybills: []state.Waybill{{ID: "WB1", Plate: "浙B12345", Containers: []string{"MSKU9070323"}, To: st, Gate: "nbct-gate", ApptStart: at(t, "2026-11-22T11:00:00Z"), ApptEnd: at(t, "2026-11-22T12:00:00Z"), Time: at(t, "2026-11-22T10:30:00Z")}},
		Trucks:   []state.TruckReport{{Plate: "浙B12345", Time: at(t, "2026-11-22T10:40:00Z"), Lat: 29.93, Lon: 121.86, SpeedKmh: 36, Heading: 90}},
	}
	if _, err := store.Apply(&b); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: store, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, map[string]any) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("localhost") // the open API answers loopback names only
		srv.Handler()(&ctx)
		var m map[string]any
		if err := json.Unmarshal(ctx.Response.Body(), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, ctx.Response.Body())
		}
		return ctx.Response.StatusCode(), m
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	code, m := get("/v1/trains/X8417")
	if code != 200 {
		t.Fatalf("train: %d %v", code, m)
	}
	if got := js(m["counts"]); got != `{"at_risk":1,"missed":0,"on_track":1}` {
		t.Errorf("counts %s", got)
	}
	wagons := m["wagons"].([]any)
	w2 := wagons[1].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if w2["container"] != "CSQU3054383" || w2["verdict"] != "at_risk" ||
		js(w2["reasons"]) != `[{"code":"not_discharged","message":"not yet discharged from its vessel"},{"code":"no_truck_appointment","message":"must be trucked to the station and has no truck appointment"},{"code":"late","message":"expected ready after the cutoff"}]` {
		t.Errorf("wagon W2: %s", js(w2))
	}
	w1 := wagons[0].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if w1["verdict"] != "on_track" || js(w1["reasons"]) != `[]` || w1["expected_ready"] != "2026-11-22T11:40:00Z" {
		t.Errorf("wagon W1: %s", js(w1))
	}
	if next := m["next_departure"].(map[string]any); next["id"] != "X8419" || next["time"] != "2026-11-23T20:00:00Z" {
		t.Errorf("next departure %s", js(next))
	}

	if code, m := get("/v1/trains/X9999"); code != 404 {
		t.Errorf("unknown train: %d %v", code, m)
	}
	if code, m := get("/v1/barges/X8417"); code != 404 {
		t.Errorf("a train is not a barge: %d %v", code, m)
	}
	code, m = get("/v1/trains?station=" + st + "&from=2026-11-22T00:00:00Z&departing_within=48h")
	if code != 200 || len(m["trains"].([]any)) != 2 || m["trains"].([]any)[0].(map[string]any)["id"] != "X8417" {
		t.Errorf("trains from the station: %d %s", code, js(m))
	}
	code, m = get("/v1/trains?station=" + st + "&from=2026-11-22T00:00:00Z&departing_within=24h")
	if code != 200 || len(m["trains"].([]any)) != 1 {
		t.Errorf("trains within 24h: %d %s", code, js(m))
	}
	for _, bad := range []string{"/v1/trains", "/v1/trains?station=" + st + "&departing_within=soon", "/v1/trains?station=" + st + "&from=yesterday",
		"/v1/connections?station=" + st + "&verdict=fine", "/v1/connections?station=" + st + "&mode=plane", "/v1/trains?station=" + st + "&departing_within=-1h"} {
		if code, m := get(bad); code != 400 || m["error"].(map[string]any)["code"] != "bad_parameter" {
			t.Errorf("%s: %d %v", bad, code, m)
		}
	}
	code, m = get("/v1/connections?station=" + st + "&from=2026-11-22T00:00:00Z&departing_within=48h&verdict=at_risk")
	conns := m["connections"].([]any)
	if code != 200 || len(conns) != 1 || conns[0].(map[string]any)["container"] != "CSQU3054383" || conns[0].(map[string]any)["departure"].(map[string]any)["id"] != "X8417" {
		t.Errorf("at-risk connections: %d %s", code, js(m))
	}

	code, m = get("/v1/gates/nbct-gate/arrivals?from=2026-11-22T10:00:00Z&within=4h")
	arr := m["arrivals"].([]any)
	if code != 200 || m["located"] != true || len(arr) != 1 {
		t.Fatalf("arrivals: %d %s", code, js(m))
	}
	a := arr[0].(map[string]any)
	if a["plate"] != "浙B12345" || a["distance_m"] == nil || a["eta"] == nil || !strings.HasPrefix(js(a["position"]), `{"lat":29.93`) {
		t.Errorf("arrival %s", js(a))
	}
	if code, m := get("/v1/gates/nbct-gate/arrivals?from=2026-11-22T13:00:00Z&within=1h"); code != 200 || len(m["arrivals"].([]any)) != 0 {
		t.Errorf("no arrivals after the window: %d %s", code, js(m))
	}
}
