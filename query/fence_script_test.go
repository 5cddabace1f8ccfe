package query

import "github.com/valyala/fasthttp"

// scriptTenantHeader carries a script's as=<tenant> to scriptHandler; only
// the script tests' server knows it.
const scriptTenantHeader = "X-Script-Tenant"

// scriptHandler answers like Server.handle, except that a request with
// scriptTenantHeader acts for that tenant (with the port role, which sees
// every object: what a logistics scope sees is tested against the DCSA
// fixture's tenants), which is how scripts test one tenant's fences against
// another's.
func scriptHandler(s *Server) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		tenant := ctx.Request.Header.Peek(scriptTenantHeader)
		if tenant == nil {
			s.handle(ctx)
			return
		}
		var req request
		r := s.router.match(ctx.Path(), &req)
		if r == nil {
			s.handle(ctx)
			return
		}
		h, ok := r.methods[string(ctx.Method())]
		if !ok {
			s.handle(ctx)
			return
		}
		req.who = Principal{Tenant: string(tenant), Role: RolePort}
		h(ctx, &req)
	}
}
