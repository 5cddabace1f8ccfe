package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/customs"
)

// customsRoutes are the e-commerce order and container customs endpoints.
// Orders are for the port and customs roles only; the lists of held and
// released boxes answer a logistics caller with its own boxes (as
// /v1/containers/{id} shows it their customs state).
func (s *Server) customsRoutes() []route {
	get := func(h handler) map[string]handler {
		return map[string]handler{"GET": func(ctx *fasthttp.RequestCtx, r *request) {
			if !r.who.SeesAll() {
				writeError(ctx, fasthttp.StatusForbidden, "forbidden", "customs data is for the port and customs roles")
				return
			}
			h(ctx, r)
		}}
	}
	return []route{
		{pattern: "/v1/orders", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.orderList(ctx) })},
		{pattern: "/v1/orders/{ebpCode}/{orderNo}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.order(ctx, r.param(0), r.param(1)) })},
		{pattern: "/v1/customs/holds", methods: map[string]handler{"GET": s.customsHolds}},
		{pattern: "/v1/customs/released", methods: map[string]handler{"GET": s.customsReleased}},
	}
}

func (s *Server) now() int64 {
	if s.cfg.Now != nil {
		return s.cfg.Now().UnixNano()
	}
	return time.Now().UnixNano()
}

func unescapeParam(ctx *fasthttp.RequestCtx, name string, raw []byte) (string, bool) {
	v, err := url.PathUnescape(string(raw))
	if err != nil || v == "" || len(v) > 256 {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s: not a valid path segment: %q", name, raw))
		return "", false
	}
	return v, true
}

// order answers GET /v1/orders/{ebpCode}/{orderNo}: the order aggregate
// (documents, match result, customs status, history) as stored.
func (s *Server) order(ctx *fasthttp.RequestCtx, rawEBP, rawNo []byte) {
	ebp, ok := unescapeParam(ctx, "ebpCode", rawEBP)
	if !ok {
		return
	}
	no, ok := unescapeParam(ctx, "orderNo", rawNo)
	if !ok {
		return
	}
	b, err := s.cfg.Store.Customs.Order(body(ctx), ebp, no)
	if err != nil {
		s.storeError(ctx, "order "+ebp+"/"+no, err)
		return
	}
	ctx.SetContentType("application/json")
	setBody(ctx, b)
}

var (
	orderResults  = []string{"pending", "matched", "mismatched", "incomplete"}
	orderStatuses = []string{"none", "pending", "send_failed", "rejected", "accepted", "under_review", "concluded", "inspection", "held", "returned", "released", "closed"}
)

func oneOf(ctx *fasthttp.RequestCtx, name string, allowed []string) (string, bool) {
	v := string(ctx.QueryArgs().Peek(name))
	if v == "" {
		return "", true
	}
	for _, a := range allowed {
		if a == v {
			return v, true
		}
	}
	writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s: want one of %q, got %q", name, allowed, v))
	return "", false
}

// orderList answers GET /v1/orders?result=&reason=&status=&limit=&cursor=.
func (s *Server) orderList(ctx *fasthttp.RequestCtx) {
	var q customs.OrderListQuery
	var ok bool
	if q.Result, ok = oneOf(ctx, "result", orderResults); !ok {
		return
	}
	if q.Reason, ok = oneOf(ctx, "reason", state.MatchRuleNames()); !ok {
		return
	}
	if q.Status, ok = oneOf(ctx, "status", orderStatuses); !ok {
		return
	}
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return
	}
	q.Cursor = string(ctx.QueryArgs().Peek("cursor"))
	// The first given filter picks the index; the others filter.
	var keep func([]byte) bool
	if n := btoi(q.Result != "") + btoi(q.Reason != "") + btoi(q.Status != ""); n > 1 {
		keep = func(sum []byte) bool {
			var o struct {
				Result  string   `json:"result"`
				Reasons []string `json:"reasons"`
				Status  string   `json:"status"`
			}
			if json.Unmarshal(sum, &o) != nil {
				return false
			}
			hasReason := q.Reason == ""
			for _, r := range o.Reasons {
				hasReason = hasReason || r == q.Reason
			}
			return (q.Result == "" || o.Result == q.Result) && (q.Status == "" || o.Status == q.Status) && hasReason
		}
	}
	l := newList(ctx, `{"orders":[`)
	next, err := s.cfg.Store.Customs.Orders(q, keep, func(sum []byte) error {
		l.b = append(l.next(), sum...)
		return nil
	})
	if errors.Is(err, state.ErrBadCursor) {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "cursor: not a cursor returned by this endpoint with these filters")
		return
	}
	l.b = appendString(append(l.b, `],"next_cursor":`...), next)
	s.finishList(ctx, &l, "}", err, "order list")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendSeconds(b []byte, d int64) []byte {
	return strconv.AppendInt(b, max(d, 0)/int64(time.Second), 10)
}

// customsHolds answers GET /v1/customs/holds?limit=&cursor=: boxes held by
// customs, under inspection or in quarantine, with reason, since and
// duration. A logistics caller's list holds only its boxes.
func (s *Server) customsHolds(ctx *fasthttp.RequestCtx, r *request) {
	q := customs.ListQuery{Cursor: string(ctx.QueryArgs().Peek("cursor")), Scope: r.who.scope()}
	var ok bool
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return
	}
	now := s.now()
	l := newList(ctx, `{"holds":[`)
	next, err := s.cfg.Store.Customs.Holds(q, func(h *customs.HeldBox) error {
		b := append(l.next(), '{')
		b = appendKey(b, true, "container")
		b = appendString(b, h.Container)
		first := h.Blocks[0]
		for _, bl := range h.Blocks[1:] {
			if bl.Since < first.Since {
				first = bl
			}
		}
		b = appendKey(b, false, "kind")
		b = appendString(b, first.Kind)
		b = appendKey(b, false, "reason")
		b = appendString(b, first.Reason)
		b = appendKey(b, false, "since")
		b = appendTime(b, first.Since)
		b = appendKey(b, false, "duration_s")
		b = appendSeconds(b, now-first.Since)
		b = appendKey(b, false, "blocking")
		b = appendBlocks(b, h.Blocks)
		l.b = append(b, '}')
		return nil
	})
	if errors.Is(err, state.ErrBadCursor) {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "cursor: not a cursor returned by this endpoint")
		return
	}
	l.b = appendString(append(l.b, `],"next_cursor":`...), next)
	s.finishList(ctx, &l, "}", err, "customs holds")
}

// customsReleased answers GET /v1/customs/released?picked_up=&limit=&cursor=:
// boxes customs released, with whether they left the terminal (their newest
// event is a gate-out or a load). A logistics caller's list holds only its
// boxes.
func (s *Server) customsReleased(ctx *fasthttp.RequestCtx, r *request) {
	q := customs.ListQuery{Cursor: string(ctx.QueryArgs().Peek("cursor")), Scope: r.who.scope()}
	var ok bool
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return
	}
	filter := -1
	if v := ctx.QueryArgs().Peek("picked_up"); len(v) > 0 {
		p, err := strconv.ParseBool(string(v))
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("picked_up: want true or false, got %q", v))
			return
		}
		filter = btoi(p)
	}
	now := s.now()
	l := newList(ctx, `{"containers":[`)
	// The list and each box's current state from one snapshot.
	vw := s.cfg.Store.View()
	defer vw.Close()
	next, err := s.cfg.Store.Customs.Released(vw, q, func(rb *customs.ReleasedBox) (bool, error) {
		c, err := vw.Container(rb.Container)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return false, err
		}
		// Gone: gated out, or loaded onto a ship or train (an export box
		// whose customs file closed after loading).
		picked := err == nil && (c.Last.Code == state.CodeGTOT || c.Last.Code == state.CodeLOAD)
		if filter >= 0 && btoi(picked) != filter {
			return false, nil
		}
		b := append(l.next(), '{')
		b = appendKey(b, true, "container")
		b = appendString(b, rb.Container)
		b = appendKey(b, false, "customs_status")
		b = appendString(b, rb.Status)
		b = appendKey(b, false, "released_at")
		b = appendTime(b, rb.Since)
		b = appendKey(b, false, "picked_up")
		b = strconv.AppendBool(b, picked)
		if err == nil {
			b = appendKey(b, false, "status")
			b = appendString(b, c.Status())
			b = appendKey(b, false, "location")
			b = appendString(b, c.Last.Location)
		}
		if !picked {
			b = appendKey(b, false, "waiting_s")
			b = appendSeconds(b, now-rb.Since)
		}
		l.b = append(b, '}')
		return true, nil
	})
	if errors.Is(err, state.ErrBadCursor) {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "cursor: not a cursor returned by this endpoint")
		return
	}
	l.b = appendString(append(l.b, `],"next_cursor":`...), next)
	s.finishList(ctx, &l, "}", err, "released containers")
}

func appendBlocks(b []byte, blocks []customs.Block) []byte {
	b = append(b, '[')
	for i, bl := range blocks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendKey(b, true, "kind")
		b = appendString(b, bl.Kind)
		if bl.Since != 0 {
			b = appendKey(b, false, "since")
			b = appendTime(b, bl.Since)
		}
		b = appendKey(b, false, "reason")
		b = appendString(b, bl.Reason)
		b = append(b, '}')
	}
	return append(b, ']')
}

// customsScratch holds the buffers of the customs part of container
// answers, so that the lookup does not allocate for them.
var customsScratch = sync.Pool{New: func() any { return new(customsBuf) }}

type customsBuf struct {
	cc     customs.ContainerCustoms
	reason []byte
}

// bytesString views b as a string for appending; the string must not be
// kept.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func appendBlock(b []byte, first *bool, kind string, since int64, reason string) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = append(b, '{')
	b = appendKey(b, true, "kind")
	b = appendString(b, kind)
	if since != 0 {
		b = appendKey(b, false, "since")
		b = appendTime(b, since)
	}
	b = appendKey(b, false, "reason")
	b = appendString(b, reason)
	return append(b, '}')
}

// appendCustomsReadiness appends the "customs" (when customs spoke of the
// box) and "readiness" members of a container answer, read from the
// answer's view; c is nil when no RFID/EPCIS event of the box is known.
// found reports whether customs state exists.
func appendCustomsReadiness(b []byte, cu *customs.Customs, vw *state.View, id string, c *state.Container) ([]byte, bool, error) {
	sc := customsScratch.Get().(*customsBuf)
	defer customsScratch.Put(sc)
	cc := &sc.cc
	err := cu.ContainerCustoms(vw, id, cc)
	found := err == nil
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return b, false, err
	}
	if found {
		b = appendKey(b, false, "customs")
		b = append(b, cc.JSON...)
	}
	// What customs keeps the box for (customs.ContainerCustoms.PickupBlocks).
	customsBlocks := 0
	cc.PickupBlocks(func([]byte, []byte, int64) { customsBlocks++ })
	// The box's own status (RFID/EPCIS) may block it too.
	var kind, prefix string
	var since int64
	switch {
	case c == nil:
		kind = "not_discharged"
	case c.Last.Code == state.CodeLOAD:
		kind, prefix, since = "not_discharged", "loaded at ", c.Last.Time
	case c.Last.Code == state.CodeHOLD:
		kind, prefix, since = "terminal_hold", "terminal hold at ", c.Last.Time
	case c.Last.Code == state.CodeGTOT:
		kind, prefix, since = "gated_out", "gated out at ", c.Last.Time
	}
	b = appendKey(b, false, "readiness")
	b = append(b, `{"available_for_pickup":`...)
	b = strconv.AppendBool(b, customsBlocks == 0 && kind == "")
	b = append(b, `,"blocking":[`...)
	first := true
	cc.PickupBlocks(func(k, reason []byte, since int64) {
		b = appendBlock(b, &first, bytesString(k), since, bytesString(reason))
	})
	switch {
	case kind == "":
	case c == nil:
		b = appendBlock(b, &first, kind, 0, "no discharge seen")
	default:
		sc.reason = append(append(sc.reason[:0], prefix...), c.Last.Location...)
		b = appendBlock(b, &first, kind, since, bytesString(sc.reason))
	}
	return append(b, "]}"...), found, nil
}

// customsOnlyContainer answers GET /v1/containers/{id} for a box with no
// RFID/EPCIS event: its customs state and readiness, or 404.
func (s *Server) customsOnlyContainer(ctx *fasthttp.RequestCtx, vw *state.View, id string) {
	b := appendString(append(body(ctx), `{"id":`...), id)
	b, found, err := appendCustomsReadiness(b, s.cfg.Store.Customs, vw, id, nil)
	if err == nil && !found {
		err = state.ErrNotFound
	}
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	ctx.SetContentType("application/json")
	setBody(ctx, append(b, '}'))
}
