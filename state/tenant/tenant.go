// Package tenant keeps porttrack's tenants: their API keys, stored hashed
// (FORMAT.md "Tenancy", family 0x60), each with its tenant, role and, for
// a logistics tenant, scope; the admin key; and the reads of the container
// links a scope is checked against.
//
// API keys are control-plane records: written by their own small batches
// outside Apply. The links (0x61) are written by Apply from the container
// events' references (state.Event.Refs); the kernel's domains read them
// through state.LinksIn and state.VisibleIn.
package tenant

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Subscriptions is what the tenants need of the DCSA subscriptions: a
// tenant has one role across its keys and its subscriptions, checked and
// written under the one lock of control-plane writes of both.
type Subscriptions interface {
	// ControlLock is the lock under which keys and subscriptions are
	// written.
	ControlLock() sync.Locker
	// SubscriptionRoles calls fn with the tenant and role of every
	// subscription until fn returns false.
	SubscriptionRoles(fn func(tenant, role string) bool) error
}

// Tenants is the tenancy domain over one opened store.
type Tenants struct {
	st   *state.Store
	db   *pebble.DB
	subs Subscriptions
}

// New returns the tenants of no store yet: EachKey and KeyOwner (the keys
// as the kernel and the DCSA subscriptions read them) read the reader they
// are given, so they work before the store opens (state.Options.Keys).
// Attach gives it the store.
func New() *Tenants { return &Tenants{} }

// Attach gives t its opened store and the subscriptions it checks roles
// against; every other method needs it.
func (t *Tenants) Attach(st *state.Store, subs Subscriptions) {
	t.st, t.db, t.subs = st, st.DB(), subs
}

// APIKey is a stored API key: never the key itself, only its hash.
type APIKey struct {
	// ID is the first 8 bytes of the key's SHA-256 in hex: it names the
	// key in listings and for revocation without revealing it.
	ID      string
	Tenant  string
	Role    string
	Scope   state.Scope
	Created int64 // Unix ns
}

// Validate checks the key's fields.
func (k *APIKey) Validate() error {
	switch {
	case k.Tenant == "" || len(k.Tenant) > state.MaxFieldLen:
		return fmt.Errorf("tenant must be 1 to %d bytes", state.MaxFieldLen)
	case !state.ValidRole(k.Role):
		return fmt.Errorf("role %q is not port, customs or logistics", k.Role)
	}
	for _, l := range [][]string{k.Scope.Bookings, k.Scope.TransportDocs, k.Scope.Parties} {
		for _, v := range l {
			if v == "" || len(v) > state.MaxFieldLen {
				return fmt.Errorf("scope value %q must be 1 to %d bytes", v, state.MaxFieldLen)
			}
		}
	}
	return nil
}

func apiKeyKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return append([]byte{state.PrefixAPIKey}, h[:]...)
}

func decodeAPIKey(k, v []byte, dst *APIKey) error {
	if len(k) != 33 {
		return state.ErrCorrupt
	}
	r := state.NewReader(v)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	*dst = APIKey{ID: hex.EncodeToString(k[1:9]), Tenant: r.Str(), Role: r.Str()}
	dst.Scope.Bookings = r.Strs()
	dst.Scope.TransportDocs = r.Strs()
	dst.Scope.Parties = r.Strs()
	dst.Created = r.Varint()
	return r.Err()
}

// AdminTenant is the tenant of the admin key (the admin_key setting): a
// port-role identity of its own. No other key may name it (CreateAPIKey
// refuses it); SetAdminKey replaces its one key.
const AdminTenant = "admin"

var (
	// ErrTenantRole: the tenant exists with another role (a tenant has one
	// role, so that names never let one role act on another's records).
	ErrTenantRole = errors.New("state: tenant exists with another role")
	// ErrReservedTenant: the tenant name is the admin key's.
	ErrReservedTenant = errors.New(`state: tenant "` + AdminTenant + `" is reserved for the admin key (the admin_key setting)`)
)

// CreateAPIKey stores the hash of secret with k's tenant, role and scope
// (a control-plane write; creating the same secret again replaces it). It
// returns the stored key with its ID. A tenant has one role: a tenant that
// already has a key of another role is refused with ErrTenantRole, and the
// admin key's tenant with ErrReservedTenant.
func (t *Tenants) CreateAPIKey(secret string, k APIKey) (APIKey, error) {
	if k.Tenant == AdminTenant {
		return k, ErrReservedTenant
	}
	mu := t.subs.ControlLock()
	mu.Lock()
	defer mu.Unlock()
	if err := t.checkTenantRoleLocked(k.Tenant, k.Role); err != nil {
		return k, err
	}
	b := t.db.NewBatch()
	defer b.Close()
	k, err := t.putAPIKey(b, secret, k)
	if err != nil {
		return k, err
	}
	return k, b.Commit(pebble.Sync)
}

// checkTenantRoleLocked returns ErrTenantRole when a key or a subscription
// names the tenant with another role (under the control lock).
func (t *Tenants) checkTenantRoleLocked(tenant, role string) error {
	err := t.APIKeys(func(o *APIKey) error {
		if o.Tenant == tenant && o.Role != role {
			return fmt.Errorf("%w: %q has keys of role %s, not %s", ErrTenantRole, tenant, o.Role, role)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ierr := t.subs.SubscriptionRoles(func(subTenant, subRole string) bool {
		if subTenant == tenant && subRole != role {
			err = fmt.Errorf("%w: %q has subscriptions of role %s, not %s", ErrTenantRole, tenant, subRole, role)
			return false
		}
		return true
	}); ierr != nil {
		return ierr
	}
	return err
}

func (t *Tenants) putAPIKey(b *pebble.Batch, secret string, k APIKey) (APIKey, error) {
	if len(secret) < 16 {
		return k, errors.New("state: API key shorter than 16 bytes")
	}
	if err := k.Validate(); err != nil {
		return k, fmt.Errorf("state: %w", err)
	}
	if k.Created == 0 {
		k.Created = t.st.Now().UnixNano()
	}
	key := apiKeyKey(secret)
	k.ID = hex.EncodeToString(key[1:9])
	v := []byte{state.ValueV1}
	v = state.AppendStr(v, k.Tenant)
	v = state.AppendStr(v, k.Role)
	v = state.AppendStrs(v, k.Scope.Bookings)
	v = state.AppendStrs(v, k.Scope.TransportDocs)
	v = state.AppendStrs(v, k.Scope.Parties)
	v = binary.AppendVarint(v, k.Created)
	return k, b.Set(key, v, nil)
}

// SetAdminKey makes secret the one key of the admin tenant (role port):
// every other key of tenant AdminTenant, whatever its role (an older
// admin key, or a key an older version let claim the name), is deleted in
// the same batch, so a replaced admin key stops working. An empty secret
// leaves the admin tenant without a key. It returns the IDs of the keys
// removed.
func (t *Tenants) SetAdminKey(secret string) (removed []string, err error) {
	mu := t.subs.ControlLock()
	mu.Lock()
	defer mu.Unlock()
	b := t.db.NewBatch()
	defer b.Close()
	var keep []byte
	if secret != "" {
		keep = apiKeyKey(secret)
	}
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixAPIKey}, UpperBound: []byte{state.PrefixAPIKey + 1}})
	if err != nil {
		return nil, err
	}
	var k APIKey
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeAPIKey(it.Key(), it.Value(), &k); err != nil {
			it.Close()
			return nil, fmt.Errorf("state: API key %x: %w", it.Key(), err)
		}
		if k.Tenant != AdminTenant || bytes.Equal(it.Key(), keep) && k.Role == state.RolePort {
			continue
		}
		removed = append(removed, k.ID)
		if err := b.Delete(it.Key(), nil); err != nil {
			it.Close()
			return nil, err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	if secret != "" {
		if _, err := t.putAPIKey(b, secret, APIKey{Tenant: AdminTenant, Role: state.RolePort}); err != nil {
			return nil, err
		}
	}
	return removed, b.Commit(pebble.Sync)
}

// APIKeyByID returns the key with this ID (see APIKey.ID), or
// state.ErrNotFound.
func (t *Tenants) APIKeyByID(id string) (APIKey, error) {
	return apiKeyByIDIn(t.db, id)
}

func apiKeyByIDIn(rd pebble.Reader, id string) (APIKey, error) {
	var k APIKey
	found, err := apiKeyByID(rd, id, func(key, v []byte) error { return decodeAPIKey(key, v, &k) })
	if err == nil && !found {
		err = state.ErrNotFound
	}
	return k, err
}

// apiKeyByID calls fn with the key and value of the key with this ID.
func apiKeyByID(rd pebble.Reader, id string, fn func(k, v []byte) error) (bool, error) {
	raw, err := hex.DecodeString(strings.ToLower(id))
	if err != nil || len(raw) != 8 {
		return false, nil
	}
	lower := append([]byte{state.PrefixAPIKey}, raw...)
	upper := append(bytes.Clone(lower), bytes.Repeat([]byte{0xff}, 25)...)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	defer it.Close()
	if !it.First() {
		return false, it.Error()
	}
	return true, fn(it.Key(), it.Value())
}

// LookupAPIKey returns the key whose secret this is, or state.ErrNotFound.
func (t *Tenants) LookupAPIKey(secret string) (APIKey, error) {
	var k APIKey
	key := apiKeyKey(secret)
	v, closer, err := t.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return k, state.ErrNotFound
	}
	if err != nil {
		return k, err
	}
	defer closer.Close()
	return k, decodeAPIKey(key, v, &k)
}

// APIKeys calls fn for every stored key, in hash order.
func (t *Tenants) APIKeys(fn func(*APIKey) error) error { return apiKeysIn(t.db, fn) }

func apiKeysIn(rd pebble.Reader, fn func(*APIKey) error) error {
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixAPIKey}, UpperBound: []byte{state.PrefixAPIKey + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var k APIKey
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeAPIKey(it.Key(), it.Value(), &k); err != nil {
			return fmt.Errorf("state: API key %x: %w", it.Key(), err)
		}
		if err := fn(&k); err != nil {
			return err
		}
	}
	return it.Error()
}

// EachKey calls fn with the tenant, role and scope of every key stored in
// rd (state.Keys).
func (t *Tenants) EachKey(rd pebble.Reader, fn func(tenant, role string, scope *state.Scope) error) error {
	return apiKeysIn(rd, func(k *APIKey) error { return fn(k.Tenant, k.Role, &k.Scope) })
}

// KeyOwner returns the tenant and role of the key with this ID in rd, or
// state.ErrNotFound (dcsa.Keys).
func (t *Tenants) KeyOwner(rd pebble.Reader, id string) (tenant, role string, err error) {
	k, err := apiKeyByIDIn(rd, id)
	return k.Tenant, k.Role, err
}

// RevokeAPIKey deletes the key with this ID (see APIKey.ID), or returns
// state.ErrNotFound.
//
// The key's subscriptions pause (the DCSA subscriptions' owner check): they
// deliver nothing until another key of the tenant updates them.
func (t *Tenants) RevokeAPIKey(id string) error {
	var found []byte
	ok, err := apiKeyByID(t.db, id, func(k, _ []byte) error { found = bytes.Clone(k); return nil })
	if err != nil {
		return err
	}
	if !ok {
		return state.ErrNotFound
	}
	return t.db.Delete(found, pebble.Sync)
}

// Links calls fn with every booking, transport document and party linked
// to the container (in key order). The Ref's Value is a copy.
func (t *Tenants) Links(container string, fn func(state.Ref) bool) error {
	return state.LinksIn(t.db, container, fn)
}

// Visible reports whether a container is linked to anything in scope.
func (t *Tenants) Visible(container string, scope *state.Scope) (bool, error) {
	return state.VisibleIn(t.db, container, scope)
}
