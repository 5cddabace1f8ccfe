package state

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestCodeNames(t *testing.T) {
	for _, tc := range []struct {
		code         Code
		name, status string
	}{
		{CodeGTIN, "GTIN", "gated_in"},
		{CodeGTOT, "GTOT", "gated_out"},
		{CodeLOAD, "LOAD", "loaded"},
		{CodeDISC, "DISC", "discharged"},
		{CodeINSP, "INSP", "inspected"},
		{CodeHOLD, "HOLD", "on_hold"},
		{CodeSTOR, "STOR", "in_yard"},
	} {
		if got := tc.code.String(); got != tc.name {
			t.Errorf("Code(%d).String() = %q, want %q", tc.code, got, tc.name)
		}
		if got := tc.code.Status(); got != tc.status {
			t.Errorf("%s.Status() = %q, want %q", tc.name, got, tc.status)
		}
		if c, ok := ParseCode(tc.name); !ok || c != tc.code {
			t.Errorf("ParseCode(%q) = %v %v, want %v", tc.name, c, ok, tc.code)
		}
		if !tc.code.Valid() {
			t.Errorf("%s not valid", tc.name)
		}
	}
	if CodeSTOR != 7 {
		t.Fatalf("CodeSTOR = %d: the code byte is stored (FORMAT.md), never renumber", CodeSTOR)
	}
	if c := Code(8); c.Valid() || c.String() != "" || c.Status() != "unknown" {
		t.Errorf("Code(8): valid %v, %q, %q", c.Valid(), c.String(), c.Status())
	}
	for c := Code(1); c.Valid(); c++ {
		if want := c != CodeSTOR; c.DCSA() != want {
			t.Errorf("%s.DCSA() = %v, want %v", c, c.DCSA(), want)
		}
	}
}

// TestStoredInYard: a STOR event (EPCIS bizStep storing: the box stacked in
// a yard block) is stored in the history, moves the box to the block and
// keeps its links, but derives no DCSA event: DCSA 2.2 has no equipment
// event type for it.
func TestStoredInYard(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: loadPortModel(t),
		PortCalls: PortCallConfig{EventTopic: "porttrack.events"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()
	m := int64(time.Minute)
	res, err := s.Apply(&Batch{Topic: "t", Next: 1, Events: []Event{
		{ID: "d1", Container: boxA, Code: CodeDISC, Time: t0, Location: "CNNGB-BLCT-QUAY", ReadPoint: "BLCT-QC01-DISC", Source: "test"},
		{ID: "s1", Container: boxA, Code: CodeSTOR, Time: t0 + 20*m, Location: "CNNGB-BLCT-YARD-C", ReadPoint: "nbct-yard-c", Source: "test",
			Refs: []Ref{{LinkBooking, "BKG1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || res.Events != 1 {
		t.Fatalf("stored %d, events to the outbox %d; want 2 stored, 1 event (the DISC)", res.Stored, res.Events)
	}

	c, err := s.Container(boxA)
	if err != nil {
		t.Fatal(err)
	}
	if c.Last.Code != CodeSTOR || c.Status() != "in_yard" || c.Last.Location != "CNNGB-BLCT-YARD-C" || c.Count != 2 {
		t.Fatalf("container %+v status %q, want last STOR at CNNGB-BLCT-YARD-C, in_yard, 2 events", c, c.Status())
	}
	if got := history(t, s, boxA); len(got) != 2 {
		t.Fatalf("history %v", got)
	}
	loc, err := s.ContainerLocation(boxA)
	if err != nil {
		t.Fatal(err)
	}
	if !loc.HasPlace || loc.Place.ID != "nbct-yard-c" || loc.Place.Block != "C" || loc.Since != t0+20*m {
		t.Fatalf("location %+v, want nbct-yard-c block C since the STOR", loc)
	}
	if got := collectAt(t, s, "nbct-yard-c", 0, nil); len(got) != 1 || got[0].Container != boxA || got[0].Since != t0+20*m {
		t.Fatalf("nbct-yard-c lists %+v", got)
	}
	// In the terminal since the discharge; the STOR neither starts nor ends it.
	var dwell []int64
	if _, _, err := s.ContainersDwelling(t0+60*m, ListQuery{Limit: 10}, func(id string, since int64) error {
		dwell = append(dwell, since)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(dwell) != 1 || dwell[0] != t0 {
		t.Fatalf("dwelling since %v, want [%d]", dwell, t0)
	}
	if _, last, err := s.ContainerAt(boxA, t0+30*m); err != nil || last.Code != CodeSTOR {
		t.Fatalf("as of after the STOR: %+v %v", last, err)
	}

	var refs []Ref
	if err := LinksIn(s.db, boxA, func(r Ref) bool { refs = append(refs, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Value != "BKG1" {
		t.Fatalf("links %v, want the STOR's booking", refs)
	}

	// The box is loaded, then stored again (rolled over): it is off the
	// ship and back in a block.
	res, err = s.Apply(&Batch{Topic: "t", Next: 2, Events: []Event{
		{ID: "l1", Container: boxA, Code: CodeLOAD, Time: t0 + 90*m, Location: "CNNGB-BLCT-QUAY", ReadPoint: "BLCT-QC01-LOAD", Source: "test"},
		{ID: "s2", Container: boxA, Code: CodeSTOR, Time: t0 + 120*m, Location: "CNNGB-BLCT-YARD-A", ReadPoint: "nbct-yard-a", Source: "test"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 1 {
		t.Fatalf("events to the outbox %d, want 1 (the LOAD)", res.Events)
	}
	if loc, err = s.ContainerLocation(boxA); err != nil || loc.Place.ID != "nbct-yard-a" || loc.Loaded != 0 || loc.Since != t0+120*m {
		t.Fatalf("after load and STOR: %+v %v", loc, err)
	}
}
