package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// Alert acknowledgements: POST /v1/alerts/{id}/ack records that a
// dispatcher saw an alert (who: the body's "by", else the caller's tenant;
// when: now); the first acknowledgement stands and is answered to later
// ones. GET /v1/alerts/acks?ids=a,b,... (at most 200) lists those of the
// given alerts. Port and customs callers only: alerts name boxes of every
// tenant.

const maxAckIDs = 200

func (s *Server) alertRoutes() []route {
	return []route{
		{pattern: "/v1/alerts/{id}/ack", methods: map[string]handler{"POST": s.ackAlert}},
		{pattern: "/v1/alerts/acks", methods: map[string]handler{"GET": s.alertAcks}},
	}
}

func (s *Server) ackAlert(ctx *fasthttp.RequestCtx, r *request) {
	id, err := url.PathUnescape(string(r.param(0)))
	if err != nil || id == "" || len(id) > state.MaxAlertIDLen {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_alert_id", fmt.Sprintf("%.140q is not an alert id", r.param(0)))
		return
	}
	var req struct {
		By string `json:"by"`
	}
	if b := ctx.Request.Body(); len(b) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_body", "body: want {\"by\":\"<name>\"} or nothing: "+err.Error())
			return
		}
	}
	by := strings.TrimSpace(req.By)
	if by == "" {
		by = r.who.Tenant
		if by == "" {
			by = "port"
		}
	}
	a, created, err := s.cfg.Store.AckAlert(state.AlertAck{Alert: id, Tenant: r.who.Tenant, KeyID: r.who.KeyID, By: by, At: s.now()})
	if errors.Is(err, state.ErrBadAlertID) {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_alert_id", err.Error())
		return
	}
	if err != nil && strings.Contains(err.Error(), "alert acknowledgement:") {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_body", err.Error())
		return
	}
	if err != nil {
		s.storeError(ctx, "alert "+id, err)
		return
	}
	if created {
		ctx.SetStatusCode(fasthttp.StatusCreated)
	}
	ctx.SetContentType("application/json")
	setBody(ctx, appendAck(body(ctx), &a))
}

func appendAck(b []byte, a *state.AlertAck) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "alert")
	b = appendString(b, a.Alert)
	b = appendKey(b, false, "by")
	b = appendString(b, a.By)
	b = appendKey(b, false, "tenant")
	b = appendString(b, a.Tenant)
	b = appendKey(b, false, "at")
	b = appendTime(b, a.At)
	return append(b, '}')
}

func (s *Server) alertAcks(ctx *fasthttp.RequestCtx, _ *request) {
	raw := string(ctx.QueryArgs().Peek("ids"))
	var ids []string
	if raw != "" {
		ids = strings.Split(raw, ",")
	}
	if len(ids) > maxAckIDs {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("ids: at most %d alert ids", maxAckIDs))
		return
	}
	l := newList(ctx, `{"acks":[`)
	err := s.cfg.Store.AlertAcks(ids, func(a *state.AlertAck) bool {
		l.b = appendAck(l.next(), a)
		return true
	})
	s.finishList(ctx, &l, "]}", err, "alert acknowledgements")
}
