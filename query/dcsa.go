package query

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
)

// DCSA Track & Trace 2.2: GET /v2/events and /v2/events/{eventID}, served
// from the store's DCSA event log (state/dcsa), and the spec's error body.

// dcsaAPIVersion is the API-Version response header.
const dcsaAPIVersion = "2.2.0"

func (s *Server) dcsaRoutes() []route {
	get := func(h handler) map[string]handler { return map[string]handler{"GET": h} }
	return []route{
		{pattern: "/v2/events", methods: get(s.dcsaEvents)},
		{pattern: "/v2/events/{eventID}", methods: get(s.dcsaEvent)},
	}
}

// dcsaError writes the DCSA error body.
func dcsaError(ctx *fasthttp.RequestCtx, status int, reason, msg string) {
	ctx.Response.Header.Set("API-Version", dcsaAPIVersion)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := append(body(ctx), `{"httpMethod":`...)
	b = appendString(b, string(ctx.Method()))
	b = append(b, `,"requestUri":`...)
	b = appendString(b, string(ctx.RequestURI()))
	b = append(b, `,"statusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"statusCodeText":`...)
	b = appendString(b, fasthttp.StatusMessage(status))
	b = append(b, `,"errorDateTime":`...)
	b = appendTime(b, time.Now().UnixNano())
	b = append(b, `,"errors":[{"reason":`...)
	b = appendString(b, reason)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, `}]}`...)
	setBody(ctx, b)
}

// checkAPIVersion answers 400 when the request's API-Version is not 2.
func checkAPIVersion(ctx *fasthttp.RequestCtx) bool {
	ctx.Response.Header.Set("API-Version", dcsaAPIVersion)
	v := ctx.Request.Header.Peek("API-Version")
	if len(v) == 0 || string(v) == "2" {
		return true
	}
	dcsaError(ctx, fasthttp.StatusBadRequest, "invalidParameter", fmt.Sprintf("API-Version: this server speaks major version 2, got %q", v))
	return false
}

// linkCache holds the links of the containers one request looked at.
type linkCache map[string][]state.Ref

func (s *Server) linksOf(c linkCache) func(string) ([]state.Ref, error) {
	return func(id string) ([]state.Ref, error) {
		if l, ok := c[id]; ok {
			return l, nil
		}
		var l []state.Ref
		err := s.cfg.Store.Tenants.Links(id, func(r state.Ref) bool { l = append(l, r); return true })
		c[id] = l
		return l, err
	}
}

// argsValues copies fasthttp query args into url.Values.
func argsValues(args *fasthttp.Args) url.Values {
	q := url.Values{}
	args.VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	return q
}

// Cursors. A cursor is opaque to clients: base64url of
//
//	version 1 | mode | seq u64 BE | canonical filter query
//
// mode 'F' is a page starting at seq (inclusive) in sort order, 'B' the
// page just before seq, 'L' the last page.
type pageCursor struct {
	mode byte
	seq  uint64
	raw  string
}

func (c pageCursor) String() string {
	b := []byte{1, c.mode}
	b = binary.BigEndian.AppendUint64(b, c.seq)
	b = append(b, c.raw...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (pageCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 10 || b[0] != 1 || (b[1] != 'F' && b[1] != 'B' && b[1] != 'L') {
		return pageCursor{}, false
	}
	return pageCursor{mode: b[1], seq: binary.BigEndian.Uint64(b[2:10]), raw: string(b[10:])}, true
}

// start is the cursor position of the first page.
func start(f *dcsa.Filter) uint64 {
	if f.Desc {
		return math.MaxUint64
	}
	return 0
}

// pageBufs holds the buffers that collect a page's event bodies.
var pageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// dcsaEvents answers GET /v2/events.
func (s *Server) dcsaEvents(ctx *fasthttp.RequestCtx, r *request) {
	if !checkAPIVersion(ctx) {
		return
	}
	args := ctx.QueryArgs()
	cur := pageCursor{mode: 'F'}
	cs := args.Peek("cursor")
	if len(cs) > 0 {
		var ok bool
		if cur, ok = parseCursor(string(cs)); !ok {
			dcsaError(ctx, fasthttp.StatusBadRequest, "invalidCursor", "cursor: not a cursor returned by this endpoint")
			return
		}
		args = &fasthttp.Args{}
		args.Parse(cur.raw)
	}
	f, err := dcsa.ParseFilter(argsValues(args), s.cfg.MaxLimit, true)
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidQuery", err.Error())
		return
	}
	if len(cs) == 0 {
		cur.seq, cur.raw = start(&f), f.Raw
	}
	// An ascending first page with a lower creation bound starts where
	// the log reaches it (the log is in creation order).
	from := cur.seq
	if t, ok := f.CreatedFrom(); ok && cur.mode == 'F' && cur.seq == 0 && !f.Desc {
		if from, err = s.cfg.Store.DCSA.SeqAt(t); err != nil {
			s.log.Error("DCSA event scan failed", "err", err)
			dcsaError(ctx, fasthttp.StatusInternalServerError, "internalError", "state read failed")
			return
		}
	}
	links := s.linksOf(linkCache{})
	seen := map[string]bool{}
	// collect scans from seq in direction desc, collecting up to n
	// matching events (bodies copied into one buffer) with their seqs.
	type item struct {
		seq      uint64
		off, end int
	}
	bp := pageBufs.Get().(*[]byte)
	bodies := (*bp)[:0]
	defer func() {
		if cap(bodies) <= 4<<20 {
			*bp = bodies
			pageBufs.Put(bp)
		}
	}()
	collect := func(from uint64, desc bool, n int) ([]item, error) {
		out := make([]item, 0, n)
		var ferr error
		scan := s.cfg.Store.DCSA.Scan
		if box, ok := f.Equipment(); ok {
			scan = func(from uint64, desc bool, fn func(*state.DCSAEvent) bool) error {
				return s.cfg.Store.DCSA.ScanOf(box, from, desc, fn)
			}
		}
		err := scan(from, desc, func(e *state.DCSAEvent) bool {
			if f.PastEnd(e, desc) {
				return false
			}
			ok, err := f.Match(e, links)
			if err == nil && ok {
				ok, err = s.visibleEvent(&r.who, e, seen)
			}
			if err != nil {
				ferr = err
				return false
			}
			if ok {
				off := len(bodies)
				bodies = append(bodies, e.Body...)
				out = append(out, item{e.Seq, off, len(bodies)})
			}
			return len(out) < n
		})
		return out, errors.Join(err, ferr)
	}
	var page []item
	var next, prev *pageCursor
	mk := func(mode byte, seq uint64) *pageCursor { return &pageCursor{mode: mode, seq: seq, raw: f.Raw} }
	switch cur.mode {
	case 'F':
		page, err = collect(from, f.Desc, f.Limit+1)
		if len(page) > f.Limit {
			next = mk('F', page[f.Limit].seq)
			page = page[:f.Limit]
		}
		if cur.seq != start(&f) && len(page) > 0 {
			prev = mk('B', page[0].seq)
		}
	case 'B', 'L':
		// Scan against the sort order: L from the far end, B from just
		// before seq.
		from := uint64(math.MaxUint64)
		if f.Desc {
			from = 0
		}
		if cur.mode == 'B' {
			if cur.seq == start(&f) {
				break // nothing before the start
			}
			from = cur.seq - 1
			if f.Desc {
				from = cur.seq + 1
			}
			next = mk('F', cur.seq)
		}
		page, err = collect(from, !f.Desc, f.Limit+1)
		if len(page) > f.Limit {
			page = page[:f.Limit]
			prev = mk('B', page[f.Limit-1].seq)
		}
		slices.Reverse(page)
	}
	if err != nil {
		s.log.Error("DCSA event scan failed", "err", err)
		dcsaError(ctx, fasthttp.StatusInternalServerError, "internalError", "state read failed")
		return
	}
	h := &ctx.Response.Header
	h.Set("Current-Page", cur.String())
	h.Set("First-Page", pageCursor{mode: 'F', seq: start(&f), raw: f.Raw}.String())
	h.Set("Last-Page", pageCursor{mode: 'L', raw: f.Raw}.String())
	if next != nil {
		h.Set("Next-Page", next.String())
	}
	if prev != nil {
		h.Set("Prev-Page", prev.String())
	}
	size := 2 + len(page)
	for _, it := range page {
		size += it.end - it.off
	}
	b := append(slices.Grow(body(ctx), size), '[')
	for i, it := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, bodies[it.off:it.end]...)
	}
	b = append(b, ']')
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

// dcsaEvent answers GET /v2/events/{eventID}.
func (s *Server) dcsaEvent(ctx *fasthttp.RequestCtx, r *request) {
	if !checkAPIVersion(ctx) {
		return
	}
	id := string(r.param(0))
	e, err := s.cfg.Store.DCSA.EventByID(id)
	if errors.Is(err, state.ErrNotFound) {
		dcsaError(ctx, fasthttp.StatusNotFound, "notFound", "event "+id+" not found")
		return
	}
	if err != nil {
		s.log.Error("DCSA event read failed", "err", err)
		dcsaError(ctx, fasthttp.StatusInternalServerError, "internalError", "state read failed")
		return
	}
	if ok, err := s.visibleEvent(&r.who, &e, map[string]bool{}); err != nil || !ok {
		if err != nil {
			s.log.Error("DCSA event read failed", "err", err)
			dcsaError(ctx, fasthttp.StatusInternalServerError, "internalError", "state read failed")
			return
		}
		dcsaError(ctx, fasthttp.StatusNotFound, "notFound", "event "+id+" not found")
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(e.Body)
}
