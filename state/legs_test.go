package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestContainerLegs follows an import box from its vessel by truck to the
// rail station and onto a train, checking its legs, mode, current and next
// leg at each step.
func TestContainerLegs(t *testing.T) {
	s := openDomains(t, Options{Dir: "db", FS: vfs.NewMem(), Now: func() time.Time { return time.Unix(1000, 0) }})
	defer s.Close()
	const box, st = "MSKU9070323", "beilun-rail-station"
	h := func(hm string) int64 {
		tm, _ := time.Parse(time.RFC3339, "2026-11-22T"+hm+":00Z")
		return tm.UnixNano()
	}
	var off int64
	apply := func(b Batch) {
		t.Helper()
		off++
		b.Topic, b.Next = "port.transport", off
		if _, err := s.Apply(&b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, mode string, current, next int, want string) {
		t.Helper()
		l, err := s.ContainerLegs(box)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got := ""
		for _, g := range l.Legs {
			got += fmt.Sprintf("%s:%s:%s ", g.Mode, g.ID, g.Status)
		}
		if l.Mode != mode || l.Current != current || l.Next != next || got != want {
			t.Errorf("%s: mode %q current %d next %d legs %q\nwant mode %q current %d next %d legs %q", step, l.Mode, l.Current, l.Next, got, mode, current, next, want)
		}
	}
	if _, err := s.ContainerLegs(box); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown box: %v", err)
	}
	// An earlier visit (discharged, then loaded onto another ship) is not
	// this journey: only the visit from the newest discharge is listed.
	apply(Batch{Events: []Event{{ID: "e0", Container: box, Code: CodeDISC, Time: h("01:00"), Location: "CNNGB-BLCT", Source: "t"},
		{ID: "e00", Container: box, Code: CodeLOAD, Time: h("02:00"), Location: "CNNGB-BLCT", Source: "t"}}})
	check("loaded on a ship", "vessel", 1, -1, "vessel::done vessel::active ")
	apply(Batch{Events: []Event{{ID: "e1", Container: box, Code: CodeDISC, Time: h("07:00"), Location: "CNNGB-BLCT", Source: "t"}}})
	check("discharged", "terminal", -1, -1, "vessel::done ")
	apply(Batch{Plans: []Plan{{Mode: ModeRail, ID: "X1", Service: "YW", From: st, Departure: h("20:00"), Cutoff: h("18:00"), Time: h("07:10"),
		Wagons: []Wagon{{ID: "W1", Containers: []string{box}}}}}})
	apply(Batch{Waybills: []Waybill{{ID: "WB1", Plate: "浙B12345", Containers: []string{box}, From: "CNNGB-BLCT", To: st, Gate: "G1", ApptStart: h("10:00"), ApptEnd: h("11:00"), Time: h("07:20")}}})
	check("planned", "terminal", -1, 1, "vessel::done truck:WB1:planned rail:X1:planned ")
	apply(Batch{Trucks: []TruckReport{{Plate: "浙B12345", Time: h("10:05"), Lat: 29.93, Lon: 121.86, SpeedKmh: UnknownFloat, Heading: UnknownInt, Container: box}}})
	check("on the truck", "truck", 1, 2, "vessel::done truck:WB1:active rail:X1:planned ")
	apply(Batch{Events: []Event{{ID: "e2", Container: box, Code: CodeGTIN, Time: h("10:40"), Location: st, Source: "t"}}})
	apply(Batch{PlanEvents: []PlanEvent{{Mode: ModeRail, Plan: "X1", Event: PlanLoaded, Container: box, Time: h("12:00")},
		{Mode: ModeRail, Plan: "X1", Event: PlanDeparted, Time: h("20:00")}}})
	check("on the train", "rail", 2, -1, "vessel::done truck:WB1:done rail:X1:active ")
	apply(Batch{PlanEvents: []PlanEvent{{Mode: ModeRail, Plan: "X1", Event: PlanArrived, Time: h("23:50")}}})
	check("arrived", "terminal", -1, -1, "vessel::done truck:WB1:done rail:X1:done ")
}
