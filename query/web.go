package query

import (
	"embed"
	"mime"
	"path"

	"github.com/valyala/fasthttp"
)

// The map page: GET /map serves the dispatcher's page, GET /map/{file} its
// assets, all embedded in the binary (web/): plain ES modules and a canvas,
// no third-party code, nothing fetched from anywhere but this server's own
// API. The routes are public (the page holds no data; it asks for an API
// key when the API wants one and keeps it in sessionStorage for the tab).
// The Content-Security-Policy allows this origin only: no inline script or
// style, no other host to connect to, no framing.

//go:embed web
var webFS embed.FS

// mapCSP is the policy of the page and its assets.
const mapCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) webRoutes() []route {
	get := func(h handler) map[string]handler { return map[string]handler{"GET": h} }
	return []route{
		{pattern: "/map", public: true, methods: get(func(ctx *fasthttp.RequestCtx, _ *request) { serveWeb(ctx, "map.html") })},
		{pattern: "/map/{file}", public: true, methods: get(func(ctx *fasthttp.RequestCtx, r *request) { serveWeb(ctx, string(r.param(0))) })},
	}
}

func serveWeb(ctx *fasthttp.RequestCtx, name string) {
	if name == "" || name == "." || path.Base(name) != name {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "no such file")
		return
	}
	b, err := webFS.ReadFile("web/" + name)
	if err != nil {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "no such file: "+name)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", mapCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.SetContentType(ct)
	ctx.SetBody(b)
}
