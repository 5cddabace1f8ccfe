package dcsa

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
)

// TestDCSALogReopen: the log records container events by type, and goes
// on from its end after a reopen (sequence and eventCreatedDateTime).
func TestDCSALogReopen(t *testing.T) {
	fs := vfs.NewMem()
	open := func() (*state.Store, *DCSA) {
		d := New(0, noKeys{})
		st, err := state.Open(state.Options{Dir: "db", FS: fs, DCSA: d})
		if err != nil {
			t.Fatal(err)
		}
		d.Attach(st)
		return st, d
	}
	s, d := open()
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	evs := []state.Event{
		{ID: "e1", Container: "CSQU3054383", Code: state.CodeGTIN, Time: t0, Refs: []state.Ref{{Kind: state.LinkBooking, Value: "B1"}}},
		{ID: "e2", Container: "MSKU9070323", Code: state.CodeGTIN, Time: t0, Refs: []state.Ref{{Kind: state.LinkParty, Value: "P2"}}},
		{ID: "e3", Container: "CSQU3054383", Code: state.CodeHOLD, Time: t0 + 1},
	}
	if _, err := s.Apply(&state.Batch{Topic: "t", Next: 3, Events: evs}); err != nil {
		t.Fatal(err)
	}
	var types []string
	d.Scan(0, false, func(e *state.DCSAEvent) bool { types = append(types, e.Type+"/"+e.Code); return true })
	if len(types) != 3 || types[2] != "SHIPMENT/HOLD" {
		t.Fatalf("log %v", types)
	}
	s.Close()
	s, d = open()
	defer s.Close()
	if _, err := s.Apply(&state.Batch{Topic: "t", Next: 4, Events: []state.Event{{ID: "e4", Container: "CSQU3054383", Code: state.CodeGTOT, Time: t0 + 2}}}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	var created []int64
	var ids []string
	d.Scan(0, false, func(e *state.DCSAEvent) bool {
		seqs = append(seqs, e.Seq)
		created = append(created, e.Created)
		ids = append(ids, e.ID)
		return true
	})
	if len(seqs) != 4 || seqs[3] != 4 || created[3] < created[2] {
		t.Fatalf("log after reopen: seqs %v created %v", seqs, created)
	}
	e, err := d.EventByID(ids[3])
	if err != nil || e.Seq != 4 || e.Code != "GTOT" {
		t.Fatalf("by id: %+v %v", e, err)
	}
	if seq, err := d.SeqAt(created[3]); err != nil || seq > 4 {
		t.Fatalf("SeqAt = %d, %v", seq, err)
	}
}

// TestSTORNotLogged: a STOR event (a box stacked in a yard block) derives
// no DCSA event; the equipment index lists a box's events in log order.
func TestSTORNotLogged(t *testing.T) {
	st, d := openDCSA(t, state.Options{})
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()
	const box, other = "CSQU3054383", "MSKU9070323"
	m := int64(time.Minute)
	if _, err := st.Apply(&state.Batch{Topic: "t", Next: 1, Events: []state.Event{
		{ID: "d1", Container: box, Code: state.CodeDISC, Time: t0},
		{ID: "o1", Container: other, Code: state.CodeGTIN, Time: t0 + m},
		{ID: "s1", Container: box, Code: state.CodeSTOR, Time: t0 + 20*m},
		{ID: "l1", Container: box, Code: state.CodeLOAD, Time: t0 + 90*m},
	}}); err != nil {
		t.Fatal(err)
	}
	var codes []string
	if err := d.Scan(0, false, func(e *state.DCSAEvent) bool { codes = append(codes, e.Type+"/"+e.Code); return true }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(codes, " "); got != "EQUIPMENT/DISC EQUIPMENT/GTIN EQUIPMENT/LOAD" {
		t.Fatalf("DCSA log %s, want DISC GTIN LOAD", got)
	}
	codes = codes[:0]
	if err := d.ScanOf(box, 0, false, func(e *state.DCSAEvent) bool { codes = append(codes, e.Code); return true }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(codes, " "); got != "DISC LOAD" {
		t.Fatalf("DCSA events of %s: %s, want DISC LOAD", box, got)
	}
	codes = codes[:0]
	if err := d.ScanOf(box, ^uint64(0), true, func(e *state.DCSAEvent) bool { codes = append(codes, e.Code); return true }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(codes, " "); got != "LOAD DISC" {
		t.Fatalf("DCSA events of %s newest first: %s, want LOAD DISC", box, got)
	}
}
