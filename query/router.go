package query

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
)

// Routing. Every endpoint is a pattern of literal segments and {param}
// segments ("/v1/containers/{id}/events") with one handler per method. Each
// feature registers its routes in its own file (a method of Server returning
// []route) and New collects them, so features do not share a switch. The
// pattern is also the route's label in metrics.

// request is what a handler gets besides the fasthttp context: the path
// parameters in pattern order and the caller.
type request struct {
	params [maxParams][]byte
	n      int
	who    Principal
}

// param returns the i-th {param} segment of the path (raw, not unescaped).
func (r *request) param(i int) []byte { return r.params[i] }

const maxParams = 4

// handler answers one method of one route.
type handler func(ctx *fasthttp.RequestCtx, r *request)

// route is one endpoint: a pattern and its handlers by method.
type route struct {
	pattern string
	// methods maps "GET", "PUT", ... to the handler. HEAD is answered by the
	// GET handler when not registered (fasthttp drops the body).
	methods map[string]handler
	// public routes (health, readiness, metrics) skip authentication.
	public bool
	// token routes also accept a stream token as ?token= (stream_token.go).
	token bool

	segs  []string // pattern split at '/', without the leading empty one
	allow string   // the Allow header for 405 answers
}

// router matches paths against registered routes.
type router struct {
	routes []*route
	labels []string // every pattern plus routeOther, for metrics
}

const routeOther = "other"

func newRouter(defs ...[]route) (*router, error) {
	rt := &router{}
	seen := map[string]bool{}
	for _, d := range defs {
		for i := range d {
			r := d[i]
			if seen[r.pattern] {
				return nil, fmt.Errorf("query: route %s registered twice", r.pattern)
			}
			seen[r.pattern] = true
			if !strings.HasPrefix(r.pattern, "/") {
				return nil, fmt.Errorf("query: route %q does not start with /", r.pattern)
			}
			r.segs = strings.Split(r.pattern[1:], "/")
			np := 0
			for _, s := range r.segs {
				if strings.HasPrefix(s, "{") {
					np++
				}
			}
			if np > maxParams {
				return nil, fmt.Errorf("query: route %s has more than %d parameters", r.pattern, maxParams)
			}
			ms := make([]string, 0, len(r.methods)+1)
			for m := range r.methods {
				ms = append(ms, m)
			}
			if _, ok := r.methods["GET"]; ok {
				if _, ok := r.methods["HEAD"]; !ok {
					ms = append(ms, "HEAD")
				}
			}
			sort.Strings(ms)
			r.allow = strings.Join(ms, ", ")
			rt.routes = append(rt.routes, &r)
			rt.labels = append(rt.labels, r.pattern)
		}
	}
	// Literal segments win over parameters: "/v1/vessels/near" before
	// "/v1/vessels/{id}" whatever the registration order.
	sort.SliceStable(rt.routes, func(i, j int) bool { return literalRank(rt.routes[i]) > literalRank(rt.routes[j]) })
	rt.labels = append(rt.labels, routeOther)
	return rt, nil
}

func literalRank(r *route) int {
	n := 0
	for _, s := range r.segs {
		n <<= 1
		if !strings.HasPrefix(s, "{") {
			n |= 1
		}
	}
	return n
}

// match finds the route of path and fills req's parameters.
func (rt *router) match(path []byte, req *request) *route {
	if len(path) == 0 || path[0] != '/' {
		return nil
	}
	path = path[1:]
next:
	for _, r := range rt.routes {
		p := path
		req.n = 0
		for i, s := range r.segs {
			var seg []byte
			if j := bytes.IndexByte(p, '/'); j >= 0 {
				seg, p = p[:j], p[j+1:]
				if i == len(r.segs)-1 {
					continue next // more segments than the pattern
				}
			} else {
				if i != len(r.segs)-1 {
					continue next // fewer segments
				}
				seg, p = p, nil
			}
			if s[0] == '{' {
				if len(seg) == 0 {
					continue next
				}
				req.params[req.n] = seg
				req.n++
			} else if string(seg) != s {
				continue next
			}
		}
		return r
	}
	return nil
}
