package state

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func openSubStore(t *testing.T, o Options) *Store {
	t.Helper()
	o.Dir, o.FS = "db", vfs.NewMem()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSubscriptionStoredByOlderVersion: a record without the owner field
// decodes with no owning key.
func TestSubscriptionStoredByOlderVersion(t *testing.T) {
	s := openSubStore(t, Options{})
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
	s := openSubStore(t, Options{MaxSubscriptions: 3})
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
