package transport

import (
	"errors"
	"reflect"
	"testing"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

func TestMultimodalDecodeTestdata(t *testing.T) {
	d := NewDecoder()
	var b state.Batch
	for _, f := range []string{"rail_plan.json", "rail_event.json", "barge_plan.json", "truck_waybill.json"} {
		if ignored, err := d.Decode(&b, readTestdata(t, f)); err != nil || ignored != "" {
			t.Fatalf("%s: ignored %q, err %v", f, ignored, err)
		}
	}
	wantPlans := []state.Plan{
		{Mode: state.ModeRail, ID: "X8417", Service: "YW-BL", From: "CNNGB-BLRS", To: "CNYIW-ICD",
			Departure: unixNano(t, "2026-11-22T18:00:00Z"), Cutoff: unixNano(t, "2026-11-22T16:00:00Z"),
			Wagons: []state.Wagon{{ID: "4567890", Containers: []string{"MSKU9070323", "CSQU3054383"}}, {ID: "4567891", Containers: []string{"APZU4812090"}}},
			Time:   unixNano(t, "2026-11-22T07:00:00Z")},
		// No cutoff: ready by the departure. The barge id in "barge".
		{Mode: state.ModeBarge, ID: "甬驳101", Service: "NB-SX", From: "CNNGB-ZHCT", To: "CNSXG",
			Departure: unixNano(t, "2026-11-22T20:00:00Z"), Cutoff: unixNano(t, "2026-11-22T20:00:00Z"),
			Wagons: []state.Wagon{{ID: "bay1", Containers: []string{"CSQU3054383"}}}, Time: unixNano(t, "2026-11-22T06:00:00Z")},
	}
	if !reflect.DeepEqual(b.Plans, wantPlans) {
		t.Errorf("plans\n got %+v\nwant %+v", b.Plans, wantPlans)
	}
	wantEvents := []state.PlanEvent{{Mode: state.ModeRail, Plan: "X8417", Station: "CNNGB-BLRS", Event: "loaded", Wagon: "4567890", Container: "MSKU9070323", Time: unixNano(t, "2026-11-22T15:10:00Z")}}
	if !reflect.DeepEqual(b.PlanEvents, wantEvents) {
		t.Errorf("plan events\n got %+v\nwant %+v", b.PlanEvents, wantEvents)
	}
	wantWaybills := []state.Waybill{{ID: "WB2026112200017", Plate: "浙B12345", Containers: []string{"MSKU9070323"}, From: "CNNGB-BLCT", To: "CNNGB-BLRS",
		Gate: "BLRS-G1", ApptStart: unixNano(t, "2026-11-22T10:00:00Z"), ApptEnd: unixNano(t, "2026-11-22T11:00:00Z"), Status: "dispatched", Time: unixNano(t, "2026-11-22T07:30:00Z")}}
	if !reflect.DeepEqual(b.Waybills, wantWaybills) {
		t.Errorf("waybills\n got %+v\nwant %+v", b.Waybills, wantWaybills)
	}
}

func TestMultimodalDecodeErrors(t *testing.T) {
	d := NewDecoder()
	const plan = `"type":"rail.plan","train":"X1","from_station":"BLRS","departure":"2026-11-22T20:00:00Z","t":"2026-11-22T06:00:00Z"`
	for _, c := range []struct{ name, value, reason string }{
		{"plan without departure", `{"type":"rail.plan","train":"X1","from_station":"BLRS","t":"2026-11-22T06:00:00Z"}`, decode.ReasonMissingField},
		{"plan without train", `{"type":"rail.plan","from_station":"BLRS","departure":"2026-11-22T20:00:00Z","t":"2026-11-22T06:00:00Z"}`, decode.ReasonMissingField},
		{"plan without station", `{"type":"rail.plan","train":"X1","departure":"2026-11-22T20:00:00Z","t":"2026-11-22T06:00:00Z"}`, decode.ReasonMissingField},
		{"cutoff after departure", `{` + plan + `,"cutoff":"2026-11-22T21:00:00Z"}`, decode.ReasonInvalidEvent},
		{"bad departure", `{"type":"rail.plan","train":"X1","from_station":"BLRS","departure":"tomorrow","t":"2026-11-22T06:00:00Z"}`, decode.ReasonBadTime},
		{"wagons not an array", `{` + plan + `,"wagons":{}}`, decode.ReasonBadField},
		{"wagon without id", `{` + plan + `,"wagons":[{"containers":["MSKU9070323"]}]}`, decode.ReasonMissingField},
		{"check digit", `{` + plan + `,"wagons":[{"wagon":"W1","containers":["MSKU9070324"]}]}`, decode.ReasonCheckDigit},
		{"box twice", `{` + plan + `,"wagons":[{"wagon":"W1","containers":["MSKU9070323"]},{"wagon":"W2","containers":["MSKU9070323"]}]}`, decode.ReasonInvalidEvent},
		{"long train id", `{"type":"rail.plan","train":"` + string(make([]byte, 65)) + `"}`, decode.ReasonBadField},
		{"unknown rail event", `{"type":"rail.event","train":"X1","event":"exploded","t":"2026-11-22T06:00:00Z"}`, decode.ReasonInvalidEvent},
		{"loaded without box", `{"type":"rail.event","train":"X1","event":"loaded","t":"2026-11-22T06:00:00Z"}`, decode.ReasonInvalidEvent},
		{"event without time", `{"type":"rail.event","train":"X1","event":"departed"}`, decode.ReasonMissingField},
		{"waybill without plate", `{"type":"truck.waybill","waybill":"W","t":"2026-11-22T06:00:00Z"}`, decode.ReasonMissingField},
		{"appointment without end", `{"type":"truck.waybill","waybill":"W","plate":"浙B12345","appointment":{"gate":"G","start":"2026-11-22T06:00:00Z"},"t":"2026-11-22T06:00:00Z"}`, decode.ReasonMissingField},
		{"appointment backwards", `{"type":"truck.waybill","waybill":"W","plate":"浙B12345","appointment":{"gate":"G","start":"2026-11-22T08:00:00Z","end":"2026-11-22T07:00:00Z"},"t":"2026-11-22T06:00:00Z"}`, decode.ReasonInvalidEvent},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b state.Batch
			_, err := d.Decode(&b, []byte(c.value))
			var de *decode.Error
			if !errors.As(err, &de) || de.Reason != c.reason {
				t.Fatalf("err %v, want reason %s", err, c.reason)
			}
			if n := len(b.Plans) + len(b.PlanEvents) + len(b.Waybills) + len(b.Trucks); n != 0 {
				t.Errorf("%d records appended on error", n)
			}
		})
	}
}
