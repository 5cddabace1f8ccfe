package state

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var portOwner = FenceOwner{Role: RolePort}

// Boxes of the scope tests: boxA is linked to booking BKG-A, boxB to party
// PARTY-B.
const (
	scopeBoxA = "CSQU3054383"
	scopeBoxB = "MSKU9070323"
)

var scopeA = Scope{Bookings: []string{"BKG-A"}}

// applyEvents applies container events as the next record of port.rfid.
func applyEvents(t *testing.T, s *Store, evs ...Event) {
	t.Helper()
	next, _, _ := s.NextOffset("port.rfid", 0)
	if _, err := s.Apply(&Batch{Topic: "port.rfid", Next: next + 1, Events: evs}); err != nil {
		t.Fatal(err)
	}
}

func scopeEvent(id, box string, ts int, reader string, refs ...Ref) Event {
	return Event{ID: id, Container: box, Code: CodeGTIN, Time: sec(ts), Location: "CNNGB-BLCT-GATE", ReadPoint: reader, Source: "test", Refs: refs}
}

func vesselAt(mmsi uint32, ts int, pos [2]float64) VesselReport {
	return VesselReport{MMSI: mmsi, Time: sec(ts), MsgType: 1, HasPosition: true, Lat: pos[0], Lon: pos[1],
		Speed: 0.1, Course: UnknownFloat, Heading: UnknownInt, Status: 5, Turn: UnknownTurn, ShipType: UnknownInt,
		ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
}

// TestFenceLogisticsOwner: a logistics tenant's fence publishes enter and
// exit events only for the objects its scope may see (its boxes, trucks
// while they carry one, every vessel) and /inside lists only those for its
// scope; a port tenant's fence over the same ground sees everything. The
// link may arrive in the batch that first places the box in the fence.
func TestFenceLogisticsOwner(t *testing.T) {
	s := openFenceStore(t, vfs.NewMem(), 0)
	if _, err := s.PutFence("acme", "yard", FenceOwner{Role: RoleLogistics, Scope: scopeA}, []byte(yardFence)); err != nil {
		t.Fatal(err)
	}
	putYard(t, s, "port")
	// Both boxes are linked and seen by the yard's reader in one batch.
	applyEvents(t, s,
		scopeEvent("a1", scopeBoxA, 0, "YARD-R1", Ref{Kind: LinkBooking, Value: "BKG-A"}),
		scopeEvent("b1", scopeBoxB, 0, "YARD-R1", Ref{Kind: LinkParty, Value: "PARTY-B"}))
	// Trucks: one carries A's box, one B's, one nothing (boxes picked up
	// at the reader's time + 10 s).
	applyTruckBatch(t, s,
		truck(plateA, sec(10), in[0], in[1], scopeBoxA),
		truck(plateB, sec(10), in[0], in[1], scopeBoxB),
		truck("浙B00001", sec(10), in[0], in[1], ""))
	if _, err := s.Apply(&Batch{Topic: "port.ais", Next: 1, Vessels: []VesselReport{vesselAt(412928081, 20, in)}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"enter acme/yard container:CSQU3054383 0s 0s 29.926,121.856",
		"enter port/yard container:CSQU3054383 0s 0s 29.926,121.856",
		"enter port/yard container:MSKU9070323 0s 0s 29.926,121.856",
		"enter acme/yard truck:浙B12345 10s 0s 29.925,121.855",
		"enter port/yard truck:浙B12345 10s 0s 29.925,121.855",
		"enter port/yard truck:浙B67890 10s 0s 29.925,121.855",
		"enter port/yard truck:浙B00001 10s 0s 29.925,121.855",
		"enter acme/yard vessel:412928081 20s 0s 29.925,121.855",
		"enter port/yard vessel:412928081 20s 0s 29.925,121.855",
	}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m := s.FenceMetrics(); m.Hidden != 3 {
		t.Errorf("hidden transitions %d, want 3 (B's box, B's truck, the empty truck)", m.Hidden)
	}
	// Membership is kept for every object; what a caller is shown depends
	// on its scope.
	all := "container:CSQU3054383@0s container:MSKU9070323@0s truck:浙B00001@10s truck:浙B12345@10s truck:浙B67890@10s vessel:412928081@20s"
	if got := strings.Join(inside(t, s, "acme", "yard"), " "); got != all {
		t.Errorf("inside, unscoped:\n%s\nwant\n%s", got, all)
	}
	if got := strings.Join(insideScoped(t, s, "acme", "yard", &scopeA), " "); got != "container:CSQU3054383@0s truck:浙B12345@10s vessel:412928081@20s" {
		t.Errorf("inside for scope A: %s", got)
	}
	if got := strings.Join(insideScoped(t, s, "acme", "yard", &Scope{}), " "); got != "vessel:412928081@20s" {
		t.Errorf("inside for an empty scope: %s", got)
	}
	// The truck drops A's box and leaves empty: its exit is not A's to see.
	applyTruckBatch(t, s, truck(plateA, sec(30), out[0], out[1], ""), truck(plateB, sec(30), out[0], out[1], scopeBoxB))
	want = []string{
		"exit port/yard truck:浙B12345 30s 20s 29.935,121.855",
		"exit port/yard truck:浙B67890 30s 20s 29.935,121.855",
		"exit port/yard container:MSKU9070323 30s 30s 29.935,121.855",
	}
	if got := alerts(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func insideScoped(t *testing.T, s *Store, tenant, id string, scope *Scope) []string {
	t.Helper()
	var got []string
	err := s.FenceInside(tenant, id, scope, func(m *FenceMember) bool {
		got = append(got, fmt.Sprintf("%s:%s@%ds", ObjectTypeName(m.Type), m.ID, (m.Since-fenceT0)/int64(time.Second)))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFenceOwnerStored: the owner survives a restart; a fence stored
// before owners were (value version 1) takes its tenant's from the API
// keys.
func TestFenceOwnerStored(t *testing.T) {
	fs := vfs.NewMem()
	s := openFenceStore(t, fs, 0)
	owner := FenceOwner{Role: RoleLogistics, Scope: Scope{Bookings: []string{"BKG-A"}, TransportDocs: []string{"TD-1", "TD-2"}, Parties: []string{"P"}}}
	if _, err := s.PutFence("acme", "yard", owner, []byte(yardFence)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFence("acme", "bad", FenceOwner{Role: "admin"}, []byte(strings.ReplaceAll(yardFence, `"yard"`, `"bad"`))); err == nil {
		t.Fatal("a fence with an unknown owner role was stored")
	}
	// Legacy fences of three tenants: logistics keys, a port key, no key.
	keys := fakeKeys{
		{"old-l", RoleLogistics, Scope{Parties: []string{"P1"}}},
		{"old-l", RoleLogistics, Scope{Bookings: []string{"B2"}}},
		{"old-p", RolePort, Scope{}},
	}
	for _, tenant := range []string{"old-l", "old-p", "old-none"} {
		v := appendBytes(append([]byte{valueV1}, 2), []byte(yardFence)) // version 1 | updated 1 | feature
		if err := s.db.Set(userFenceKey(nil, fenceKey(tenant, "yard")), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFenceStoreKeys(t, fs, 0, keys)
	for _, c := range []struct {
		tenant string
		want   string
	}{
		{"acme", "logistics [BKG-A] [TD-1 TD-2] [P]"},
		{"old-l", "logistics [B2] [] [P1]"},
		{"old-p", "port [] [] []"},
		{"old-none", "logistics [] [] []"},
	} {
		uf, err := s.UserFence(c.tenant, "yard")
		if err != nil {
			t.Fatal(err)
		}
		o := uf.Owner
		if got := strings.Join([]string{o.Role, fmtList(o.Scope.Bookings), fmtList(o.Scope.TransportDocs), fmtList(o.Scope.Parties)}, " "); got != c.want {
			t.Errorf("tenant %s: owner %s, want %s", c.tenant, got, c.want)
		}
	}
}

// fakeKeys are the tenants' keys (Options.Keys) as a list.
type fakeKeys []struct {
	tenant, role string
	scope        Scope
}

func (ks fakeKeys) EachKey(_ pebble.Reader, fn func(tenant, role string, scope *Scope) error) error {
	for i := range ks {
		if err := fn(ks[i].tenant, ks[i].role, &ks[i].scope); err != nil {
			return err
		}
	}
	return nil
}

func fmtList(l []string) string { return "[" + strings.Join(l, " ") + "]" }
