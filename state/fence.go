package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/geo"
)

// Geofence key layout (FORMAT.md; the prefixes are in keys.go).
const (
	fenceKeySep            byte = 0x00 // ends the tenant and the fence id in keys
	maxFenceIDLen               = 128
	maxTenantLen                = 128
	defaultMaxFencesTenant      = 1000
)

// Errors of the geofence control plane. Validation errors of the GeoJSON
// wrap geo.ErrInvalidFence.
var (
	// ErrFenceReadOnly: the id belongs to a port-model fence.
	ErrFenceReadOnly = errors.New("state: fence belongs to the port model and is read-only")
	// ErrFenceLimit: the tenant already has FenceConfig.MaxPerTenant fences.
	ErrFenceLimit = errors.New("state: too many fences for the tenant")
	// ErrFenceID: the fence id or the tenant is not usable as a key.
	ErrFenceID = errors.New("state: invalid fence id")
)

// FenceConfig tunes user geofences and their enter/exit events.
type FenceConfig struct {
	// MinDwell is how long, by event time, an object must be observed
	// inside (outside) a fence before it counts as inside (outside): it
	// absorbs GPS jitter at the edge. 0 decides on the first observation.
	MinDwell time.Duration
	// MaxPerTenant bounds the fences one tenant may define; 0 means 1000.
	MaxPerTenant int
	// AlertTopic receives one JSON record per enter/exit through the
	// outbox; "" keeps membership without publishing.
	AlertTopic string
	// Readers places RFID readers (reader id → position) so that a
	// container seen by a reader is observed there. ReaderPositions reads
	// them from the port model's GeoJSON.
	Readers map[string]geo.LatLng
}

func (c FenceConfig) withDefaults() FenceConfig {
	if c.MaxPerTenant == 0 {
		c.MaxPerTenant = defaultMaxFencesTenant
	}
	return c
}

func (c FenceConfig) validate() error {
	if c.MinDwell < 0 {
		return errors.New("state: Fences.MinDwell is negative")
	}
	if c.MaxPerTenant < 0 {
		return errors.New("state: Fences.MaxPerTenant is negative")
	}
	return nil
}

// UserFence is a geofence defined by a tenant over the API. Fence is
// immutable; its Feature.ID is the index key, use ID for the fence's id.
type UserFence struct {
	Tenant, ID string
	Owner      FenceOwner
	Fence      *geo.Fence
	Updated    int64 // wall time of the last PUT, Unix ns
}

// FenceOwner is what a fence's enter and exit events may tell: the role
// and, for a logistics tenant, the scope of the API key that last PUT the
// fence (as a subscription keeps its owner's scope). A logistics owner
// gets events only for objects it may see (see objectVisible).
type FenceOwner struct {
	Role  string
	Scope Scope
}

// scope returns the owner's scope, or nil when the owner sees everything.
func (o *FenceOwner) scope() *Scope {
	if o.Role == RoleLogistics {
		return &o.Scope
	}
	return nil
}

// fenceRegistry holds the user fences in memory: the index ingest
// consults per position and the fences by key. Writers hold Store.mu and
// the write lock; Apply reads under Store.mu alone; queries take the read
// lock.
type fenceRegistry struct {
	sync.RWMutex
	idx      *geo.FenceIndex
	byKey    map[string]*UserFence // fenceKey → fence
	byTenant map[string]int        // fences per tenant
}

// fenceKey joins tenant and id; it is both the in-memory key and the key
// bytes after the prefix (tenant | 0x00 | id).
func fenceKey(tenant, id string) string { return tenant + string(fenceKeySep) + id }

func splitFenceKey(k string) (tenant, id string) {
	tenant, id, _ = strings.Cut(k, string(fenceKeySep))
	return tenant, id
}

func userFenceKey(dst []byte, fk string) []byte {
	dst = append(dst, prefixUserFence)
	return append(dst, fk...)
}

// CheckFenceID validates a fence id: 1 to 128 bytes of UTF-8 without
// control characters or '/'.
func CheckFenceID(id string) error {
	if id == "" || len(id) > maxFenceIDLen {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrFenceID, len(id), maxFenceIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: not UTF-8", ErrFenceID)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r == '/' {
			return fmt.Errorf("%w: %q holds a control character or '/'", ErrFenceID, id)
		}
	}
	return nil
}

func checkTenant(t string) error {
	if len(t) > maxTenantLen || strings.IndexByte(t, fenceKeySep) >= 0 {
		return fmt.Errorf("%w: tenant %.64q", ErrFenceID, t)
	}
	return nil
}

// loadFences rebuilds the user fences and the membership table at Open.
func (s *Store) loadFences() error {
	idx, err := geo.NewFenceIndex(geo.ResArea)
	if err != nil {
		return err
	}
	reg := &s.fence.reg
	reg.idx, reg.byKey, reg.byTenant = idx, map[string]*UserFence{}, map[string]int{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixUserFence}, UpperBound: []byte{prefixUserFence + 1}})
	if err != nil {
		return err
	}
	legacy := s.legacyFenceOwners()
	for ok := it.First(); ok; ok = it.Next() {
		fk := string(it.Key()[1:])
		uf, err := decodeUserFence(fk, it.Value(), legacy)
		if err != nil {
			it.Close()
			return fmt.Errorf("state: user fence %q: %w", fk, err)
		}
		reg.add(uf)
	}
	if err := it.Close(); err != nil {
		return err
	}
	return s.loadMemberships()
}

func (reg *fenceRegistry) add(uf *UserFence) {
	fk := fenceKey(uf.Tenant, uf.ID)
	if _, ok := reg.byKey[fk]; !ok {
		reg.byTenant[uf.Tenant]++
	}
	reg.byKey[fk] = uf
	_ = reg.idx.Add(uf.Fence) // same resolution, non-empty ID: cannot fail
}

func (reg *fenceRegistry) remove(fk string) {
	uf, ok := reg.byKey[fk]
	if !ok {
		return
	}
	delete(reg.byKey, fk)
	if reg.byTenant[uf.Tenant]--; reg.byTenant[uf.Tenant] == 0 {
		delete(reg.byTenant, uf.Tenant)
	}
	reg.idx.Remove(fk)
}

// User fence value (FORMAT.md): version 2 | updated varint | str GeoJSON
// Feature | str owner role | the owner's scope. Version 1 has no owner.
const userFenceV2 byte = 0x02

func appendUserFence(dst []byte, updated int64, raw []byte, owner *FenceOwner) []byte {
	dst = append(dst, userFenceV2)
	dst = binary.AppendVarint(dst, updated)
	dst = appendBytes(dst, raw)
	dst = appendStr(dst, owner.Role)
	dst = appendStrs(dst, owner.Scope.Bookings)
	dst = appendStrs(dst, owner.Scope.TransportDocs)
	return appendStrs(dst, owner.Scope.Parties)
}

// decodeUserFence decodes a stored fence; legacy is the owner of a
// version 1 fence (see legacyFenceOwners).
func decodeUserFence(fk string, b []byte, legacy func(tenant string) (FenceOwner, error)) (*UserFence, error) {
	r := reader{b: b}
	ver := r.byte()
	if ver != valueV1 && ver != userFenceV2 {
		return nil, errCorrupt
	}
	updated := r.varint()
	raw := r.bytes()
	var owner FenceOwner
	if ver == userFenceV2 {
		owner.Role = r.str()
		owner.Scope.Bookings, owner.Scope.TransportDocs, owner.Scope.Parties = r.strs(), r.strs(), r.strs()
	}
	if r.err != nil {
		return nil, r.err
	}
	tenant, id := splitFenceKey(fk)
	if ver == valueV1 {
		var err error
		if owner, err = legacy(tenant); err != nil {
			return nil, err
		}
	}
	uf, err := buildUserFence(tenant, id, raw, updated)
	if err != nil {
		return nil, err
	}
	uf.Owner = owner
	return uf, nil
}

// buildUserFence parses and covers a fence's GeoJSON Feature.
func buildUserFence(tenant, id string, raw []byte, updated int64) (*UserFence, error) {
	f, err := geo.ParseFeature(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if f.ID != id {
		return nil, fmt.Errorf("%w: feature id %q, want %q", geo.ErrInvalidFence, f.ID, id)
	}
	f.ID = fenceKey(tenant, id)
	fe, err := geo.NewFence(f, geo.ResArea)
	if err != nil {
		return nil, err
	}
	return &UserFence{Tenant: tenant, ID: id, Fence: fe, Updated: updated}, nil
}

// PutFence creates or replaces the tenant's fence id from a GeoJSON
// Feature (whose "id" must be id), owned by owner: the role and scope of the
// caller, which decide what the fence's events may tell (FenceOwner). It is
// a control-plane write: its own atomic batch. Memberships of a replaced fence are kept and follow the new
// shape from each object's next position. It returns whether the fence was
// created, ErrFenceReadOnly for a port-model id, ErrFenceLimit when the
// tenant has MaxPerTenant fences, ErrFenceID or an error wrapping
// geo.ErrInvalidFence for bad input.
func (s *Store) PutFence(tenant, id string, owner FenceOwner, feature []byte) (created bool, err error) {
	if err := CheckFenceID(id); err != nil {
		return false, err
	}
	if err := checkTenant(tenant); err != nil {
		return false, err
	}
	if !ValidRole(owner.Role) {
		return false, fmt.Errorf("state: fence owner role %q is not port, customs or logistics", owner.Role)
	}
	if _, ok := s.opts.PortModel.Fence(id); ok {
		return false, fmt.Errorf("%w: %s", ErrFenceReadOnly, id)
	}
	now := s.opts.Now().UnixNano()
	// Covering a fence takes milliseconds: do it before taking the lock.
	uf, err := buildUserFence(tenant, id, feature, now)
	if err != nil {
		return false, err
	}
	uf.Owner = owner
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false, ErrClosed
	}
	fk := fenceKey(tenant, id)
	_, exists := s.fence.reg.byKey[fk]
	if !exists && s.fence.reg.byTenant[tenant] >= s.opts.Fences.MaxPerTenant {
		return false, fmt.Errorf("%w: %d fences already, at most %d", ErrFenceLimit, s.fence.reg.byTenant[tenant], s.opts.Fences.MaxPerTenant)
	}
	if err := s.db.Set(userFenceKey(nil, fk), appendUserFence(nil, now, feature, &owner), s.writeO); err != nil {
		return false, fmt.Errorf("state: store fence: %w", err)
	}
	s.fence.reg.Lock()
	s.fence.reg.add(uf)
	s.fence.reg.Unlock()
	return !exists, nil
}

// DeleteFence deletes the tenant's fence id and every membership in it, in
// one batch; objects inside get no exit event (the fence is gone). It
// returns ErrNotFound for an unknown fence and ErrFenceReadOnly for a
// port-model id.
func (s *Store) DeleteFence(tenant, id string) error {
	if _, ok := s.opts.PortModel.Fence(id); ok {
		return fmt.Errorf("%w: %s", ErrFenceReadOnly, id)
	}
	if CheckFenceID(id) != nil || checkTenant(tenant) != nil {
		return ErrNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	fk := fenceKey(tenant, id)
	if _, ok := s.fence.reg.byKey[fk]; !ok {
		return ErrNotFound
	}
	var objs []string
	lo, hi := memberRange(fk)
	err := s.scanMembers(s.db, lo, hi, func(obj string, _ *membership) error {
		objs = append(objs, obj)
		return nil
	})
	if err != nil {
		return err
	}
	pb := s.db.NewBatch()
	defer pb.Close()
	if err := pb.Delete(userFenceKey(nil, fk), nil); err != nil {
		return err
	}
	if err := pb.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := pb.Commit(s.writeO); err != nil {
		return fmt.Errorf("state: delete fence: %w", err)
	}
	s.fence.reg.Lock()
	s.fence.reg.remove(fk)
	s.fence.reg.Unlock()
	for _, obj := range objs {
		if ms := s.fence.members[obj]; ms != nil {
			delete(ms, fk)
			if len(ms) == 0 {
				delete(s.fence.members, obj)
			}
		}
	}
	return nil
}

// UserFence returns the tenant's fence id, or ErrNotFound.
func (s *Store) UserFence(tenant, id string) (*UserFence, error) {
	s.fence.reg.RLock()
	defer s.fence.reg.RUnlock()
	uf, ok := s.fence.reg.byKey[fenceKey(tenant, id)]
	if !ok {
		return nil, ErrNotFound
	}
	return uf, nil
}

// EachUserFence calls fn with the tenant's fences in id order until fn
// returns false.
func (s *Store) EachUserFence(tenant string, fn func(*UserFence) bool) {
	s.fence.reg.RLock()
	var list []*UserFence
	for _, uf := range s.fence.reg.byKey {
		if uf.Tenant == tenant {
			list = append(list, uf)
		}
	}
	s.fence.reg.RUnlock()
	slices.SortFunc(list, func(a, b *UserFence) int { return strings.Compare(a.ID, b.ID) })
	for _, uf := range list {
		if !fn(uf) {
			return
		}
	}
}

// ReaderPositions reads the RFID reader positions of a port-model GeoJSON
// FeatureCollection: Point features with properties kind "reader" and
// reader (the reader id). Other features are ignored.
func ReaderPositions(geojson []byte) (map[string]geo.LatLng, error) {
	return readerPositions(geojson)
}

// legacyFenceOwners returns the owner of fences stored before owners were
// (value version 1), by tenant, from the tenant's API keys read once: a
// tenant with a port or customs key sees everything; otherwise it is a
// logistics tenant with the union of its keys' scopes (none: it sees no
// container or truck). A PUT of the fence stores its owner.
func (s *Store) legacyFenceOwners() func(tenant string) (FenceOwner, error) {
	var owners map[string]*FenceOwner
	return func(tenant string) (FenceOwner, error) {
		if owners == nil {
			owners = map[string]*FenceOwner{}
			err := s.opts.Keys.EachKey(s.db, func(tenant, role string, scope *Scope) error {
				o := owners[tenant]
				if o == nil {
					o = &FenceOwner{Role: RoleLogistics}
					owners[tenant] = o
				}
				if role != RoleLogistics {
					o.Role = role
				}
				o.Scope.Bookings = append(o.Scope.Bookings, scope.Bookings...)
				o.Scope.TransportDocs = append(o.Scope.TransportDocs, scope.TransportDocs...)
				o.Scope.Parties = append(o.Scope.Parties, scope.Parties...)
				return nil
			})
			if err != nil {
				return FenceOwner{}, fmt.Errorf("state: owners of legacy fences: %w", err)
			}
		}
		if o := owners[tenant]; o != nil {
			if o.Role != RoleLogistics {
				return FenceOwner{Role: o.Role}, nil
			}
			return *o, nil
		}
		return FenceOwner{Role: RoleLogistics}, nil
	}
}
