package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Tenancy: API keys (stored hashed) and the links between containers and
// the bookings, transport documents and party codes that a logistics tenant
// is scoped to. See FORMAT.md "Tenancy".

// Link kinds: what a container is linked to.
const (
	LinkBooking   byte = 'B' // carrier booking reference
	LinkTransport byte = 'T' // transport document reference (B/L)
	LinkParty     byte = 'P' // party code (owning or possessing party)
)

// Ref links an event's container to a booking, transport document or party.
type Ref struct {
	Kind  byte // LinkBooking, LinkTransport or LinkParty
	Value string
}

// Scope is what a logistics tenant sees: containers linked to any of these.
type Scope struct {
	Bookings, TransportDocs, Parties []string
}

// Has reports whether r is inside the scope.
func (s *Scope) Has(r Ref) bool {
	if s == nil {
		return false
	}
	switch r.Kind {
	case LinkBooking:
		return slices.Contains(s.Bookings, r.Value)
	case LinkTransport:
		return slices.Contains(s.TransportDocs, r.Value)
	case LinkParty:
		return slices.Contains(s.Parties, r.Value)
	}
	return false
}

// Tenant roles as stored.
const (
	RolePort      = "port"
	RoleCustoms   = "customs"
	RoleLogistics = "logistics"
)

// APIKey is a stored API key: never the key itself, only its hash.
type APIKey struct {
	// ID is the first 8 bytes of the key's SHA-256 in hex: it names the
	// key in listings and for revocation without revealing it.
	ID      string
	Tenant  string
	Role    string
	Scope   Scope
	Created int64 // Unix ns
}

func validRole(r string) bool { return r == RolePort || r == RoleCustoms || r == RoleLogistics }

// Validate checks the key's fields.
func (k *APIKey) Validate() error {
	switch {
	case k.Tenant == "" || len(k.Tenant) > MaxFieldLen:
		return fmt.Errorf("tenant must be 1 to %d bytes", MaxFieldLen)
	case !validRole(k.Role):
		return fmt.Errorf("role %q is not port, customs or logistics", k.Role)
	}
	for _, l := range [][]string{k.Scope.Bookings, k.Scope.TransportDocs, k.Scope.Parties} {
		for _, v := range l {
			if v == "" || len(v) > MaxFieldLen {
				return fmt.Errorf("scope value %q must be 1 to %d bytes", v, MaxFieldLen)
			}
		}
	}
	return nil
}

func apiKeyKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return append([]byte{prefixAPIKey}, h[:]...)
}

func appendStrs(dst []byte, l []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(l)))
	for _, s := range l {
		dst = appendStr(dst, s)
	}
	return dst
}

func (r *reader) strs() []string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	var l []string
	for range n {
		l = append(l, r.str())
	}
	return l
}

func decodeAPIKey(k, v []byte, dst *APIKey) error {
	if len(k) != 33 {
		return errCorrupt
	}
	r := reader{b: v}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	*dst = APIKey{ID: hex.EncodeToString(k[1:9]), Tenant: r.str(), Role: r.str()}
	dst.Scope.Bookings = r.strs()
	dst.Scope.TransportDocs = r.strs()
	dst.Scope.Parties = r.strs()
	dst.Created = r.varint()
	return r.err
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
func (s *Store) CreateAPIKey(secret string, k APIKey) (APIKey, error) {
	if k.Tenant == AdminTenant {
		return k, ErrReservedTenant
	}
	s.subs.Lock()
	defer s.subs.Unlock()
	if err := s.checkTenantRoleLocked(k.Tenant, k.Role); err != nil {
		return k, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	k, err := s.putAPIKey(b, secret, k)
	if err != nil {
		return k, err
	}
	return k, b.Commit(pebble.Sync)
}

// checkTenantRoleLocked returns ErrTenantRole when a key or a subscription
// names the tenant with another role (under s.subs).
func (s *Store) checkTenantRoleLocked(tenant, role string) error {
	err := s.APIKeys(func(o *APIKey) error {
		if o.Tenant == tenant && o.Role != role {
			return fmt.Errorf("%w: %q has keys of role %s, not %s", ErrTenantRole, tenant, o.Role, role)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ierr := s.Subscriptions("", func(sub *Subscription) bool {
		if sub.Tenant == tenant && sub.Role != role {
			err = fmt.Errorf("%w: %q has subscriptions of role %s, not %s", ErrTenantRole, tenant, sub.Role, role)
			return false
		}
		return true
	}); ierr != nil {
		return ierr
	}
	return err
}

func (s *Store) putAPIKey(b *pebble.Batch, secret string, k APIKey) (APIKey, error) {
	if len(secret) < 16 {
		return k, errors.New("state: API key shorter than 16 bytes")
	}
	if err := k.Validate(); err != nil {
		return k, fmt.Errorf("state: %w", err)
	}
	if k.Created == 0 {
		k.Created = s.opts.Now().UnixNano()
	}
	key := apiKeyKey(secret)
	k.ID = hex.EncodeToString(key[1:9])
	v := []byte{valueV1}
	v = appendStr(v, k.Tenant)
	v = appendStr(v, k.Role)
	v = appendStrs(v, k.Scope.Bookings)
	v = appendStrs(v, k.Scope.TransportDocs)
	v = appendStrs(v, k.Scope.Parties)
	v = binary.AppendVarint(v, k.Created)
	return k, b.Set(key, v, nil)
}

// SetAdminKey makes secret the one key of the admin tenant (role port):
// every other key of tenant AdminTenant, whatever its role (an older
// admin key, or a key an older version let claim the name), is deleted in
// the same batch, so a replaced admin key stops working. An empty secret
// leaves the admin tenant without a key. It returns the IDs of the keys
// removed.
func (s *Store) SetAdminKey(secret string) (removed []string, err error) {
	s.subs.Lock()
	defer s.subs.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	var keep []byte
	if secret != "" {
		keep = apiKeyKey(secret)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAPIKey}, UpperBound: []byte{prefixAPIKey + 1}})
	if err != nil {
		return nil, err
	}
	var k APIKey
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeAPIKey(it.Key(), it.Value(), &k); err != nil {
			it.Close()
			return nil, fmt.Errorf("state: API key %x: %w", it.Key(), err)
		}
		if k.Tenant != AdminTenant || bytes.Equal(it.Key(), keep) && k.Role == RolePort {
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
		if _, err := s.putAPIKey(b, secret, APIKey{Tenant: AdminTenant, Role: RolePort}); err != nil {
			return nil, err
		}
	}
	return removed, b.Commit(pebble.Sync)
}

// APIKeyByID returns the key with this ID (see APIKey.ID), or ErrNotFound.
func (s *Store) APIKeyByID(id string) (APIKey, error) {
	var k APIKey
	found, err := s.apiKeyByID(id, func(key, v []byte) error { return decodeAPIKey(key, v, &k) })
	if err == nil && !found {
		err = ErrNotFound
	}
	return k, err
}

// apiKeyByID calls fn with the key and value of the key with this ID.
func (s *Store) apiKeyByID(id string, fn func(k, v []byte) error) (bool, error) {
	raw, err := hex.DecodeString(strings.ToLower(id))
	if err != nil || len(raw) != 8 {
		return false, nil
	}
	lower := append([]byte{prefixAPIKey}, raw...)
	upper := append(bytes.Clone(lower), bytes.Repeat([]byte{0xff}, 25)...)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	defer it.Close()
	if !it.First() {
		return false, it.Error()
	}
	return true, fn(it.Key(), it.Value())
}

// LookupAPIKey returns the key whose secret this is, or ErrNotFound.
func (s *Store) LookupAPIKey(secret string) (APIKey, error) {
	var k APIKey
	key := apiKeyKey(secret)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return k, ErrNotFound
	}
	if err != nil {
		return k, err
	}
	defer closer.Close()
	return k, decodeAPIKey(key, v, &k)
}

// APIKeys calls fn for every stored key, in hash order.
func (s *Store) APIKeys(fn func(*APIKey) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAPIKey}, UpperBound: []byte{prefixAPIKey + 1}})
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

// RevokeAPIKey deletes the key with this ID (see APIKey.ID), or returns
// ErrNotFound.
//
// The key's subscriptions pause (SubscriptionOwnerLive): they deliver
// nothing until another key of the tenant updates them.
func (s *Store) RevokeAPIKey(id string) error {
	var found []byte
	ok, err := s.apiKeyByID(id, func(k, _ []byte) error { found = bytes.Clone(k); return nil })
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return s.db.Delete(found, pebble.Sync)
}

// linkKey is 0x61 | container | kind | value.
func linkKey(dst []byte, container string, r Ref) []byte {
	dst = append(dst, prefixLink)
	dst = append(dst, container...)
	dst = append(dst, r.Kind)
	return append(dst, r.Value...)
}

// writeLinks records the event's links (under s.mu, in the Apply batch).
func writeLinks(pb *pebble.Batch, e *Event) error {
	for _, r := range e.Refs {
		if err := pb.Set(linkKey(nil, e.Container, r), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// Links calls fn with every booking, transport document and party linked
// to the container (in key order). The Ref's Value is a copy.
func (s *Store) Links(container string, fn func(Ref) bool) error {
	return linksIn(s.db, container, fn)
}

func linksIn(rd pebble.Reader, container string, fn func(Ref) bool) error {
	lower := append([]byte{prefixLink}, container...)
	upper := append(bytes.Clone(lower), 0xff)
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[len(lower):]
		if len(k) < 1 {
			return errCorrupt
		}
		if !fn(Ref{Kind: k[0], Value: string(k[1:])}) {
			break
		}
	}
	return it.Error()
}

// scopeFilter answers visibleIn for the many containers of one list
// through one iterator over the link family: a seek per container instead
// of an iterator each (a list of a yard block reads hundreds of boxes).
type scopeFilter struct {
	it  *pebble.Iterator
	key []byte
}

// visible is visibleIn(rd, container, scope); rd must be the same reader
// on every call until close.
func (f *scopeFilter) visible(rd pebble.Reader, container string, scope *Scope) (bool, error) {
	if scope == nil {
		return false, nil
	}
	if f.it == nil {
		it, err := rd.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLink}, UpperBound: []byte{prefixLink + 1}})
		if err != nil {
			return false, err
		}
		f.it = it
	}
	f.key = append(append(f.key[:0], prefixLink), container...)
	for ok := f.it.SeekGE(f.key); ok; ok = f.it.Next() {
		k := f.it.Key()
		if !bytes.HasPrefix(k, f.key) {
			break
		}
		k = k[len(f.key):]
		if len(k) < 1 {
			return false, errCorrupt
		}
		if scope.Has(Ref{Kind: k[0], Value: string(k[1:])}) {
			return true, nil
		}
	}
	return false, f.it.Error()
}

func (f *scopeFilter) close() {
	if f.it != nil {
		f.it.Close()
		f.it = nil
	}
}

// ScopeFilter returns visible, which reports whether a container is linked
// to anything in scope as vw sees it, for the many containers of one list
// (one iterator reused across calls), and done, which releases it. A nil
// scope sees nothing.
func (s *Store) ScopeFilter(vw *View, scope *Scope) (visible func(container string) (bool, error), done func()) {
	f := &scopeFilter{}
	return func(c string) (bool, error) { return f.visible(vw.r, c, scope) }, f.close
}

// Visible reports whether a container is linked to anything in scope.
func (s *Store) Visible(container string, scope *Scope) (bool, error) {
	return visibleIn(s.db, container, scope)
}

// visibleIn is Visible read from rd (a snapshot, for lists answered from
// one).
func visibleIn(rd pebble.Reader, container string, scope *Scope) (bool, error) {
	if scope == nil {
		return false, nil
	}
	vis := false
	err := linksIn(rd, container, func(r Ref) bool {
		vis = scope.Has(r)
		return !vis
	})
	return vis, err
}
