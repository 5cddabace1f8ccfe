package query

import (
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
)

// Role is what a caller may see: customs and port see everything, a
// logistics firm only what is linked to its bookings, transport documents
// or party codes.
type Role string

// Roles.
const (
	RolePort      Role = "port"
	RoleCustoms   Role = "customs"
	RoleLogistics Role = "logistics"
)

// Principal is who a request acts for.
type Principal struct {
	Tenant string
	Role   Role
	// Scope is what a logistics caller sees (nil for other roles).
	Scope *state.Scope
	// KeyID is the ID of the API key the request carried ("" on the open
	// API without a key).
	KeyID string
}

// owns reports whether p may see and change a subscription: one of its
// tenant with its role. A name alone is not enough: a key of another role
// under the same tenant name (which older versions let be created) owns
// nothing of it.
func (p Principal) owns(sub *dcsa.Subscription) bool {
	return sub.Tenant == p.Tenant && sub.Role == string(p.Role)
}

// SeesAll reports whether p may see every container, event and fence.
func (p Principal) SeesAll() bool { return p.Role == RolePort || p.Role == RoleCustoms }

// scope is what the caller's lists and fence answers are filtered by: nil
// for a caller that sees everything, else the logistics caller's scope (an
// empty one when it has none: it sees no container).
func (p Principal) scope() *state.Scope {
	if p.SeesAll() {
		return nil
	}
	if p.Scope == nil {
		return &state.Scope{}
	}
	return p.Scope
}

// ownSubscription makes p the owner of a subscription it creates or
// updates: its key, and its scope (what the callback may be sent).
func (p Principal) ownSubscription(sub *dcsa.Subscription) {
	sub.KeyID = p.KeyID
	sub.Scope = state.Scope{}
	if p.Scope != nil && !p.SeesAll() {
		sub.Scope = *p.Scope
	}
}

// fenceOwner is the owner a fence PUT by p is stored with.
func (p Principal) fenceOwner() state.FenceOwner {
	o := state.FenceOwner{Role: string(p.Role)}
	if p.Scope != nil && !p.SeesAll() {
		o.Scope = *p.Scope
	}
	return o
}

// openPrincipal is the caller when authentication is off (the demo on
// loopback): the port operator.
var openPrincipal = Principal{Tenant: "", Role: RolePort}
