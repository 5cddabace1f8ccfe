package dcsa_test

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

func openState(tb testing.TB, o state.Options) *portstate.State {
	tb.Helper()
	o.Dir, o.FS = "db", vfs.NewMem()
	s, err := portstate.Open(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestSubscriptionOwnerLive: a subscription pauses when its owning key is
// revoked; one stored by an older version (no owning key) while its tenant
// has no key of its role left; one made on the open API while it is open.
func TestSubscriptionOwnerLive(t *testing.T) {
	s := openState(t, state.Options{})
	k1, err := s.Tenants.CreateAPIKey("logi-key-one-0123456789", tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}}})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := s.Tenants.CreateAPIKey("logi-key-two-0123456789", tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}}})
	if err != nil {
		t.Fatal(err)
	}
	owned := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: "acme", Role: state.RoleLogistics, KeyID: k1.ID, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	legacy := owned
	legacy.ID, legacy.KeyID = dcsa.NewSubscriptionID(), ""
	open := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Role: state.RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	for _, sub := range []*dcsa.Subscription{&owned, &legacy, &open} {
		if err := s.DCSA.PutSubscription(sub, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	live := func(sub *dcsa.Subscription, openAPI bool) bool {
		t.Helper()
		got, err := s.DCSA.Subscription(sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.KeyID != sub.KeyID {
			t.Fatalf("stored KeyID %q, want %q", got.KeyID, sub.KeyID)
		}
		ok, err := s.DCSA.SubscriptionOwnerLive(&got, openAPI)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !live(&owned, false) || !live(&legacy, false) || live(&open, false) || !live(&open, true) {
		t.Fatal("before revocation")
	}
	if err := s.Tenants.RevokeAPIKey(k1.ID); err != nil {
		t.Fatal(err)
	}
	if live(&owned, false) {
		t.Error("the revoked key's subscription still delivers")
	}
	if !live(&legacy, false) {
		t.Error("an older subscription paused while its tenant has a key")
	}
	if err := s.Tenants.RevokeAPIKey(k2.ID); err != nil {
		t.Fatal(err)
	}
	if live(&legacy, false) {
		t.Error("an older subscription delivers with no key of its tenant left")
	}
	// A key of another role with the same name (as an older version could
	// store) does not keep it live.
	putRawKey(t, s.Store, "port-acme-0123456789", "acme", state.RolePort)
	if live(&legacy, false) {
		t.Error("a port key of the same tenant name keeps a logistics subscription live")
	}
}

// putRawKey stores a key as an older version could (FORMAT.md "Tenancy"),
// without the checks of CreateAPIKey.
func putRawKey(t *testing.T, st *state.Store, secret, tenantName, role string) {
	t.Helper()
	h := sha256.Sum256([]byte(secret))
	v := []byte{state.ValueV1}
	v = state.AppendStr(v, tenantName)
	v = state.AppendStr(v, role)
	v = state.AppendStrs(v, nil)
	v = state.AppendStrs(v, nil)
	v = state.AppendStrs(v, nil)
	v = binary.AppendVarint(v, 1)
	if err := st.DB().Set(append([]byte{state.PrefixAPIKey}, h[:]...), v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}
