package query

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
)

// Config configures the HTTP API.
type Config struct {
	Store *state.Store
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() bool
	// Metrics write further Prometheus text on /metrics (ingest's, ...).
	Metrics []func(io.Writer)
	Logger  *slog.Logger
	// MaxLimit caps the page size of list endpoints (default 1000).
	MaxLimit int
}

// Server is the query API. It reads the store and never writes it.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *fasthttp.Server
	hist *routeHistograms
}

// New builds a server; Serve runs it.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("query: Store is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxLimit == 0 {
		cfg.MaxLimit = 1000
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "query"), hist: newRouteHistograms()}
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "porttrack",
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		MaxRequestBodySize:            1 << 20,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         false,
		NoDefaultContentType:          true,
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for open requests.
func (s *Server) Shutdown() error { return s.srv.Shutdown() }

// Handler returns the request handler (for tests and in-memory listeners).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Routes, as labelled in metrics.
const (
	routeContainer       = "/v1/containers/{id}"
	routeContainerEvents = "/v1/containers/{id}/events"
	routeVessels         = "/v1/vessels"
	routeVessel          = "/v1/vessels/{id}"
	routeVesselTrack     = "/v1/vessels/{id}/track"
	routeTrucks          = "/v1/trucks"
	routeTruck           = "/v1/trucks/{plate}"
	routeTruckTrack      = "/v1/trucks/{plate}/track"
	routeGeofences       = "/v1/geofences"
	routeGeofence        = "/v1/geofences/{id}"
	routeHealthz         = "/healthz"
	routeReadyz          = "/readyz"
	routeMetrics         = "/metrics"
	routeOther           = "other"
)

var routes = []string{routeContainer, routeContainerEvents, routeVessels, routeVessel, routeVesselTrack,
	routeTrucks, routeTruck, routeTruckTrack, routeGeofences, routeGeofence, routeHealthz, routeReadyz, routeMetrics, routeOther}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	route := s.route(ctx)
	s.hist.observe(route, time.Since(start))
}

func (s *Server) route(ctx *fasthttp.RequestCtx) string {
	path := ctx.Path()
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "only GET and HEAD are supported")
		return routeOther
	}
	switch {
	case bytes.HasPrefix(path, []byte("/v1/containers/")):
		rest := path[len("/v1/containers/"):]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			if string(rest[i:]) == "/events" {
				s.containerEvents(ctx, rest[:i])
				return routeContainerEvents
			}
			break
		}
		s.container(ctx, rest)
		return routeContainer
	case bytes.HasPrefix(path, []byte("/v1/vessels/")):
		rest := path[len("/v1/vessels/"):]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			if string(rest[i:]) == "/track" {
				s.vesselTrack(ctx, rest[:i])
				return routeVesselTrack
			}
			break
		}
		s.vessel(ctx, rest)
		return routeVessel
	case string(path) == "/v1/vessels":
		s.vesselList(ctx)
		return routeVessels
	case bytes.HasPrefix(path, []byte("/v1/trucks/")):
		rest := path[len("/v1/trucks/"):]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			if string(rest[i:]) == "/track" {
				s.truckTrack(ctx, rest[:i])
				return routeTruckTrack
			}
			break
		}
		s.truck(ctx, rest)
		return routeTruck
	case string(path) == "/v1/trucks":
		s.truckList(ctx)
		return routeTrucks
	case string(path) == "/v1/geofences":
		s.geofences(ctx, "")
		return routeGeofences
	case bytes.HasPrefix(path, []byte("/v1/geofences/")) && len(path) > len("/v1/geofences/"):
		s.geofences(ctx, string(path[len("/v1/geofences/"):]))
		return routeGeofence
	case string(path) == "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
		return routeHealthz
	case string(path) == "/readyz":
		ctx.SetContentType("application/json")
		if s.cfg.Ready == nil || s.cfg.Ready() {
			ctx.SetBodyString(`{"status":"ready"}`)
		} else {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString(`{"status":"not_ready","reason":"partitions not assigned or not caught up"}`)
		}
		return routeReadyz
	case string(path) == "/metrics":
		s.metrics(ctx)
		return routeMetrics
	}
	writeError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint: "+string(path))
	return routeOther
}

// parseContainerID validates the {id} path segment.
func parseContainerID(ctx *fasthttp.RequestCtx, raw []byte) (string, bool) {
	id, err := state.ParseContainer(string(raw))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_container_id", err.Error())
		return "", false
	}
	return id, true
}

func (s *Server) container(ctx *fasthttp.RequestCtx, raw []byte) {
	id, ok := parseContainerID(ctx, raw)
	if !ok {
		return
	}
	c, err := s.cfg.Store.Container(id)
	if err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	var pos *containerPosition
	if p, ok := s.containerPosition(id); ok {
		pos = &p
	}
	b := ctx.Response.Body()[:0]
	b = appendContainer(b, &c, pos)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(b)
}

// appendContainer writes a container as JSON; pos, when not nil, is where
// it rides on a truck.
func appendContainer(b []byte, c *state.Container, pos *containerPosition) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, c.ID)
	b = appendKey(b, false, "status")
	b = appendString(b, c.Status())
	b = appendKey(b, false, "last_event")
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, c.Last.ID)
	b = appendKey(b, false, "type")
	b = appendString(b, c.Last.Code.String())
	b = appendKey(b, false, "time")
	b = appendTime(b, c.Last.Time)
	b = appendKey(b, false, "location")
	b = appendString(b, c.Last.Location)
	b = append(b, '}')
	b = appendKey(b, false, "location")
	b = appendString(b, c.Last.Location)
	b = appendKey(b, false, "first_seen")
	b = appendTime(b, c.First)
	b = appendKey(b, false, "event_count")
	b = appendUint(b, c.Count)
	b = appendKey(b, false, "updated_at")
	b = appendTime(b, c.Updated)
	if pos != nil {
		b = appendPosition(b, pos)
	}
	return append(b, '}')
}

func (s *Server) containerEvents(ctx *fasthttp.RequestCtx, raw []byte) {
	id, ok := parseContainerID(ctx, raw)
	if !ok {
		return
	}
	q := state.HistoryQuery{Limit: 100}
	if q.From, q.To, ok = parseTimeRange(ctx); !ok {
		return
	}
	if q.Limit, ok = s.limit(ctx, 100); !ok {
		return
	}
	q.Cursor = string(ctx.QueryArgs().Peek("cursor"))
	if _, err := s.cfg.Store.Container(id); err != nil {
		s.storeError(ctx, "container "+id, err)
		return
	}
	l := newList(ctx, `{"events":[`)
	next, err := s.cfg.Store.History(id, q, func(e *state.StoredEvent) error {
		l.b = appendEvent(l.next(), e)
		return nil
	})
	if err != nil {
		if errors.Is(err, state.ErrBadCursor) {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "cursor: not a cursor returned by this endpoint")
			return
		}
		s.storeError(ctx, "container "+id, err)
		return
	}
	l.b = appendString(append(l.b, `],"next_cursor":`...), next)
	s.finishList(ctx, &l, "}", nil, "")
}

func appendEvent(b []byte, e *state.StoredEvent) []byte {
	b = append(b, '{')
	b = appendKey(b, true, "id")
	b = appendString(b, e.ID)
	b = appendKey(b, false, "type")
	b = appendString(b, e.Code.String())
	b = appendKey(b, false, "time")
	b = appendTime(b, e.Time)
	b = appendKey(b, false, "location")
	b = appendString(b, e.Location)
	if e.ReadPoint != "" {
		b = appendKey(b, false, "read_point")
		b = appendString(b, e.ReadPoint)
	}
	if e.Disposition != "" {
		b = appendKey(b, false, "disposition")
		b = appendString(b, e.Disposition)
	}
	b = appendKey(b, false, "source")
	b = appendString(b, e.Source)
	b = appendKey(b, false, "ingested_at")
	b = appendTime(b, e.Ingested)
	return append(b, '}')
}

// storeError maps store errors to HTTP statuses: the one place that does.
// what names the thing looked up ("container CSQU3054383").
func (s *Server) storeError(ctx *fasthttp.RequestCtx, what string, err error) {
	if errors.Is(err, state.ErrNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", what+" not found")
		return
	}
	s.log.Error("store read failed", "of", what, "err", err)
	writeError(ctx, fasthttp.StatusInternalServerError, "internal", "state read failed")
}

func writeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := append(ctx.Response.Body()[:0], `{"error":{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, `}}`...)
	ctx.Response.SetBodyRaw(b)
}

func (s *Server) metrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	var sb strings.Builder
	s.hist.write(&sb)
	for _, m := range s.cfg.Metrics {
		m(&sb)
	}
	ctx.SetBodyString(sb.String())
}
