package query

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/tenant"
)

// Authentication and authorisation. Every non-public request carries
// "Authorization: Bearer <key>" (the scheme in any case); the key's SHA-256 is looked up in the
// store (tenant.Tenants.LookupAPIKey) and gives the caller's tenant, role and, for a
// logistics tenant, its scope. A request without a known key gets 401
// (when Config.Open is set, a request without any key acts as the port
// operator: the demo on loopback).
//
// A logistics caller sees only containers linked to its scope. Container
// routes (every pattern under /v1/containers/{id}) answer 404 for a box
// outside it, exactly as for a box that does not exist; the container lists
// and /v1/geofences/{id}/inside leave out what it may not see; the /v2
// handlers filter events themselves. Other /v1 routes are open to logistics
// callers only when listed in logisticsRoutes: a route added later stays
// closed to them (403) until it filters by tenant.

// logisticsRoutes are the /v1 patterns (besides /v1/containers/{id}...) a
// logistics caller may use: vessels (public AIS data, every pattern under
// /v1/vessels); geofences (the port model's and the tenant's own) and the
// objects inside the tenant's fences, filtered by Principal.scope (its
// containers, trucks carrying one, every vessel); the container lists (at a
// place, by dwell, held or released by customs), filtered by the same
// scope in the store so that pages, cursors and counts hold only its boxes;
// the live stream, which sends it only vessels, its containers and their
// alerts (stream.go: streamAllowed, alertVisible).
var logisticsRoutes = []string{"/v1/vessels", "/v1/vessels/", "/v1/geofences", "/v1/geofences/{id}",
	"/v1/geofences/{id}/inside", "/v1/containers", "/v1/customs/holds", "/v1/customs/released",
	"/v1/stream", "/v1/stream/token"}

// auth returns the caller, or answers 401 (429 beyond the caller's rate)
// and returns false. The scheme is matched in any case (RFC 9110 §11.1). On
// the open API a request without a key acts as the port operator, and one
// with a key acts as that key's principal: a key that is not known
// (revoked, or never created) is refused as everywhere, never ignored.
func (s *Server) auth(ctx *fasthttp.RequestCtx) (Principal, bool) {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	var p Principal
	if len(h) == 0 {
		if !s.cfg.Open {
			s.unauthorized(ctx, "an API key is required: Authorization: Bearer <key>")
			return Principal{}, false
		}
		p = openPrincipal
	} else {
		key, ok := bearerToken(h)
		if !ok {
			s.unauthorized(ctx, "the Authorization header must be \"Bearer <key>\"")
			return Principal{}, false
		}
		k, err := s.cfg.Store.Tenants.LookupAPIKey(string(key))
		if errors.Is(err, state.ErrNotFound) {
			// Unknown keys spend the budget of the client's address, so
			// that guessing keys is as slow as using one.
			if !s.rateAllow(ctx, rateID{addr: remoteAddr(ctx)}) {
				return Principal{}, false
			}
			s.unauthorized(ctx, "unknown API key: it was revoked or never created (porttrack apikey list shows the keys)")
			return Principal{}, false
		}
		if err != nil {
			s.log.Error("API key lookup failed", "err", err)
			s.anyError(ctx, fasthttp.StatusInternalServerError, "internal", "state read failed")
			return Principal{}, false
		}
		p = keyPrincipal(&k)
	}
	if !s.rateAllow(ctx, rateIDOf(ctx, &p)) {
		return Principal{}, false
	}
	return p, true
}

// keyPrincipal is the caller an API key names: a logistics key brings its
// scope.
func keyPrincipal(k *tenant.APIKey) Principal {
	p := Principal{Tenant: k.Tenant, Role: Role(k.Role), KeyID: k.ID}
	if p.Role == RoleLogistics {
		p.Scope = &k.Scope
	}
	return p
}

// rateIDOf is whom the rate limit counts a request of p against: its key,
// or its address on the open API.
func rateIDOf(ctx *fasthttp.RequestCtx, p *Principal) rateID {
	if p.KeyID == "" {
		return rateID{addr: remoteAddr(ctx)}
	}
	return rateID{key: p.KeyID}
}

func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a.Unmap()
}

// rateAllow takes a token of the caller's rate limit, or answers 429 with
// Retry-After and returns false.
func (s *Server) rateAllow(ctx *fasthttp.RequestCtx, id rateID) bool {
	if s.rate == nil {
		return true
	}
	ok, wait := s.rate.allow(id, time.Now())
	if ok {
		return true
	}
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterSeconds(wait))
	msg := fmt.Sprintf("rate limit exceeded: at most %g requests/s (burst %d) per API key (without a key: per client address); retry after %s s",
		s.rate.rate, int(s.rate.burst), retryAfterSeconds(wait))
	if bytes.HasPrefix(ctx.Path(), []byte("/v2/")) {
		dcsaError(ctx, fasthttp.StatusTooManyRequests, "tooManyRequests", msg)
	} else {
		writeError(ctx, fasthttp.StatusTooManyRequests, "rate_limited", msg)
	}
	return false
}

// bearerToken returns the credentials of an Authorization value of scheme
// Bearer (in any case), or false.
func bearerToken(h []byte) ([]byte, bool) {
	scheme, key, ok := bytes.Cut(h, []byte(" "))
	if !ok || !bytes.EqualFold(scheme, []byte("Bearer")) {
		return nil, false
	}
	key = bytes.TrimLeft(key, " ")
	return key, len(key) > 0 && bytes.IndexByte(key, ' ') < 0
}

func (s *Server) unauthorized(ctx *fasthttp.RequestCtx, msg string) {
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="porttrack"`)
	s.anyError(ctx, fasthttp.StatusUnauthorized, "unauthorized", msg)
}

// anyError writes the error body of the route's API: DCSA's for /v2,
// porttrack's for the rest.
func (s *Server) anyError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	if bytes.HasPrefix(ctx.Path(), []byte("/v2/")) {
		dcsaError(ctx, status, code, msg)
		return
	}
	writeError(ctx, status, code, msg)
}

// authorize decides whether the caller may use the route; when not, it
// answers (403 or 404) and returns false.
func (s *Server) authorize(ctx *fasthttp.RequestCtx, pattern string, r *request) bool {
	if r.who.SeesAll() || strings.HasPrefix(pattern, "/v2/") {
		return true
	}
	if r.who.Role == RoleLogistics {
		if strings.HasPrefix(pattern, "/v1/containers/{id}") {
			id, err := state.ParseContainer(string(r.param(0)))
			if err != nil {
				return true // the handler answers 400
			}
			ok, err := s.cfg.Store.Tenants.Visible(id, r.who.Scope)
			if err != nil {
				s.storeError(ctx, "container "+id, err)
				return false
			}
			if !ok {
				writeError(ctx, fasthttp.StatusNotFound, "not_found", "container "+id+" not found")
			}
			return ok
		}
		for _, p := range logisticsRoutes {
			if pattern == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pattern, p) {
				return true
			}
		}
	}
	writeError(ctx, fasthttp.StatusForbidden, "forbidden", "role "+string(r.who.Role)+" may not use "+pattern)
	return false
}

// visibleEvent reports whether a logistics caller may see a DCSA event:
// TRANSPORT events (public vessel movements) always; others when their own
// links or their container's links meet the scope. seen caches container
// answers for one request.
func (s *Server) visibleEvent(p *Principal, e *state.DCSAEvent, seen map[string]bool) (bool, error) {
	if p.SeesAll() || e.Type == state.DCSATransport {
		return true, nil
	}
	for _, r := range e.Refs {
		if p.Scope.Has(r) {
			return true, nil
		}
	}
	if e.Equipment == "" {
		return false, nil
	}
	if v, ok := seen[e.Equipment]; ok {
		return v, nil
	}
	v, err := s.cfg.Store.Tenants.Visible(e.Equipment, p.Scope)
	if err != nil {
		return false, err
	}
	seen[e.Equipment] = v
	return v, nil
}
