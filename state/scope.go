package state

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Scopes and container links: the bookings, transport documents and party
// codes that container events link their boxes to (FORMAT.md "Tenancy",
// the link family), and the scope of a logistics tenant over them. The
// tenants' API keys are state/tenant's.

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

// Tenant roles as stored (API keys, subscriptions, fence owners).
const (
	RolePort      = "port"
	RoleCustoms   = "customs"
	RoleLogistics = "logistics"
)

// ValidRole reports whether r is one of the roles.
func ValidRole(r string) bool { return r == RolePort || r == RoleCustoms || r == RoleLogistics }

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

// Keys is what the kernel's domains need of the tenants' API keys
// (state/tenant satisfies it; portstate sets it as Options.Keys): a fence
// stored before owners were takes its owner from its tenant's keys.
type Keys interface {
	// EachKey calls fn with the tenant, role and scope of every key
	// stored in rd.
	EachKey(rd pebble.Reader, fn func(tenant, role string, scope *Scope) error) error
}

// noKeys is the Keys of a Store opened without Options.Keys: no key.
type noKeys struct{}

func (noKeys) EachKey(pebble.Reader, func(string, string, *Scope) error) error { return nil }

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

// LinksIn calls fn with every booking, transport document and party linked
// to the container in rd (in key order). The Ref's Value is a copy.
func LinksIn(rd pebble.Reader, container string, fn func(Ref) bool) error {
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

// scopeFilter answers VisibleIn for the many containers of one list
// through one iterator over the link family: a seek per container instead
// of an iterator each (a list of a yard block reads hundreds of boxes).
type scopeFilter struct {
	it  *pebble.Iterator
	key []byte
}

// visible is VisibleIn(rd, container, scope); rd must be the same reader
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

// VisibleIn reports whether a container is linked in rd to anything in
// scope.
func VisibleIn(rd pebble.Reader, container string, scope *Scope) (bool, error) {
	if scope == nil {
		return false, nil
	}
	vis := false
	err := LinksIn(rd, container, func(r Ref) bool {
		vis = scope.Has(r)
		return !vis
	})
	return vis, err
}

// ScopeFilter returns visible, which reports whether a container is linked
// to anything in scope as vw sees it, for the many containers of one list
// (one iterator reused across calls), and done, which releases it. A nil
// scope sees nothing.
func (s *Store) ScopeFilter(vw *View, scope *Scope) (visible func(container string) (bool, error), done func()) {
	f := &scopeFilter{}
	return func(c string) (bool, error) { return f.visible(vw.r, c, scope) }, f.close
}
