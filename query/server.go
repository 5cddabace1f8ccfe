package query

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
)

// Config configures the HTTP API.
type Config struct {
	Store *portstate.State
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() bool
	// Degraded, when not nil, lists what works but not as it should
	// (ingest's Engine.Degraded): /healthz and /readyz add it to their body
	// as "degraded", without changing their status codes.
	Degraded func() []string
	// ReadyReason, when set, says why Ready is false: the reason of the
	// /readyz body (ingest.Engine.NotReadyReason).
	ReadyReason func() string
	// Metrics write further Prometheus text on /metrics (ingest's, ...).
	Metrics []func(io.Writer)
	Logger  *slog.Logger
	// MaxLimit caps the page size of list endpoints (default 1000).
	MaxLimit int
	// Webhook callback URLs may not name an address in
	// dcsa.DefaultCallbackDeny unless CallbackAllow re-opens its range, nor
	// one in CallbackDeny (which wins); see dcsa.CallbackDenyList.
	CallbackDeny, CallbackAllow []netip.Prefix
	// Open lets requests without an API key act as the port operator (the
	// demo on loopback); a request with a key is still checked. An open
	// server answers only requests whose Host is a loopback name or its own
	// address (crosssite.go).
	Open bool
	// RateLimit is the requests per second one API key may send (keyless
	// requests on the open API: one client address); beyond it, with
	// RateBurst requests saved up (at least 1), requests answer 429 with
	// Retry-After. 0 means no limit.
	RateLimit float64
	RateBurst int
	// CORSOrigins are the web origins (https://app.example.com) whose pages
	// may call the API; a request with any other Origin is refused 403.
	// Empty: none.
	CORSOrigins []string
	// Stream configures the live stream /v1/stream (stream.go).
	Stream StreamConfig
	// Now is the clock of durations in answers; nil means time.Now.
	Now func() time.Time
	// Wrap, when not nil, wraps the request handler: instrumentation around
	// every request, as the geo bench's split of latency into the time
	// before the handler and the time in it.
	Wrap func(fasthttp.RequestHandler) fasthttp.RequestHandler
}

// Server is the query API. It reads the store; it writes only control-plane
// records (see the package documentation).
type Server struct {
	cfg    Config
	log    *slog.Logger
	srv    *fasthttp.Server
	hist   *routeHistograms
	router *router
	rate   *rateLimiter
	// origins is Config.CORSOrigins as a set (parseOrigins).
	origins map[string]bool
	// hookContainerRead, when set (tests only), runs in GET
	// /v1/containers/{id} between its first read and the others.
	hookContainerRead func()
	// hub feeds /v1/stream with the store's changes (stream_hub.go).
	hub *hub
	// tokenKey signs stream tokens (stream_token.go).
	tokenKey []byte
	unhook   func() // removes the hub's store listener
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
	if cfg.RateLimit < 0 || cfg.RateBurst < 0 {
		return nil, errors.New("query: negative RateLimit or RateBurst")
	}
	cfg.CallbackDeny = dcsa.CallbackDenyList(cfg.CallbackDeny, cfg.CallbackAllow)
	origins, err := parseOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	if err := cfg.Stream.Validate(); err != nil {
		return nil, err
	}
	cfg.Stream = cfg.Stream.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "query"), rate: newRateLimiter(cfg.RateLimit, cfg.RateBurst), origins: origins}
	s.tokenKey = cfg.Stream.TokenSecret
	if s.tokenKey == nil {
		s.tokenKey = make([]byte, 32)
		if _, err := rand.Read(s.tokenKey); err != nil {
			return nil, err
		}
	}
	if s.hub, err = newHub(cfg.Stream.Ring, cfg.Store.Offsets); err != nil {
		return nil, err
	}
	s.unhook = cfg.Store.OnCommit(s.hub.publish)
	rt, err := newRouter(
		s.coreRoutes(),
		s.geofenceRoutes(),
		s.multimodalRoutes(),
		s.containerRoutes(),
		s.dcsaRoutes(),
		s.subscriptionRoutes(),
		s.customsRoutes(),
		s.streamRoutes(),
		s.webRoutes(),
		s.alertRoutes(),
	)
	if err != nil {
		return nil, err
	}
	s.router = rt
	s.hist = newRouteHistograms(rt.labels)
	h := fasthttp.RequestHandler(s.handle)
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.srv = &fasthttp.Server{
		Handler:                       h,
		Name:                          "porttrack",
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		MaxRequestBodySize:            maxBodyBytes,
		ErrorHandler:                  requestError,
		Logger:                        debugPrinter{s.log},
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         false,
		NoDefaultContentType:          true,
	}
	return s, nil
}

// maxBodyBytes bounds a request body (fasthttp refuses a larger one before
// the handler runs).
const maxBodyBytes = 1 << 20

// requestError answers a request fasthttp could not read, before any
// handler: a body over the limit is 413, a header too large 431, a read
// timeout 408, anything else 400; each with a JSON error like every other
// answer.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body: larger than the limit of %d bytes", maxBodyBytes))
	case errors.As(err, &small):
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "header_too_large", "request header: too large")
	case errors.As(err, &netErr) && netErr.Timeout():
		writeError(ctx, fasthttp.StatusRequestTimeout, "timeout", "request: not received in time")
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "bad_request", "request: malformed HTTP")
	}
}

// debugPrinter takes fasthttp's own messages (a connection that sent a
// malformed request, ...) into the logger at debug level: the client got
// its answer, and one line per bad request would let anyone fill the log.
type debugPrinter struct{ log *slog.Logger }

func (p debugPrinter) Printf(format string, args ...any) {
	p.log.Debug(fmt.Sprintf(format, args...))
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown ends the streams, stops accepting connections and waits for
// open requests.
func (s *Server) Shutdown() error {
	s.Close()
	return s.srv.Shutdown()
}

// Close ends the streams and stops taking the store's changes: for a
// server whose Handler is served by someone else. Shutdown calls it.
func (s *Server) Close() {
	s.unhook()
	s.hub.close()
}

// Handler returns the request handler (for tests and in-memory listeners).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	label := s.serve(ctx)
	s.hist.observe(label, time.Since(start))
}

// serve routes one request and returns its metrics label.
func (s *Server) serve(ctx *fasthttp.RequestCtx) string {
	var req request
	r := s.router.match(ctx.Path(), &req)
	if !s.crossSite(ctx) {
		if r == nil {
			return routeOther
		}
		return r.pattern
	}
	if r == nil {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint: "+string(ctx.Path()))
		return routeOther
	}
	if preflight(ctx, r) {
		return r.pattern
	}
	method := string(ctx.Method())
	h, ok := r.methods[method]
	if !ok && method == "HEAD" {
		h, ok = r.methods["GET"]
	}
	if !ok {
		ctx.Response.Header.Set("Allow", r.allow)
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", method+" is not supported on "+r.pattern+"; allowed: "+r.allow)
		return r.pattern
	}
	if !s.jsonBody(ctx, r) {
		return r.pattern
	}
	if !r.public {
		if tok := ctx.QueryArgs().Peek("token"); r.token && len(tok) > 0 && len(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)) == 0 {
			if req.who, ok = s.tokenAuth(ctx, tok); !ok {
				return r.pattern
			}
		} else if req.who, ok = s.authenticate(ctx); !ok {
			return r.pattern
		}
		if !s.authorize(ctx, r.pattern, &req) {
			return r.pattern
		}
	}
	h(ctx, &req)
	return r.pattern
}

// authenticate returns the caller of a non-public route, or answers the
// request (401) and returns false.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx) (Principal, bool) {
	return s.auth(ctx)
}

// coreRoutes are the vessel, truck and operational endpoints.
func (s *Server) coreRoutes() []route {
	get := func(h handler) map[string]handler { return map[string]handler{"GET": h} }
	return []route{
		{pattern: "/v1/vessels", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.vesselList(ctx) })},
		{pattern: "/v1/vessels/{id}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.vessel(ctx, r.param(0)) })},
		{pattern: "/v1/vessels/{id}/track", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.vesselTrack(ctx, r.param(0)) })},
		{pattern: "/v1/trucks", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.truckList(ctx) })},
		{pattern: "/v1/trucks/cells", methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.truckCells(ctx) })},
		{pattern: "/v1/trucks/{plate}", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.truck(ctx, r.param(0)) })},
		{pattern: "/v1/trucks/{plate}/track", methods: get(func(ctx *fasthttp.RequestCtx, r *request) { s.truckTrack(ctx, r.param(0)) })},
		{pattern: "/healthz", public: true, methods: get(func(ctx *fasthttp.RequestCtx, _ *request) {
			ctx.SetContentType("application/json")
			ctx.SetBody(s.withDegraded([]byte(`{"status":"ok"`)))
		})},
		{pattern: "/readyz", public: true, methods: get(func(ctx *fasthttp.RequestCtx, _ *request) {
			ctx.SetContentType("application/json")
			if s.cfg.Ready == nil || s.cfg.Ready() {
				ctx.SetBody(s.withDegraded([]byte(`{"status":"ready"`)))
			} else {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				reason := "partitions not assigned or not caught up"
				if s.cfg.ReadyReason != nil {
					if r := s.cfg.ReadyReason(); r != "" {
						reason = r
					}
				}
				ctx.SetBody(s.withDegraded(appendString([]byte(`{"status":"not_ready","reason":`), reason)))
			}
		})},
		{pattern: "/metrics", public: true, methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { s.metrics(ctx) })},
	}
}

// withDegraded ends the JSON object started in b, adding "degraded" when
// Config.Degraded lists anything.
func (s *Server) withDegraded(b []byte) []byte {
	if s.cfg.Degraded != nil {
		if d := s.cfg.Degraded(); len(d) > 0 {
			j, _ := json.Marshal(d) // a []string always marshals
			b = append(append(b, `,"degraded":`...), j...)
		}
	}
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

// body returns the response's body buffer, emptied, for a handler to append
// its answer to; setBody hands the appended slice back. The buffer comes
// from fasthttp's pool and returns to it once the response is written, so
// an answer reuses the capacity earlier answers grew instead of growing a
// new slice from nothing (a radius answer of 50 trucks is about 12 KB).
func body(ctx *fasthttp.RequestCtx) []byte { return ctx.Response.SwapBody(nil)[:0] }

func setBody(ctx *fasthttp.RequestCtx, b []byte) { ctx.Response.SwapBody(b) }

func writeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := append(body(ctx), `{"error":{"code":`...)
	b = appendString(b, code)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, `}}`...)
	setBody(ctx, b)
}

func (s *Server) metrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	var sb strings.Builder
	s.hist.write(&sb)
	s.rate.writePrometheus(&sb)
	s.hub.writePrometheus(&sb)
	for _, m := range s.cfg.Metrics {
		m(&sb)
	}
	ctx.SetBodyString(sb.String())
}
