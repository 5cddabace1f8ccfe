package query

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
)

// DCSA event subscriptions: /v2/event-subscriptions create, list, get,
// update, delete and secret reset as TNT 2.2 defines them, plus porttrack's
// delivery log, dead letters and redelivery of one subscription. A
// subscription belongs to the caller's tenant and role (Principal.owns):
// another's answers 404, and the deliverer sends it only events its owner
// may see. The key that creates or last updates (PUT) a subscription owns
// it: its scope is the subscription's, and once that key is revoked the
// subscription pauses until another key of the tenant updates it.

func (s *Server) subscriptionRoutes() []route {
	return []route{
		{pattern: "/v2/event-subscriptions", methods: map[string]handler{"GET": s.subList, "POST": s.subCreate}},
		{pattern: "/v2/event-subscriptions/{subscriptionID}", methods: map[string]handler{"GET": s.subGet, "PUT": s.subUpdate, "DELETE": s.subDelete}},
		{pattern: "/v2/event-subscriptions/{subscriptionID}/secret", methods: map[string]handler{"PUT": s.subSecret}},
		{pattern: "/v2/event-subscriptions/{subscriptionID}/deliveries", methods: map[string]handler{"GET": s.subDeliveries}},
		{pattern: "/v2/event-subscriptions/{subscriptionID}/dead-letters", methods: map[string]handler{"GET": s.subDeadLetters}},
		{pattern: "/v2/event-subscriptions/{subscriptionID}/redeliver", methods: map[string]handler{"POST": s.subRedeliver}},
	}
}

// Subscription body fields that are arrays in the spec; the other filter
// fields are strings.
var subArrayFields = map[string]bool{
	"eventType": true, "shipmentEventTypeCode": true, "documentTypeCode": true, "transportEventTypeCode": true,
	"equipmentEventTypeCode": true, "transportDocumentTypeCode": true,
}

var subStringFields = map[string]bool{
	"carrierBookingReference": true, "bookingReference": true, "transportDocumentID": true, "transportDocumentReference": true,
	"scheduleID": true, "transportCallID": true, "vesselIMONumber": true, "carrierVoyageNumber": true,
	"exportVoyageNumber": true, "carrierServiceCode": true, "UNLocationCode": true, "equipmentReference": true,
}

// subBody is a parsed subscription request body.
type subBody struct {
	id, callbackURL string
	secret          []byte
	hasSecret       bool
	filter          dcsa.Filter
}

func decodeSecret(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("secret: want a Base64 string")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return nil, errors.New("secret: not Base64")
		}
	}
	if len(b) < dcsa.MinSecretLen || len(b) > dcsa.MaxSecretLen {
		return nil, fmt.Errorf("secret: must decode to %d to %d bytes, got %d", dcsa.MinSecretLen, dcsa.MaxSecretLen, len(b))
	}
	return b, nil
}

func (s *Server) parseSubBody(body []byte) (subBody, error) {
	var sb subBody
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return sb, fmt.Errorf("body: want a JSON object: %v", err)
	}
	q := url.Values{}
	for k, raw := range m {
		switch {
		case k == "callbackUrl":
			if err := json.Unmarshal(raw, &sb.callbackURL); err != nil {
				return sb, errors.New("callbackUrl: want a string")
			}
		case k == "secret":
			b, err := decodeSecret(raw)
			if err != nil {
				return sb, err
			}
			sb.secret, sb.hasSecret = b, true
		case k == "subscriptionID":
			if err := json.Unmarshal(raw, &sb.id); err != nil {
				return sb, errors.New("subscriptionID: want a string")
			}
		case subArrayFields[k]:
			var l []string
			if err := json.Unmarshal(raw, &l); err != nil {
				return sb, fmt.Errorf("%s: want an array of strings", k)
			}
			if k == "transportDocumentTypeCode" {
				continue // deprecated; porttrack has no transport document types
			}
			if len(l) > 0 {
				q.Set(k, strings.Join(l, ","))
			}
		case subStringFields[k]:
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return sb, fmt.Errorf("%s: want a string", k)
			}
			q.Set(k, v)
		default:
			return sb, fmt.Errorf("%s: unknown field", k)
		}
	}
	if sb.callbackURL == "" {
		return sb, errors.New("callbackUrl: required")
	}
	if err := dcsa.CheckCallbackURL(sb.callbackURL, s.cfg.CallbackDeny); err != nil {
		return sb, err
	}
	f, err := dcsa.ParseFilter(q, s.cfg.MaxLimit, false)
	if err != nil {
		return sb, err
	}
	sb.filter = f
	return sb, nil
}

// appendSubscription renders a subscription (never its secret).
func appendSubscription(b []byte, sub *dcsa.Subscription) []byte {
	m := map[string]any{"subscriptionID": sub.ID, "callbackUrl": sub.CallbackURL}
	q, _ := url.ParseQuery(sub.Filter)
	for k := range q {
		if subArrayFields[k] {
			m[k] = strings.Split(q.Get(k), ",")
		} else {
			m[k] = q.Get(k)
		}
	}
	out, _ := json.Marshal(m)
	return append(b, out...)
}

func (s *Server) subJSON(ctx *fasthttp.RequestCtx, status int, sub *dcsa.Subscription) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	setBody(ctx, appendSubscription(body(ctx), sub))
}

func (s *Server) subStoreError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, state.ErrNotFound) {
		dcsaError(ctx, fasthttp.StatusNotFound, "notFound", "subscription not found")
		return
	}
	if errors.Is(err, dcsa.ErrSubscriptionLimit) {
		dcsaError(ctx, fasthttp.StatusConflict, "subscriptionLimit", strings.TrimPrefix(err.Error(), "state: ")+
			" (the max_subscriptions setting); delete one first")
		return
	}
	s.log.Error("subscription store failed", "err", err)
	dcsaError(ctx, fasthttp.StatusInternalServerError, "internalError", "state access failed")
}

// owned loads the subscription of the path if it belongs to the caller's
// tenant; otherwise it answers 404 and returns false.
func (s *Server) owned(ctx *fasthttp.RequestCtx, r *request) (dcsa.Subscription, bool) {
	if !checkAPIVersion(ctx) {
		return dcsa.Subscription{}, false
	}
	sub, err := s.cfg.Store.DCSA.Subscription(string(r.param(0)))
	if err == nil && !r.who.owns(&sub) {
		err = state.ErrNotFound
	}
	if err != nil {
		s.subStoreError(ctx, err)
		return sub, false
	}
	return sub, true
}

func (s *Server) subCreate(ctx *fasthttp.RequestCtx, r *request) {
	if !checkAPIVersion(ctx) {
		return
	}
	sb, err := s.parseSubBody(ctx.PostBody())
	if err == nil && !sb.hasSecret {
		err = errors.New("secret: required")
	}
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidInput", err.Error())
		return
	}
	now := time.Now().UnixNano()
	sub := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: r.who.Tenant, Role: string(r.who.Role),
		CallbackURL: sb.callbackURL, Secret: sb.secret, Filter: sb.filter.Raw, Created: now, Updated: now}
	r.who.ownSubscription(&sub)
	if err := s.cfg.Store.DCSA.PutSubscription(&sub, true, s.cfg.CallbackDeny); err != nil {
		s.subStoreError(ctx, err)
		return
	}
	ctx.Response.Header.Set("Location", "/v2/event-subscriptions/"+sub.ID)
	s.subJSON(ctx, fasthttp.StatusCreated, &sub)
}

func (s *Server) subGet(ctx *fasthttp.RequestCtx, r *request) {
	if sub, ok := s.owned(ctx, r); ok {
		s.subJSON(ctx, fasthttp.StatusOK, &sub)
	}
}

func (s *Server) subUpdate(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	sb, err := s.parseSubBody(ctx.PostBody())
	switch {
	case err != nil:
	case sb.hasSecret:
		err = errors.New("secret: change it with PUT /v2/event-subscriptions/{subscriptionID}/secret")
	case sb.id != "" && sb.id != sub.ID:
		err = errors.New("subscriptionID: differs from the path")
	}
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidInput", err.Error())
		return
	}
	sub.CallbackURL, sub.Filter, sub.Updated = sb.callbackURL, sb.filter.Raw, time.Now().UnixNano()
	r.who.ownSubscription(&sub)
	if err := s.cfg.Store.DCSA.PutSubscription(&sub, false, s.cfg.CallbackDeny); err != nil {
		s.subStoreError(ctx, err)
		return
	}
	s.subJSON(ctx, fasthttp.StatusOK, &sub)
}

func (s *Server) subDelete(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DCSA.DeleteSubscription(sub.ID); err != nil {
		s.subStoreError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (s *Server) subSecret(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	var m map[string]json.RawMessage
	var err error
	if err = json.Unmarshal(ctx.PostBody(), &m); err == nil {
		raw, found := m["secret"]
		if !found || len(m) != 1 {
			err = errors.New("body: want {\"secret\": <Base64>}")
		} else {
			sub.Secret, err = decodeSecret(raw)
		}
	}
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidInput", err.Error())
		return
	}
	sub.Updated = time.Now().UnixNano()
	r.who.ownSubscription(&sub)
	if err := s.cfg.Store.DCSA.PutSubscription(&sub, false, nil); err != nil {
		s.subStoreError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// subList answers GET /v2/event-subscriptions: the caller's subscriptions
// in id order, paged by an opaque cursor (the last id of the page before).
func (s *Server) subList(ctx *fasthttp.RequestCtx, r *request) {
	if !checkAPIVersion(ctx) {
		return
	}
	args := ctx.QueryArgs()
	limit := min(100, s.cfg.MaxLimit)
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > s.cfg.MaxLimit {
			dcsaError(ctx, fasthttp.StatusBadRequest, "invalidQuery", fmt.Sprintf("limit: want an integer in [1, %d], got %q", s.cfg.MaxLimit, v))
			return
		}
		limit = n
	}
	after := ""
	if c := args.Peek("cursor"); len(c) > 0 {
		raw, err := base64.RawURLEncoding.DecodeString(string(c))
		if err != nil || len(raw) < 1 || raw[0] != 's' {
			dcsaError(ctx, fasthttp.StatusBadRequest, "invalidCursor", "cursor: not a cursor returned by this endpoint")
			return
		}
		after = string(raw[1:])
	}
	cursor := func(after string) string { return base64.RawURLEncoding.EncodeToString([]byte("s" + after)) }
	var page []dcsa.Subscription
	more := false
	err := s.cfg.Store.DCSA.Subscriptions(after, func(sub *dcsa.Subscription) bool {
		if !r.who.owns(sub) {
			return true
		}
		if len(page) == limit {
			more = true
			return false
		}
		page = append(page, *sub)
		return true
	})
	if errors.Is(err, state.ErrBadCursor) {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidCursor", "cursor: not a cursor returned by this endpoint")
		return
	}
	if err != nil {
		s.subStoreError(ctx, err)
		return
	}
	h := &ctx.Response.Header
	h.Set("Current-Page", cursor(after))
	h.Set("First-Page", cursor(""))
	if more {
		h.Set("Next-Page", cursor(page[len(page)-1].ID))
	}
	b := append(body(ctx), '[')
	for i := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSubscription(b, &page[i])
	}
	ctx.SetContentType("application/json")
	setBody(ctx, append(b, ']'))
}

// subDeliveries answers GET .../{id}/deliveries: the delivery log, newest
// first (?limit, default 100).
func (s *Server) subDeliveries(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	limit, ok := s.limit(ctx, 100)
	if !ok {
		return
	}
	st, err := s.cfg.Store.DCSA.DeliveryStateOf(sub.ID)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		s.subStoreError(ctx, err)
		return
	}
	live, err := s.cfg.Store.DCSA.SubscriptionOwnerLive(&sub, s.cfg.Open)
	if err != nil {
		s.subStoreError(ctx, err)
		return
	}
	l := newList(ctx, `{"subscriptionID":`)
	l.b = appendString(l.b, sub.ID)
	if !live {
		l.b = append(l.b, `,"paused":"the API key that owns it was revoked: update it (PUT) with a key of the tenant to resume"`...)
	}
	l.b = append(l.b, `,"next_sequence":`...)
	l.b = appendUint(l.b, st.Next)
	l.b = append(l.b, `,"failures":`...)
	l.b = strconv.AppendInt(l.b, int64(st.Failures), 10)
	if st.RetryAt != 0 {
		l.b = append(l.b, `,"retry_at":`...)
		l.b = appendTime(l.b, st.RetryAt)
	}
	l.b = append(l.b, `,"deliveries":[`...)
	n := 0
	err = s.cfg.Store.DCSA.DeliveryLog(sub.ID, func(d *dcsa.DeliveryRecord) bool {
		b := l.next()
		b = append(b, `{"attempt":`...)
		b = appendUint(b, d.Attempt)
		b = append(b, `,"at":`...)
		b = appendTime(b, d.At)
		b = append(b, `,"from_sequence":`...)
		b = appendUint(b, d.From)
		b = append(b, `,"to_sequence":`...)
		b = appendUint(b, d.To)
		b = append(b, `,"events":`...)
		b = strconv.AppendInt(b, int64(d.Events), 10)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(d.Status), 10)
		if d.Error != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, d.Error)
		}
		b = append(b, `,"duration_ms":`...)
		b = appendFixed(b, float64(d.Nanos)/1e6, 3)
		if d.Dead {
			b = append(b, `,"dead_lettered":true`...)
		}
		l.b = append(b, '}')
		n++
		return n < limit
	})
	s.finishList(ctx, &l, "]}", err, "delivery log read")
}

// subDeadLetters answers GET .../{id}/dead-letters: batches given up,
// oldest first.
func (s *Server) subDeadLetters(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	l := newList(ctx, `{"dead_letters":[`)
	err := s.cfg.Store.DCSA.DeadLetters(sub.ID, func(d *dcsa.DeadLetter) bool {
		b := l.next()
		b = append(b, `{"from_sequence":`...)
		b = appendUint(b, d.From)
		b = append(b, `,"to_sequence":`...)
		b = appendUint(b, d.To)
		b = append(b, `,"events":`...)
		b = strconv.AppendInt(b, int64(d.Events), 10)
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(d.Attempts), 10)
		b = append(b, `,"last_error":`...)
		b = appendString(b, d.LastError)
		b = append(b, `,"at":`...)
		l.b = append(appendTime(b, d.At), '}')
		return true
	})
	s.finishList(ctx, &l, "]}", err, "dead letters read")
}

// subRedeliver answers POST .../{id}/redeliver?since=<RFC 3339>: every
// event created since then is delivered again, in order.
func (s *Server) subRedeliver(ctx *fasthttp.RequestCtx, r *request) {
	sub, ok := s.owned(ctx, r)
	if !ok {
		return
	}
	since, err := time.Parse(time.RFC3339Nano, string(ctx.QueryArgs().Peek("since")))
	if err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidQuery", "since: want an RFC 3339 date-time")
		return
	}
	if err := state.CheckTime(since); err != nil {
		dcsaError(ctx, fasthttp.StatusBadRequest, "invalidQuery", "since: "+err.Error())
		return
	}
	seq, err := s.cfg.Store.DCSA.RequestRedelivery(sub.ID, since.UnixNano())
	if err != nil {
		s.subStoreError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	b := append(body(ctx), `{"subscriptionID":`...)
	b = appendString(b, sub.ID)
	b = append(b, `,"from_sequence":`...)
	b = appendUint(b, seq)
	setBody(ctx, append(b, '}'))
}
