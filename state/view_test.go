package state

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestViewSnapshot: a View reads the batches committed before it was
// opened, whatever is committed meanwhile; the Store's own reads see the
// new batch. A vessel indexed in memory after the view was opened (the
// index is not part of the snapshot) is skipped by View.VesselsNear, not an
// error.
func TestViewSnapshot(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const box = "MSKU9070323"
	pos := [2]float64{29.9, 121.9}
	if _, err := s.Apply(&Batch{Topic: "t", Next: 1,
		Events:  []Event{{ID: "e1", Container: box, Code: CodeGTIN, Time: sec(1), Location: "CNNGB-BLCT", Source: "test"}},
		Vessels: []VesselReport{vesselAt(412000001, 1, pos)}}); err != nil {
		t.Fatal(err)
	}
	vw := s.View()
	defer vw.Close()
	if _, err := s.Apply(&Batch{Topic: "t", Next: 2,
		Events:  []Event{{ID: "e2", Container: box, Code: CodeGTOT, Time: sec(2), Location: "CNNGB-BLCT", Source: "test"}},
		Vessels: []VesselReport{vesselAt(412000002, 2, pos)}}); err != nil {
		t.Fatal(err)
	}
	c, err := vw.Container(box)
	if err != nil {
		t.Fatal(err)
	}
	if c.Last.ID != "e1" {
		t.Errorf("view: last event %s, want e1 (the batch before the view)", c.Last.ID)
	}
	if c, err := s.Container(box); err != nil || c.Last.ID != "e2" {
		t.Errorf("store: last event %s (%v), want e2", c.Last.ID, err)
	}
	if _, err := vw.Vessel(412000002); !errors.Is(err, ErrNotFound) {
		t.Errorf("view: vessel of the later batch: %v, want ErrNotFound", err)
	}
	var seen []uint32
	if err := vw.VesselsNear(pos[0], pos[1], 1000, 0, func(v *Vessel, _ float64) bool {
		seen = append(seen, v.MMSI)
		return true
	}); err != nil {
		t.Fatalf("view: VesselsNear: %v", err)
	}
	if len(seen) != 1 || seen[0] != 412000001 {
		t.Errorf("view: vessels near %v, want [412000001]", seen)
	}
	if err := vw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := vw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
