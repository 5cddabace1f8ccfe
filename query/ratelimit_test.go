package query

import (
	"net/netip"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/tenant"
)

// TestRateLimiter: a token bucket per caller that refills at the rate, up
// to the burst, with bounded memory.
func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(2, 3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := rateID{key: "a"}, rateID{addr: netip.MustParseAddr("127.0.0.1")}
	for i := range 3 {
		if ok, _ := l.allow(a, t0); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.allow(a, t0)
	if ok || wait != 500*time.Millisecond || retryAfterSeconds(wait) != "1" {
		t.Fatalf("beyond the burst: %v, wait %s", ok, wait)
	}
	if ok, _ := l.allow(b, t0); !ok {
		t.Error("another caller held by the first")
	}
	if ok, _ := l.allow(a, t0.Add(500*time.Millisecond)); !ok {
		t.Error("not refilled after 1/rate")
	}
	if ok, _ := l.allow(a, t0.Add(500*time.Millisecond)); ok {
		t.Error("refilled more than the time allows")
	}
	if newRateLimiter(0, 10) != nil {
		t.Error("rate 0 is not off")
	}
	for i := range 2 * maxRateBuckets {
		l.allow(rateID{key: string(rune(i))}, t0)
	}
	if n := len(l.mu.buckets); n > maxRateBuckets {
		t.Errorf("%d buckets, at most %d", n, maxRateBuckets)
	}
}

// TestRateLimitOpenAPI: keyless requests on the open API are limited by
// client address.
func TestRateLimitOpenAPI(t *testing.T) {
	ts := newTenantServer(t, Config{Open: true, RateLimit: 0.1, RateBurst: 1}, state.Options{})
	if code, _, body := ts.do(t, "GET", trucksURI, "", ""); code != 200 {
		t.Fatalf("first: %d %s", code, body)
	}
	if code, h, body := ts.do(t, "GET", trucksURI, "", ""); code != 429 || len(h.Peek("Retry-After")) == 0 {
		t.Errorf("second: %d %s", code, body)
	}
}

// TestRateLimitUnknownKeys: unknown keys spend their client address's
// budget, so guessing keys is limited too.
func TestRateLimitUnknownKeys(t *testing.T) {
	ts := newTenantServer(t, Config{RateLimit: 0.1, RateBurst: 2}, state.Options{})
	ts.key(t, tenantPortKey, tenant.APIKey{Tenant: "ops", Role: state.RolePort})
	for i, want := range []int{401, 401, 429, 429} {
		if code, _, body := ts.do(t, "GET", trucksURI, "Bearer guess-"+string(rune('a'+i))+"-0123456789", ""); code != want {
			t.Errorf("guess %d: %d %s, want %d", i, code, body, want)
		}
	}
	if code, _, body := ts.do(t, "GET", trucksURI, "Bearer "+tenantPortKey, ""); code != 200 {
		t.Errorf("a valid key from the same address: %d %s", code, body)
	}
}

// TestRateLimitIPv6Prefix: keyless callers are limited per IPv4 address but
// per IPv6 /64, since one IPv6 host usually holds a whole /64 and could
// otherwise take a fresh budget with every address of it.
func TestRateLimitIPv6Prefix(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	addr := func(s string) rateID { return rateID{addr: netip.MustParseAddr(s)} }
	for _, c := range []struct {
		name        string
		first, then string
		shared      bool
	}{
		{"same IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"same IPv6 /64 with a zone", "fe80::1%eth0", "fe80::2%eth1", true},
		{"other IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"other IPv4 address", "192.0.2.1", "192.0.2.2", false},
		{"IPv4-mapped is IPv4", "::ffff:192.0.2.1", "::ffff:192.0.2.2", false},
		{"IPv4-mapped and IPv4", "::ffff:192.0.2.1", "192.0.2.1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newRateLimiter(1, 1)
			if ok, _ := l.allow(addr(c.first), t0); !ok {
				t.Fatal("first request refused")
			}
			if ok, _ := l.allow(addr(c.then), t0); ok == c.shared {
				t.Errorf("%s after %s: allowed %v, want %v", c.then, c.first, ok, !c.shared)
			}
		})
	}
	// Keys are never grouped.
	l := newRateLimiter(1, 1)
	l.allow(rateID{key: "a"}, t0)
	if ok, _ := l.allow(rateID{key: "b"}, t0); !ok {
		t.Error("key b held by key a")
	}
}
