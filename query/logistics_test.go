package query

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// What a logistics tenant sees of the lists and of its fences. Besides the
// DCSA fixture's boxes, tenants A and B have three boxes each (linked to
// BKG-A and PARTY-B) that gated in to yard block C two days before the
// fixture's events, a minute apart, A's and B's j-th box together: the
// first of each tenant is then held by customs, the second released, and
// the third rides a truck into a square fence that each tenant (and the
// port) defines over the same ground, next to an empty truck and a vessel.

const (
	plateA     = "浙B10001" // carries yardA[2]
	plateB     = "浙B20002" // carries yardB[2]
	plateEmpty = "浙B30003"
	fenceMMSI  = 413000077
	squareJSON = `{"type":"Feature","properties":{"kind":"customer_zone"},"geometry":{"type":"Polygon","coordinates":[[[121.85,29.92],[121.86,29.92],[121.86,29.93],[121.85,29.93],[121.85,29.92]]]}}`
)

var yardA, yardB = yardBoxes("YRDU", 3), yardBoxes("YRBU", 3)

func yardBoxes(owner string, n int) []string {
	var out []string
	for i := range n {
		s := fmt.Sprintf("%s%06d", owner, 100+i)
		out = append(out, s+string(state.ContainerCheckDigit(s)))
	}
	return out
}

// addTenantYard loads the data above into the fixture.
func (f *dcsaFixture) addTenantYard(t *testing.T) {
	t.Helper()
	for _, key := range []string{keyA, keyB, keyNone, keyPort} {
		if code, _, body := f.do(t, "PUT", "/v1/geofences/square", key, []byte(squareJSON)); code != 201 {
			t.Fatalf("PUT fence: %d %s", code, body)
		}
	}
	gateIn := f.t0.Add(-48 * time.Hour)
	var evs []state.Event
	for j := range yardA {
		for i, box := range []string{yardA[j], yardB[j]} {
			ref := state.Ref{Kind: state.LinkBooking, Value: "BKG-A"}
			if i == 1 {
				ref = state.Ref{Kind: state.LinkParty, Value: "PARTY-B"}
			}
			evs = append(evs, state.Event{ID: "yard-" + box, Container: box, Code: state.CodeGTIN, Refs: []state.Ref{ref},
				Time: gateIn.Add(time.Duration(j) * time.Minute).UnixNano(), Location: "CNNGB-BLCT-YARD-C", ReadPoint: "YS-02", Source: "test"})
		}
	}
	var docs []state.CustomsDoc
	for i, c := range []struct{ box, ev string }{
		{yardA[0], "held"}, {yardB[0], "held"}, {yardA[1], "released"}, {yardB[1], "released"},
	} {
		docs = append(docs, state.CustomsDoc{Type: "container", ID: fmt.Sprintf("cu%d", i), Time: gateIn.Add(time.Hour).UnixNano(),
			Box: &state.ContainerCustomsEvent{Container: c.box, Event: c.ev, HoldKind: "customs", Reason: "test"}})
	}
	truck := func(plate string, box string) state.TruckReport {
		return state.TruckReport{Plate: plate, Time: gateIn.Add(2 * time.Hour).UnixNano(), Lat: 29.925, Lon: 121.855,
			SpeedKmh: state.UnknownFloat, Heading: state.UnknownInt, Container: box}
	}
	vessel := state.VesselReport{MMSI: fenceMMSI, Time: gateIn.Add(2 * time.Hour).UnixNano(), MsgType: 1, HasPosition: true, Lat: 29.926, Lon: 121.856,
		Speed: 0.1, Course: state.UnknownFloat, Heading: state.UnknownInt, Status: 5, Turn: state.UnknownTurn, ShipType: state.UnknownInt,
		ToBow: state.UnknownInt, ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt}
	for _, b := range []*state.Batch{
		{Topic: "port.rfid", Next: 100, Events: evs},
		{Topic: "port.customs", Next: 1, Customs: docs},
		{Topic: "port.transport", Next: 1, Trucks: []state.TruckReport{truck(plateA, yardA[2]), truck(plateB, yardB[2]), truck(plateEmpty, "")}},
		{Topic: "port.ais", Next: 100, Vessels: []state.VesselReport{vessel}},
	} {
		if _, err := f.store.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
}

// listValues returns the values of key in a JSON body's objects, in order.
func listValues(t *testing.T, body []byte, list, key string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var items []map[string]any
	if err := json.Unmarshal(m[list], &items); err != nil {
		t.Fatalf("%s: %v: %s", list, err, body)
	}
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it[key]))
	}
	return out
}

// TestLogisticsContainerLists: each tenant's container lists (at a place,
// now and at a past time, by dwell, held and released by customs) hold its
// own boxes only, page by page with a cursor, with the count of its boxes;
// the port sees every box.
func TestLogisticsContainerLists(t *testing.T) {
	f := newDCSAFixture(t, false)
	f.addTenantYard(t)
	sorted := func(l []string) []string { l = slices.Clone(l); slices.Sort(l); return l }
	all := append(slices.Clone(yardA), yardB...)
	past := f.t0.Add(-47 * time.Hour).Format(time.RFC3339)
	for _, c := range []struct {
		key  string
		want []string // every box of the list, in the list's order
	}{
		{keyA, yardA}, {keyB, yardB}, {keyNone, nil}, {keyPort, all},
	} {
		for _, l := range []struct {
			uri, list, id string
			want          []string
		}{
			{"/v1/containers?facility=nbct-yard-c&count=true", "containers", "id", sorted(c.want)},
			{"/v1/containers?facility=nbct-yard-c&count=true&at=" + past, "containers", "id", sorted(c.want)},
			// Longest dwell first: the boxes gated in a minute apart, A's
			// and B's j-th box at the same time.
			{"/v1/containers?dwell_gt=1h&count=true", "containers", "id", dwellOrder(c.want)},
			{"/v1/customs/holds", "holds", "container", sorted(slices.DeleteFunc(slices.Clone(c.want), func(b string) bool { return b != yardA[0] && b != yardB[0] }))},
			{"/v1/customs/released", "containers", "container", sorted(slices.DeleteFunc(slices.Clone(c.want), func(b string) bool { return b != yardA[1] && b != yardB[1] }))},
		} {
			var got []string
			cursor, pages := "", 0
			for {
				uri := l.uri + "&limit=1&cursor=" + cursor
				if !strings.Contains(l.uri, "?") {
					uri = l.uri + "?limit=1&cursor=" + cursor
				}
				code, _, body := f.do(t, "GET", uri, c.key, nil)
				if code != 200 {
					t.Fatalf("%s as %s: %d %s", uri, c.key, code, body)
				}
				got = append(got, listValues(t, body, l.list, l.id)...)
				var page struct {
					Next  string `json:"next_cursor"`
					Count *int   `json:"count"`
				}
				if err := json.Unmarshal(body, &page); err != nil {
					t.Fatal(err)
				}
				if page.Count != nil && *page.Count != len(l.want) {
					t.Errorf("%s as %s: count %d, want %d", uri, c.key, *page.Count, len(l.want))
				}
				if pages++; page.Next == "" || pages > 10 {
					break
				}
				cursor = page.Next
			}
			if strings.Join(got, " ") != strings.Join(l.want, " ") {
				t.Errorf("%s as %s: %v, want %v", l.uri, c.key, got, l.want)
			}
			if pages != max(len(l.want), 1) {
				t.Errorf("%s as %s: %d pages of 1 for %d boxes (a page ends only when another of the caller's boxes follows)", l.uri, c.key, pages, len(l.want))
			}
		}
	}
	// Orders stay with the port and customs roles.
	if code, _, body := f.do(t, "GET", "/v1/orders", keyA, nil); code != 403 {
		t.Errorf("orders as a logistics tenant: %d %s", code, body)
	}
}

// dwellOrder orders boxes as the dwell list of the fixture does: the j-th
// boxes of A and B gated in together, in container order.
func dwellOrder(boxes []string) []string {
	var out []string
	for j := range yardA {
		var same []string
		for _, b := range []string{yardA[j], yardB[j]} {
			if slices.Contains(boxes, b) {
				same = append(same, b)
			}
		}
		slices.Sort(same)
		out = append(out, same...)
	}
	return out
}

// TestLogisticsFenceInside: the objects inside a tenant's fence are those
// its key may see: its boxes, trucks carrying one of them, every vessel.
func TestLogisticsFenceInside(t *testing.T) {
	f := newDCSAFixture(t, false)
	f.addTenantYard(t)
	for _, c := range []struct {
		key  string
		want string
	}{
		{keyA, "container:" + yardA[2] + " truck:" + plateA + " vessel:413000077"},
		{keyB, "container:" + yardB[2] + " truck:" + plateB + " vessel:413000077"},
		{keyNone, "vessel:413000077"},
		{keyPort, "container:" + yardB[2] + " container:" + yardA[2] + " truck:" + plateA + " truck:" + plateB + " truck:" + plateEmpty + " vessel:413000077"},
	} {
		code, _, body := f.do(t, "GET", "/v1/geofences/square/inside", c.key, nil)
		if code != 200 {
			t.Fatalf("as %s: %d %s", c.key, code, body)
		}
		var got struct {
			Objects []struct{ Type, ID string }
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		var l []string
		for _, o := range got.Objects {
			l = append(l, o.Type+":"+o.ID)
		}
		slices.Sort(l)
		if strings.Join(l, " ") != c.want {
			t.Errorf("inside as %s: %s\nwant %s", c.key, strings.Join(l, " "), c.want)
		}
	}
	// limit counts what the caller is shown.
	code, _, body := f.do(t, "GET", "/v1/geofences/square/inside?limit=2", keyA, nil)
	if code != 200 || !strings.Contains(string(body), `"truncated":true`) || strings.Count(string(body), `"type"`) != 2 {
		t.Errorf("limit=2 as A: %d %s", code, body)
	}
	code, _, body = f.do(t, "GET", "/v1/geofences/square/inside?limit=3", keyA, nil)
	if code != 200 || !strings.Contains(string(body), `"truncated":false`) {
		t.Errorf("limit=3 as A: %d %s", code, body)
	}
}
