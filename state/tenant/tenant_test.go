package tenant_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

func openState(tb testing.TB, o state.Options) *portstate.State {
	tb.Helper()
	if o.FS == nil {
		o.Dir, o.FS = "db", vfs.NewMem()
	}
	s, err := portstate.Open(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestAPIKeysAndLinks(t *testing.T) {
	fs := vfs.NewMem()
	s, err := portstate.Open(state.Options{Dir: "db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Tenants.CreateAPIKey("secret-secret-secret", tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}, Parties: []string{"P1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tenants.CreateAPIKey("short", tenant.APIKey{Tenant: "x", Role: state.RolePort}); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	if _, err := s.Tenants.CreateAPIKey("secret-secret-other", tenant.APIKey{Tenant: "x", Role: "admin"}); err == nil {
		t.Error("role admin was accepted")
	}
	got, err := s.Tenants.LookupAPIKey("secret-secret-secret")
	if err != nil || got.Tenant != "acme" || got.Role != state.RoleLogistics || got.ID != k.ID || !got.Scope.Has(state.Ref{Kind: state.LinkBooking, Value: "B1"}) || got.Scope.Has(state.Ref{Kind: state.LinkTransport, Value: "B1"}) {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	if _, err := s.Tenants.LookupAPIKey("secret-secret-secreT"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	evs := []state.Event{
		{ID: "e1", Container: "CSQU3054383", Code: state.CodeGTIN, Time: t0, Refs: []state.Ref{{Kind: state.LinkBooking, Value: "B1"}}},
		{ID: "e2", Container: "MSKU9070323", Code: state.CodeGTIN, Time: t0, Refs: []state.Ref{{Kind: state.LinkParty, Value: "P2"}}},
		{ID: "e3", Container: "CSQU3054383", Code: state.CodeHOLD, Time: t0 + 1},
	}
	if _, err := s.Apply(&state.Batch{Topic: "t", Next: 3, Events: evs}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Tenants.Visible("CSQU3054383", &got.Scope); !ok {
		t.Error("linked box not visible")
	}
	if ok, _ := s.Tenants.Visible("MSKU9070323", &got.Scope); ok {
		t.Error("other box visible")
	}
	var refs []state.Ref
	if err := s.Tenants.Links("MSKU9070323", func(r state.Ref) bool { refs = append(refs, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != (state.Ref{Kind: state.LinkParty, Value: "P2"}) {
		t.Errorf("links %v, want the party P2", refs)
	}
	if byID, err := s.Tenants.APIKeyByID(k.ID); err != nil || byID.Tenant != "acme" {
		t.Errorf("by id: %+v %v", byID, err)
	}
	// Revoke, reopen: the key is gone.
	if err := s.Tenants.RevokeAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Tenants.RevokeAPIKey(k.ID); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("revoked twice: %v", err)
	}
	s.Close()
	if s, err = portstate.Open(state.Options{Dir: "db", FS: fs}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Tenants.LookupAPIKey("secret-secret-secret"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("revoked key: %v", err)
	}
}

func BenchmarkVisible(b *testing.B) {
	s := openState(b, state.Options{})
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	boxes := []string{"CSQU3054383", "MSKU9070323", "APZU4812090", "CICU3789922"}
	var evs []state.Event
	for i, box := range boxes {
		evs = append(evs, state.Event{ID: box, Container: box, Code: state.CodeGTIN, Time: t0, Refs: []state.Ref{{Kind: state.LinkBooking, Value: "B" + string(rune('0'+i))}, {Kind: state.LinkParty, Value: "P"}}})
	}
	if _, err := s.Apply(&state.Batch{Topic: "t", Next: 1, Events: evs}); err != nil {
		b.Fatal(err)
	}
	scope := &state.Scope{Bookings: []string{"B3"}, TransportDocs: []string{"T9"}}
	b.ReportAllocs()
	for b.Loop() {
		for _, box := range boxes {
			if _, err := s.Tenants.Visible(box, scope); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestTenantHasOneRole: a tenant name that exists with one role cannot be
// given a key of another, and the admin key's tenant cannot be claimed by
// any key but the admin key.
func TestTenantHasOneRole(t *testing.T) {
	s := openState(t, state.Options{})
	if _, err := s.Tenants.CreateAPIKey("port-key-0123456789", tenant.APIKey{Tenant: "ops", Role: state.RolePort}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tenants.CreateAPIKey("port-key-9876543210", tenant.APIKey{Tenant: "ops", Role: state.RolePort}); err != nil {
		t.Errorf("a second key of the same tenant and role: %v", err)
	}
	_, err := s.Tenants.CreateAPIKey("logi-key-0123456789", tenant.APIKey{Tenant: "ops", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"NOPE"}}})
	if !errors.Is(err, tenant.ErrTenantRole) {
		t.Errorf("logistics key for a port tenant: %v", err)
	}
	if _, err := s.Tenants.LookupAPIKey("logi-key-0123456789"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("the refused key was stored: %v", err)
	}
	for _, role := range []string{state.RolePort, state.RoleCustoms, state.RoleLogistics} {
		_, err := s.Tenants.CreateAPIKey("admin-claim-"+role+"-0123456789", tenant.APIKey{Tenant: tenant.AdminTenant, Role: role, Scope: state.Scope{Bookings: []string{"NOPE"}}})
		if !errors.Is(err, tenant.ErrReservedTenant) {
			t.Errorf("a %s key for tenant admin: %v", role, err)
		}
	}
	// A subscription of the tenant counts too (its keys may all be revoked).
	sub := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: "gone", Role: state.RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	if err := s.DCSA.PutSubscription(&sub, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tenants.CreateAPIKey("logi-key-gone-0123456789", tenant.APIKey{Tenant: "gone", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"X"}}}); !errors.Is(err, tenant.ErrTenantRole) {
		t.Errorf("logistics key for a tenant with port subscriptions: %v", err)
	}
}
