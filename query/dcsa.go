package query

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// DCSA Track & Trace 2.2: GET /v2/events and /v2/events/{eventID}, served
// from the store's DCSA event log (state/dcsa.go), and the spec's error body.

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
	b := append(ctx.Response.Body()[:0], `{"httpMethod":`...)
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
	ctx.Response.SetBodyRaw(b)
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

// eventFilter is a parsed /v2/events query (also a subscription's filter).
type eventFilter struct {
	types                                       []string // eventType; nil: all
	shipCodes, docTypes, transCodes, equipCodes []string // nil: not filtered
	booking, tdr, callID, imo, voyage, service  *string
	locode, equipment                           *string
	never                                       bool // a filter that no event can meet (deprecated ids)
	created                                     []createdBound
	desc                                        bool
	limit                                       int
	raw                                         string // canonical query, for cursors
}

type createdBound struct {
	op string // gte gt lte lt eq
	t  int64
}

var (
	eventTypes      = []string{state.DCSAShipment, state.DCSATransport, state.DCSAEquipment}
	shipmentCodes   = strings.Split("RECE,DRFT,PENA,PENU,REJE,APPR,ISSU,SURR,SUBM,VOID,CONF,REQS,CMPL,HOLD,RELS", ",")
	documentTypes   = strings.Split("CBR,BKG,SHI,SRM,TRD,ARN,VGM,CAS,CUS,DGD,OOG", ",")
	transportCodes  = []string{"ARRI", "DEPA"}
	equipmentCodes  = strings.Split("LOAD,DISC,GTIN,GTOT,STUF,STRP,PICK,DROP,INSP,RSEA,RMVD", ",")
	stringFilterMax = map[string]int{
		"carrierBookingReference": 35, "bookingReference": 35, "transportDocumentReference": 20,
		"transportCallID": 100, "vesselIMONumber": 7, "exportVoyageNumber": 50, "carrierVoyageNumber": 50,
		"carrierServiceCode": 5, "UNLocationCode": 5, "equipmentReference": 15, "scheduleID": 100,
	}
)

// parseEventFilter reads the filters of /v2/events from args; a message
// names what is wrong.
func parseEventFilter(args *fasthttp.Args, maxLimit int) (eventFilter, error) {
	f := eventFilter{limit: min(100, maxLimit)}
	var err error
	keys := make([]string, 0, 8)
	args.VisitAll(func(k, v []byte) {
		if err != nil {
			return
		}
		key, val := string(k), string(v)
		keys = append(keys, key)
		list := func(allowed []string) []string {
			var out []string
			for _, x := range strings.Split(val, ",") {
				if !slices.Contains(allowed, x) {
					err = fmt.Errorf("%s: %q is not one of %s", key, x, strings.Join(allowed, ","))
					return nil
				}
				out = append(out, x)
			}
			return out
		}
		str := func(dst **string) {
			if n := stringFilterMax[key]; len(val) > n || val == "" {
				err = fmt.Errorf("%s: want 1 to %d characters", key, n)
				return
			}
			*dst = &val
		}
		switch key {
		case "eventType":
			f.types = list(eventTypes)
		case "shipmentEventTypeCode":
			f.shipCodes = list(shipmentCodes)
		case "documentTypeCode":
			f.docTypes = list(documentTypes)
		case "transportEventTypeCode":
			f.transCodes = list(transportCodes)
		case "equipmentEventTypeCode":
			f.equipCodes = list(equipmentCodes)
		case "carrierBookingReference", "bookingReference":
			str(&f.booking)
		case "transportDocumentReference":
			str(&f.tdr)
		case "transportCallID":
			str(&f.callID)
		case "vesselIMONumber":
			str(&f.imo)
		case "exportVoyageNumber", "carrierVoyageNumber":
			str(&f.voyage)
		case "carrierServiceCode":
			str(&f.service)
		case "UNLocationCode":
			str(&f.locode)
		case "equipmentReference":
			str(&f.equipment)
		case "transportDocumentID", "scheduleID":
			// Deprecated ids porttrack never assigns: nothing matches.
			f.never = true
		case "limit":
			n, e := strconv.Atoi(val)
			if e != nil || n < 1 || n > maxLimit {
				err = fmt.Errorf("limit: want an integer in [1, %d], got %q", maxLimit, val)
				return
			}
			f.limit = n
		case "sort":
			for i, field := range strings.Split(val, ",") {
				name, dir, _ := strings.Cut(field, ":")
				if name != "eventCreatedDateTime" || i > 0 {
					err = fmt.Errorf("sort: only eventCreatedDateTime[:ASC|:DESC] is supported, got %q", field)
					return
				}
				switch strings.ToUpper(dir) {
				case "", "ASC":
				case "DESC":
					f.desc = true
				default:
					err = fmt.Errorf("sort: direction %q is not ASC or DESC", dir)
					return
				}
			}
		default:
			name, op, _ := strings.Cut(key, ":")
			if name != "eventCreatedDateTime" {
				err = fmt.Errorf("%s: unknown query parameter", key)
				return
			}
			if op == "" {
				op = "eq"
			}
			if op != "gte" && op != "gt" && op != "lte" && op != "lt" && op != "eq" {
				err = fmt.Errorf("%s: operator %q is not gte, gt, lte, lt or eq", key, op)
				return
			}
			t, e := time.Parse(time.RFC3339Nano, val)
			if e != nil {
				err = fmt.Errorf("%s: want an RFC 3339 date-time, got %q", key, val)
				return
			}
			f.created = append(f.created, createdBound{op: op, t: t.UnixNano()})
		}
	})
	if err != nil {
		return f, err
	}
	// The canonical query: the filters in a fixed order, for cursors.
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var q url.Values = map[string][]string{}
	for _, k := range keys {
		q.Set(k, string(args.Peek(k)))
	}
	f.raw = q.Encode()
	return f, nil
}

// linkCache holds the links of the containers one request looked at.
type linkCache map[string][]state.Ref

func (s *Server) containerLinks(c linkCache, id string) ([]state.Ref, error) {
	if l, ok := c[id]; ok {
		return l, nil
	}
	var l []state.Ref
	err := s.cfg.Store.Links(id, func(r state.Ref) bool { l = append(l, r); return true })
	c[id] = l
	return l, err
}

// linked reports whether the event or its container carries the link.
func (s *Server) linked(c linkCache, e *state.DCSAEvent, want state.Ref) (bool, error) {
	if slices.Contains(e.Refs, want) {
		return true, nil
	}
	if e.Equipment == "" {
		return false, nil
	}
	l, err := s.containerLinks(c, e.Equipment)
	return slices.Contains(l, want), err
}

// match applies the filter to one event.
func (s *Server) match(f *eventFilter, e *state.DCSAEvent, c linkCache) (bool, error) {
	if f.never {
		return false, nil
	}
	if f.types != nil && !slices.Contains(f.types, e.Type) {
		return false, nil
	}
	codes := func(l []string, typ string) bool {
		return l == nil || (e.Type == typ && slices.Contains(l, e.Code))
	}
	if !codes(f.shipCodes, state.DCSAShipment) || !codes(f.transCodes, state.DCSATransport) || !codes(f.equipCodes, state.DCSAEquipment) {
		return false, nil
	}
	if f.docTypes != nil && (e.Type != state.DCSAShipment || !slices.Contains(f.docTypes, e.DocumentType)) {
		return false, nil
	}
	eq := func(want *string, have string) bool { return want == nil || *want == have }
	if !eq(f.callID, e.TransportCallID) || !eq(f.imo, e.VesselIMO) || !eq(f.voyage, e.ExportVoyage) ||
		!eq(f.service, e.ServiceCode) || !eq(f.locode, e.UNLocationCode) || !eq(f.equipment, e.Equipment) {
		return false, nil
	}
	for _, b := range f.created {
		ok := false
		switch b.op {
		case "gte":
			ok = e.Created >= b.t
		case "gt":
			ok = e.Created > b.t
		case "lte":
			ok = e.Created <= b.t
		case "lt":
			ok = e.Created < b.t
		case "eq":
			ok = e.Created == b.t
		}
		if !ok {
			return false, nil
		}
	}
	if f.booking != nil {
		if ok, err := s.linked(c, e, state.Ref{Kind: state.LinkBooking, Value: *f.booking}); !ok || err != nil {
			return false, err
		}
	}
	if f.tdr != nil {
		if ok, err := s.linked(c, e, state.Ref{Kind: state.LinkTransport, Value: *f.tdr}); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// pastEnd reports whether, scanning in direction desc, no later event can
// meet the created bounds (eventCreatedDateTime never decreases along the
// log).
func (f *eventFilter) pastEnd(e *state.DCSAEvent, desc bool) bool {
	for _, b := range f.created {
		switch {
		case !desc && (b.op == "lt" && e.Created >= b.t || b.op == "lte" && e.Created > b.t || b.op == "eq" && e.Created > b.t):
			return true
		case desc && (b.op == "gt" && e.Created <= b.t || b.op == "gte" && e.Created < b.t || b.op == "eq" && e.Created < b.t):
			return true
		}
	}
	return false
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

func (f *eventFilter) start() uint64 {
	if f.desc {
		return math.MaxUint64
	}
	return 0
}

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
	f, err := parseEventFilter(args, s.cfg.MaxLimit)
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidQuery", err.Error())
		return
	}
	if len(cs) == 0 {
		cur.seq, cur.raw = f.start(), f.raw
	}
	links := linkCache{}
	seen := map[string]bool{}
	// collect scans from seq in direction desc, collecting up to n
	// matching events (bodies copied) with their seqs.
	type item struct {
		seq  uint64
		body []byte
	}
	collect := func(from uint64, desc bool, n int) ([]item, error) {
		var out []item
		var ferr error
		err := s.cfg.Store.ScanDCSA(from, desc, func(e *state.DCSAEvent) bool {
			if f.pastEnd(e, desc) {
				return false
			}
			ok, err := s.match(&f, e, links)
			if err == nil && ok {
				ok, err = s.visibleEvent(&r.who, e, seen)
			}
			if err != nil {
				ferr = err
				return false
			}
			if ok {
				out = append(out, item{e.Seq, bytes.Clone(e.Body)})
			}
			return len(out) < n
		})
		return out, errors.Join(err, ferr)
	}
	var page []item
	var next, prev *pageCursor
	mk := func(mode byte, seq uint64) *pageCursor { return &pageCursor{mode: mode, seq: seq, raw: f.raw} }
	switch cur.mode {
	case 'F':
		page, err = collect(cur.seq, f.desc, f.limit+1)
		if len(page) > f.limit {
			next = mk('F', page[f.limit].seq)
			page = page[:f.limit]
		}
		if cur.seq != f.start() && len(page) > 0 {
			prev = mk('B', page[0].seq)
		}
	case 'B', 'L':
		// Scan against the sort order: L from the far end, B from just
		// before seq.
		from := uint64(math.MaxUint64)
		if f.desc {
			from = 0
		}
		if cur.mode == 'B' {
			if cur.seq == f.start() {
				break // nothing before the start
			}
			from = cur.seq - 1
			if f.desc {
				from = cur.seq + 1
			}
			next = mk('F', cur.seq)
		}
		page, err = collect(from, !f.desc, f.limit+1)
		if len(page) > f.limit {
			page = page[:f.limit]
			prev = mk('B', page[f.limit-1].seq)
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
	h.Set("First-Page", pageCursor{mode: 'F', seq: f.start(), raw: f.raw}.String())
	h.Set("Last-Page", pageCursor{mode: 'L', raw: f.raw}.String())
	if next != nil {
		h.Set("Next-Page", next.String())
	}
	if prev != nil {
		h.Set("Prev-Page", prev.String())
	}
	b := append(ctx.Response.Body()[:0], '[')
	for i, it := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it.body...)
	}
	b = append(b, ']')
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(b)
}

// dcsaEvent answers GET /v2/events/{eventID}.
func (s *Server) dcsaEvent(ctx *fasthttp.RequestCtx, r *request) {
	if !checkAPIVersion(ctx) {
		return
	}
	id := string(r.param(0))
	e, err := s.cfg.Store.DCSAEventByID(id)
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
