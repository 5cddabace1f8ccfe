package bench

import (
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// SentHeader carries the time the load generator sent a request, in Unix
// nanoseconds (open-loop HTTP jobs only). The wall clock is shared by the
// generator and the bench process; over a case of seconds its slew is
// microseconds at most.
const SentHeader = "X-Bench-Sent"

// serverSplit splits the latency of stamped requests, on the server's
// side, into the time before the handler starts (from the generator's
// send: loopback TCP, the wait for the Go runtime to poll the connection
// and for a thread and a core to run it, and fasthttp's parsing) and the
// time in the handler (the query itself, with any wait for a lock or a
// processor while it runs). The split tells which of the two a tail of
// the end-to-end latency comes from.
type serverSplit struct {
	mu     sync.Mutex
	on     bool
	before histogram
	in     histogram
}

// wrap is a query.Config.Wrap: it times the requests that carry
// SentHeader while the split is on.
func (s *serverSplit) wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		sent, ok := parseSent(ctx.Request.Header.Peek(SentHeader))
		if !ok {
			next(ctx)
			return
		}
		t0 := time.Now()
		next(ctx)
		d := time.Since(t0)
		s.mu.Lock()
		if s.on {
			s.before.record(time.Duration(t0.UnixNano() - sent))
			s.in.record(d)
		}
		s.mu.Unlock()
	}
}

// start clears the histograms and starts recording.
func (s *serverSplit) start() {
	s.mu.Lock()
	s.before, s.in = histogram{}, histogram{}
	s.on = true
	s.mu.Unlock()
}

// stop stops recording and returns the two summaries and how many
// requests they hold.
func (s *serverSplit) stop() (before, in latencySummary, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	return s.before.summary(), s.in.summary(), s.before.n
}

// parseSent reads a decimal SentHeader value.
func parseSent(b []byte) (int64, bool) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 || b[0] == '+' {
		return 0, false
	}
	return v, true
}
