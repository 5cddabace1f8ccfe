package state

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestDCSALogReopen: the log records container events by type, and goes
// on from its end after a reopen (sequence and eventCreatedDateTime).
func TestDCSALogReopen(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	evs := []Event{
		{ID: "e1", Container: "CSQU3054383", Code: CodeGTIN, Time: t0, Refs: []Ref{{LinkBooking, "B1"}}},
		{ID: "e2", Container: "MSKU9070323", Code: CodeGTIN, Time: t0, Refs: []Ref{{LinkParty, "P2"}}},
		{ID: "e3", Container: "CSQU3054383", Code: CodeHOLD, Time: t0 + 1},
	}
	if _, err := s.Apply(&Batch{Topic: "t", Next: 3, Events: evs}); err != nil {
		t.Fatal(err)
	}
	var types []string
	s.ScanDCSA(0, false, func(e *DCSAEvent) bool { types = append(types, e.Type+"/"+e.Code); return true })
	if len(types) != 3 || types[2] != "SHIPMENT/HOLD" {
		t.Fatalf("log %v", types)
	}
	s.Close()
	if s, err = Open(Options{Dir: "db", FS: fs}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Apply(&Batch{Topic: "t", Next: 4, Events: []Event{{ID: "e4", Container: "CSQU3054383", Code: CodeGTOT, Time: t0 + 2}}}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	var created []int64
	s.ScanDCSA(0, false, func(e *DCSAEvent) bool { seqs = append(seqs, e.Seq); created = append(created, e.Created); return true })
	if len(seqs) != 4 || seqs[3] != 4 || created[3] < created[2] {
		t.Fatalf("log after reopen: seqs %v created %v", seqs, created)
	}
	e, err := s.DCSAEventByID(uuidFrom("porttrack/container/e4"))
	if err != nil || e.Seq != 4 || e.Code != "GTOT" {
		t.Fatalf("by id: %+v %v", e, err)
	}
	if seq, err := s.DCSASeqAt(created[3]); err != nil || seq > 4 {
		t.Fatalf("DCSASeqAt = %d, %v", seq, err)
	}
}
