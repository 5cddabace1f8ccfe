package state

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func openTenantStore(t *testing.T, o Options) *Store {
	t.Helper()
	o.Dir, o.FS = "db", vfs.NewMem()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTenantHasOneRole: a tenant name that exists with one role cannot be
// given a key of another, and the admin key's tenant cannot be claimed by
// any key but the admin key.
func TestTenantHasOneRole(t *testing.T) {
	s := openTenantStore(t, Options{})
	if _, err := s.CreateAPIKey("port-key-0123456789", APIKey{Tenant: "ops", Role: RolePort}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAPIKey("port-key-9876543210", APIKey{Tenant: "ops", Role: RolePort}); err != nil {
		t.Errorf("a second key of the same tenant and role: %v", err)
	}
	_, err := s.CreateAPIKey("logi-key-0123456789", APIKey{Tenant: "ops", Role: RoleLogistics, Scope: Scope{Bookings: []string{"NOPE"}}})
	if !errors.Is(err, ErrTenantRole) {
		t.Errorf("logistics key for a port tenant: %v", err)
	}
	if _, err := s.LookupAPIKey("logi-key-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused key was stored: %v", err)
	}
	for _, role := range []string{RolePort, RoleCustoms, RoleLogistics} {
		_, err := s.CreateAPIKey("admin-claim-"+role+"-0123456789", APIKey{Tenant: AdminTenant, Role: role, Scope: Scope{Bookings: []string{"NOPE"}}})
		if !errors.Is(err, ErrReservedTenant) {
			t.Errorf("a %s key for tenant admin: %v", role, err)
		}
	}
	// A subscription of the tenant counts too (its keys may all be revoked).
	sub := Subscription{ID: NewSubscriptionID(), Tenant: "gone", Role: RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	if err := s.PutSubscription(&sub, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAPIKey("logi-key-gone-0123456789", APIKey{Tenant: "gone", Role: RoleLogistics, Scope: Scope{Bookings: []string{"X"}}}); !errors.Is(err, ErrTenantRole) {
		t.Errorf("logistics key for a tenant with port subscriptions: %v", err)
	}
}

// TestSetAdminKeyReplaces: a new admin key replaces the old one, which no
// longer authenticates; keys an older version let claim the tenant go too.
func TestSetAdminKeyReplaces(t *testing.T) {
	s := openTenantStore(t, Options{})
	// As an older version stored them: the admin key and a logistics key
	// that claimed the name.
	b := s.db.NewBatch()
	old, err := s.putAPIKey(b, "old-admin-key-0123456789", APIKey{Tenant: AdminTenant, Role: RolePort})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := s.putAPIKey(b, "claimed-admin-0123456789", APIKey{Tenant: AdminTenant, Role: RoleLogistics})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateAPIKey("other-port-key-0123456789", APIKey{Tenant: "ops", Role: RolePort})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := s.SetAdminKey("new-admin-key-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || !(removed[0] == old.ID || removed[1] == old.ID) || !(removed[0] == claim.ID || removed[1] == claim.ID) {
		t.Errorf("removed %v, want %s and %s", removed, old.ID, claim.ID)
	}
	for _, k := range []string{"old-admin-key-0123456789", "claimed-admin-0123456789"} {
		if _, err := s.LookupAPIKey(k); !errors.Is(err, ErrNotFound) {
			t.Errorf("replaced key %s still works: %v", k, err)
		}
	}
	if k, err := s.LookupAPIKey("new-admin-key-0123456789"); err != nil || k.Tenant != AdminTenant || k.Role != RolePort {
		t.Errorf("new admin key: %+v %v", k, err)
	}
	if _, err := s.APIKeyByID(other.ID); err != nil {
		t.Errorf("another tenant's key: %v", err)
	}
	// The same key again removes nothing; no key removes it.
	if removed, err := s.SetAdminKey("new-admin-key-0123456789"); err != nil || len(removed) != 0 {
		t.Errorf("same key again: removed %v, %v", removed, err)
	}
	if removed, err := s.SetAdminKey(""); err != nil || len(removed) != 1 {
		t.Errorf("no admin key: removed %v, %v", removed, err)
	}
	if _, err := s.LookupAPIKey("new-admin-key-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Errorf("admin key without the setting: %v", err)
	}
}

// TestSubscriptionOwnerLive: a subscription pauses when its owning key is
// revoked; one stored by an older version (no owning key) while its tenant
// has no key of its role left; one made on the open API while it is open.
func TestSubscriptionOwnerLive(t *testing.T) {
	s := openTenantStore(t, Options{})
	k1, err := s.CreateAPIKey("logi-key-one-0123456789", APIKey{Tenant: "acme", Role: RoleLogistics, Scope: Scope{Bookings: []string{"B1"}}})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := s.CreateAPIKey("logi-key-two-0123456789", APIKey{Tenant: "acme", Role: RoleLogistics, Scope: Scope{Bookings: []string{"B1"}}})
	if err != nil {
		t.Fatal(err)
	}
	owned := Subscription{ID: NewSubscriptionID(), Tenant: "acme", Role: RoleLogistics, KeyID: k1.ID, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	legacy := owned
	legacy.ID, legacy.KeyID = NewSubscriptionID(), ""
	open := Subscription{ID: NewSubscriptionID(), Role: RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
	for _, sub := range []*Subscription{&owned, &legacy, &open} {
		if err := s.PutSubscription(sub, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	live := func(sub *Subscription, openAPI bool) bool {
		t.Helper()
		got, err := s.Subscription(sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.KeyID != sub.KeyID {
			t.Fatalf("stored KeyID %q, want %q", got.KeyID, sub.KeyID)
		}
		ok, err := s.SubscriptionOwnerLive(&got, openAPI)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !live(&owned, false) || !live(&legacy, false) || live(&open, false) || !live(&open, true) {
		t.Fatal("before revocation")
	}
	if err := s.RevokeAPIKey(k1.ID); err != nil {
		t.Fatal(err)
	}
	if live(&owned, false) {
		t.Error("the revoked key's subscription still delivers")
	}
	if !live(&legacy, false) {
		t.Error("an older subscription paused while its tenant has a key")
	}
	if err := s.RevokeAPIKey(k2.ID); err != nil {
		t.Fatal(err)
	}
	if live(&legacy, false) {
		t.Error("an older subscription delivers with no key of its tenant left")
	}
	// A key of another role with the same name (as an older version could
	// store) does not keep it live.
	b := s.db.NewBatch()
	if _, err := s.putAPIKey(b, "port-acme-0123456789", APIKey{Tenant: "acme", Role: RolePort}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if live(&legacy, false) {
		t.Error("a port key of the same tenant name keeps a logistics subscription live")
	}
}

// TestSubscriptionStoredByOlderVersion: a record without the owner field
// decodes with no owning key.
func TestSubscriptionStoredByOlderVersion(t *testing.T) {
	s := openTenantStore(t, Options{})
	id := NewSubscriptionID()
	k, _ := subKey(prefixSub, id)
	v := []byte{valueV1}
	v = appendStr(v, "acme")
	v = appendStr(v, RolePort)
	v = appendStrs(v, nil)
	v = appendStrs(v, nil)
	v = appendStrs(v, nil)
	v = appendStr(v, "http://example.com/")
	v = appendBytes(v, make([]byte, 32))
	v = appendStr(v, "")
	v = binary.AppendVarint(v, 1)
	v = binary.AppendVarint(v, 2)
	if err := s.db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscription(id)
	if err != nil || sub.Tenant != "acme" || sub.KeyID != "" || sub.Updated != 2 {
		t.Fatalf("%+v %v", sub, err)
	}
}

// TestSubscriptionLimit: a tenant has at most MaxSubscriptions; other
// tenants and updates are not held by it.
func TestSubscriptionLimit(t *testing.T) {
	s := openTenantStore(t, Options{MaxSubscriptions: 3})
	put := func(tenant string) error {
		sub := Subscription{ID: NewSubscriptionID(), Tenant: tenant, Role: RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
		return s.PutSubscription(&sub, true, nil)
	}
	for i := range 3 {
		if err := put("a"); err != nil {
			t.Fatalf("subscription %d: %v", i, err)
		}
	}
	err := put("a")
	if !errors.Is(err, ErrSubscriptionLimit) {
		t.Fatalf("fourth subscription: %v", err)
	}
	if want := `tenant "a" has 3 subscriptions, at most 3`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if err := put("b"); err != nil {
		t.Errorf("another tenant: %v", err)
	}
	v := s.SubscriptionsVersion()
	var first Subscription
	s.Subscriptions("", func(sub *Subscription) bool { first = *sub; return false })
	first.CallbackURL = "http://example.org/"
	if err := s.PutSubscription(&first, false, nil); err != nil {
		t.Errorf("update at the limit: %v", err)
	}
	if s.SubscriptionsVersion() == v {
		t.Error("an update did not change SubscriptionsVersion")
	}
}
