package query

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxRateBuckets bounds the limiter's memory: one bucket per API key (and
// per client address, IPv6 /64, of keyless requests and unknown keys). Beyond it the
// buckets of idle callers (full again) are dropped, then arbitrary ones
// down to 90 % of it (a dropped caller starts again with a full burst).
const maxRateBuckets = 10000

// rateLimiter is a token bucket per caller: rate tokens a second, at most
// burst saved up. A request takes one token; without one it is refused.
type rateLimiter struct {
	rate, burst float64
	refused     atomic.Uint64
	mu          struct {
		sync.Mutex
		buckets map[rateID]*rateBucket
	}
}

// rateID names a caller: its API key's ID, or (keyless, on the open API,
// or with an unknown key) its address; allow groups IPv6 addresses by /64
// (see callerAddr).
type rateID struct {
	key  string
	addr netip.Addr
}

type rateBucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter returns nil (no limit) when rate is 0.
func newRateLimiter(rate float64, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	l := &rateLimiter{rate: rate, burst: max(float64(burst), 1)}
	l.mu.buckets = map[rateID]*rateBucket{}
	return l
}

// allow takes a token of caller id at now; when there is none it returns
// false and how long until there is one.
func (l *rateLimiter) allow(id rateID, now time.Time) (bool, time.Duration) {
	id.addr = callerAddr(id.addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.mu.buckets[id]
	if !ok {
		if len(l.mu.buckets) >= maxRateBuckets {
			l.evictLocked(now)
		}
		b = &rateBucket{tokens: l.burst, last: now}
		l.mu.buckets[id] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	l.refused.Add(1)
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// callerAddr is the part of a client address that names one caller: an
// IPv4 address, or the /64 prefix of an IPv6 one (a host is usually given
// a whole /64, so each of its addresses must not get a budget of its own).
// IPv4-mapped IPv6 addresses count as IPv4; the zone is dropped.
func callerAddr(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if !a.Is6() {
		return a
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil { // cannot happen for an IPv6 address
		return a
	}
	return p.Addr()
}

func (l *rateLimiter) evictLocked(now time.Time) {
	for id, b := range l.mu.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.mu.buckets, id)
		}
	}
	for id := range l.mu.buckets { // down to 90 %, so that the next inserts need no scan
		if len(l.mu.buckets) < maxRateBuckets*9/10 {
			break
		}
		delete(l.mu.buckets, id)
	}
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

func (l *rateLimiter) writePrometheus(w io.Writer) {
	var n uint64
	if l != nil {
		n = l.refused.Load()
	}
	fmt.Fprintf(w, "# HELP porttrack_http_rate_limited_total Requests refused with 429: the caller's key (or address) exceeded rate_limit.\n"+
		"# TYPE porttrack_http_rate_limited_total counter\nporttrack_http_rate_limited_total %d\n", n)
}
