package query

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// Cross-site requests. A web page in a browser can make requests to the
// API (a form POST, fetch with a "simple" content type), and a host name
// that an attacker's DNS points at 127.0.0.1 makes the page's requests to
// the demo same-origin (DNS rebinding). So, before routing:
//
//   - A request with an Origin header not in Config.CORSOrigins is refused
//     403 (browsers send Origin on every cross-origin request and on every
//     POST/PUT/PATCH/DELETE; API clients send none). CORSOrigins is empty by
//     default: no web page may call the API until it is listed. An allowed
//     origin gets Access-Control-Allow-Origin on its answers, and its
//     preflight (OPTIONS with Access-Control-Request-Method) is answered 204
//     with the route's methods; the preflight of any other origin is 403.
//   - An Origin naming this server's own Host (http or https) is the page
//     it serves itself (/map) and passes without CORS headers. A rebound
//     name has the same Origin and Host, but the open server has refused its
//     Host already, and any other server answers nothing without a key.
//   - With Config.Open (the demo without a key, where a request without a
//     key is the port operator), a request whose Host is not a loopback name
//     or address, nor the address the connection was accepted on, is refused
//     403: a rebound name is not.
//   - A write (POST, PUT, PATCH, DELETE) with a body must say it is JSON:
//     Content-Type application/json (application/geo+json also for the
//     geofence routes), else 415. A browser cannot send those cross-site
//     without a preflight, which the origin check refuses.

// Headers of the CORS answers.
const (
	corsAllowHeaders  = "Authorization, Content-Type, API-Version"
	corsExposeHeaders = "API-Version, Current-Page, First-Page, Next-Page, Previous-Page, Last-Page, Retry-After, Location"
	corsMaxAge        = "600"
)

// parseOrigins checks the CORS allow-list: each entry a serialised origin,
// scheme://host[:port] with scheme http or https and nothing after. It
// returns the set, lowercased as browsers send them.
func parseOrigins(list []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, o := range list {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com or http://localhost:3000", o)
		}
		out[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return out, nil
}

// CheckCORSOrigins checks a CORS allow-list as Config.CORSOrigins takes it.
func CheckCORSOrigins(list []string) error {
	_, err := parseOrigins(list)
	return err
}

// crossSite applies the Host and Origin checks and adds the CORS headers of
// an allowed origin. It answers the request and returns false when it is
// refused.
func (s *Server) crossSite(ctx *fasthttp.RequestCtx) bool {
	if s.cfg.Open && !s.hostAllowed(ctx) {
		s.anyError(ctx, fasthttp.StatusForbidden, "forbidden_host",
			fmt.Sprintf("Host %q is not this server's address nor a loopback name: the open API answers only requests addressed to localhost (a foreign name pointing here is DNS rebinding)", ctx.Host()))
		return false
	}
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return true
	}
	if sameOrigin(origin, ctx.Host()) {
		return true // the page /map served by this server
	}
	if !s.origins[string(bytes.ToLower(origin))] {
		s.anyError(ctx, fasthttp.StatusForbidden, "forbidden_origin",
			fmt.Sprintf("Origin %.200q is not allowed: list it in cors_origins to let a web page on it call this API", origin))
		return false
	}
	h := &ctx.Response.Header
	h.SetBytesV("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	return true
}

// preflight answers a CORS preflight of an allowed origin (crossSite has
// refused the others) for route r, and reports whether the request was one.
func preflight(ctx *fasthttp.RequestCtx, r *route) bool {
	if !ctx.IsOptions() || len(ctx.Request.Header.Peek("Origin")) == 0 || len(ctx.Request.Header.Peek("Access-Control-Request-Method")) == 0 {
		return false
	}
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Methods", r.allow)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return true
}

// hostAllowed reports whether the request's Host names a loopback address
// (localhost, *.localhost, 127.0.0.0/8, ::1) or the address the connection
// was accepted on.
func (s *Server) hostAllowed(ctx *fasthttp.RequestCtx) bool {
	// The usual names first, without allocating (the open API serves the
	// benchmarks too).
	hb := ctx.Host()
	if i := bytes.LastIndexByte(hb, ':'); i >= 0 && bytes.IndexByte(hb[i:], ']') < 0 {
		hb = hb[:i]
	}
	if bytes.EqualFold(hb, []byte("localhost")) || string(hb) == "127.0.0.1" || string(hb) == "[::1]" {
		return true
	}
	host := string(ctx.Host())
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	if a, ok := ctx.LocalAddr().(*net.TCPAddr); ok {
		if local, ok := netip.AddrFromSlice(a.IP); ok && !local.Unmap().IsUnspecified() && local.Unmap() == ip {
			return true
		}
	}
	return false
}

// jsonBody checks the media type of a write's body: application/json, or
// also application/geo+json on the geofence routes. It answers 415 and
// returns false otherwise.
func (s *Server) jsonBody(ctx *fasthttp.RequestCtx, r *route) bool {
	if len(ctx.Request.Body()) == 0 {
		return true
	}
	switch string(ctx.Method()) {
	case fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodPatch, fasthttp.MethodDelete:
	default:
		return true
	}
	ct := ctx.Request.Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	geo := strings.HasPrefix(r.pattern, "/v1/geofences")
	if bytes.EqualFold(ct, []byte("application/json")) || (geo && bytes.EqualFold(ct, []byte("application/geo+json"))) {
		return true
	}
	want := "application/json"
	if geo {
		want = "application/json or application/geo+json"
	}
	s.anyError(ctx, fasthttp.StatusUnsupportedMediaType, "unsupported_media_type",
		fmt.Sprintf("Content-Type %.100q: the body of %s %s must be sent as %s", ctx.Request.Header.ContentType(), ctx.Method(), r.pattern, want))
	return false
}

// sameOrigin reports whether origin is http:// or https:// followed by
// host (case-insensitive).
func sameOrigin(origin, host []byte) bool {
	rest, ok := bytes.CutPrefix(origin, []byte("http://"))
	if !ok {
		rest, ok = bytes.CutPrefix(origin, []byte("https://"))
	}
	return ok && len(host) > 0 && bytes.EqualFold(rest, host)
}
