package state

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestAPIKeysAndLinks(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateAPIKey("secret-secret-secret", APIKey{Tenant: "acme", Role: RoleLogistics, Scope: Scope{Bookings: []string{"B1"}, Parties: []string{"P1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAPIKey("short", APIKey{Tenant: "x", Role: RolePort}); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	if _, err := s.CreateAPIKey("secret-secret-other", APIKey{Tenant: "x", Role: "admin"}); err == nil {
		t.Error("role admin was accepted")
	}
	got, err := s.LookupAPIKey("secret-secret-secret")
	if err != nil || got.Tenant != "acme" || got.Role != RoleLogistics || got.ID != k.ID || !got.Scope.Has(Ref{LinkBooking, "B1"}) || got.Scope.Has(Ref{LinkTransport, "B1"}) {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	if _, err := s.LookupAPIKey("secret-secret-secreT"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
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
	if ok, _ := s.Visible("CSQU3054383", &got.Scope); !ok {
		t.Error("linked box not visible")
	}
	if ok, _ := s.Visible("MSKU9070323", &got.Scope); ok {
		t.Error("other box visible")
	}
	var types []string
	s.ScanDCSA(0, false, func(e *DCSAEvent) bool { types = append(types, e.Type+"/"+e.Code); return true })
	if len(types) != 3 || types[2] != "SHIPMENT/HOLD" {
		t.Fatalf("log %v", types)
	}
	// Revoke, reopen: the key is gone and the log goes on from its end.
	if err := s.RevokeAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(Options{Dir: "db", FS: fs}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LookupAPIKey("secret-secret-secret"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked key: %v", err)
	}
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

func BenchmarkVisible(b *testing.B) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	boxes := []string{"CSQU3054383", "MSKU9070323", "APZU4812090", "CICU3789922"}
	var evs []Event
	for i, box := range boxes {
		evs = append(evs, Event{ID: box, Container: box, Code: CodeGTIN, Time: t0, Refs: []Ref{{LinkBooking, "B" + string(rune('0'+i))}, {LinkParty, "P"}}})
	}
	if _, err := s.Apply(&Batch{Topic: "t", Next: 1, Events: evs}); err != nil {
		b.Fatal(err)
	}
	scope := &Scope{Bookings: []string{"B3"}, TransportDocs: []string{"T9"}}
	b.ReportAllocs()
	for b.Loop() {
		for _, box := range boxes {
			if _, err := s.Visible(box, scope); err != nil {
				b.Fatal(err)
			}
		}
	}
}
