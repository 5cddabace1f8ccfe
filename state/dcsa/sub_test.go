package dcsa

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
)

// openDCSA opens a store in memory with its DCSA log and subscriptions
// (no API keys).
func openDCSA(t *testing.T, o state.Options) (*state.Store, *DCSA) {
	t.Helper()
	d := New(o.MaxSubscriptions, noKeys{})
	o.Dir, o.FS, o.DCSA = "db", vfs.NewMem(), d
	st, err := state.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d.Attach(st)
	return st, d
}

// noKeys are the API keys of a store that has none.
type noKeys struct{}

func (noKeys) EachKey(pebble.Reader, func(string, string, *state.Scope) error) error { return nil }
func (noKeys) KeyOwner(pebble.Reader, string) (string, string, error) {
	return "", "", state.ErrNotFound
}

// TestSubscriptionStoredByOlderVersion: a record without the owner field
// decodes with no owning key.
func TestSubscriptionStoredByOlderVersion(t *testing.T) {
	st, s := openDCSA(t, state.Options{})
	id := NewSubscriptionID()
	k, _ := subKey(state.PrefixSub, id)
	v := []byte{state.ValueV1}
	v = state.AppendStr(v, "acme")
	v = state.AppendStr(v, state.RolePort)
	v = state.AppendStrs(v, nil)
	v = state.AppendStrs(v, nil)
	v = state.AppendStrs(v, nil)
	v = state.AppendStr(v, "http://example.com/")
	v = state.AppendBytes(v, make([]byte, 32))
	v = state.AppendStr(v, "")
	v = binary.AppendVarint(v, 1)
	v = binary.AppendVarint(v, 2)
	if err := st.DB().Set(k, v, pebble.Sync); err != nil {
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
	_, s := openDCSA(t, state.Options{MaxSubscriptions: 3})
	put := func(tenant string) error {
		sub := Subscription{ID: NewSubscriptionID(), Tenant: tenant, Role: state.RolePort, CallbackURL: "http://example.com/", Secret: make([]byte, 32)}
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
