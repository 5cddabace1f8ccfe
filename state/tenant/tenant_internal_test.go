package tenant

import (
	"errors"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
)

// noSubs are subscriptions of a store that has none.
type noSubs struct{ mu sync.Mutex }

func (s *noSubs) ControlLock() sync.Locker                             { return &s.mu }
func (*noSubs) SubscriptionRoles(func(tenant, role string) bool) error { return nil }

// openTenants opens a store in memory with its tenants and no
// subscriptions.
func openTenants(tb testing.TB) (*state.Store, *Tenants) {
	tb.Helper()
	t := New()
	st, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), Keys: t})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	t.Attach(st, &noSubs{})
	return st, t
}

// TestSetAdminKeyReplaces: a new admin key replaces the old one, which no
// longer authenticates; keys an older version let claim the tenant go too.
func TestSetAdminKeyReplaces(t *testing.T) {
	st, s := openTenants(t)
	// As an older version stored them: the admin key and a logistics key
	// that claimed the name.
	b := st.DB().NewBatch()
	old, err := s.putAPIKey(b, "old-admin-key-0123456789", APIKey{Tenant: AdminTenant, Role: state.RolePort})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := s.putAPIKey(b, "claimed-admin-0123456789", APIKey{Tenant: AdminTenant, Role: state.RoleLogistics})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateAPIKey("other-port-key-0123456789", APIKey{Tenant: "ops", Role: state.RolePort})
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
		if _, err := s.LookupAPIKey(k); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("replaced key %s still works: %v", k, err)
		}
	}
	if k, err := s.LookupAPIKey("new-admin-key-0123456789"); err != nil || k.Tenant != AdminTenant || k.Role != state.RolePort {
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
	if _, err := s.LookupAPIKey("new-admin-key-0123456789"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("admin key without the setting: %v", err)
	}
}
