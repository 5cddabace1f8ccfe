// Package query owns the HTTP API (fasthttp): containers (current and
// as-of state with their place in the port model, history, the dispatcher
// lists of containers at a place and by dwell: containers.go), vessels and
// trucks (current state, position at a past time, tracks, near a point, a
// gate or a fence, in a fence: vessels.go, trucks.go, dispatch.go),
// geofences (the port model's, read-only, and each tenant's own: GeoJSON
// CRUD and the objects inside, geofences.go), customs (e-commerce orders
// and their three-document match, containers held or released by customs,
// the customs state and pickup readiness of a container: customs.go),
// the live stream /v1/stream (Server-Sent Events of changed objects, fed by
// the store's commit listener through one shared ring: stream.go,
// stream_hub.go, stream_cache.go; the browser's stream token:
// stream_token.go), the dispatcher's map page /map (assets embedded from
// web/: web.go), alert acknowledgements (alerts.go), /healthz,
// /readyz and /metrics. SSE rather than WebSocket: the stream flows one way,
// is plain HTTP for proxies and curl, keeps the authentication and CORS of
// every route, and browsers resume it with Last-Event-ID by themselves.
//
// DCSA Track & Trace 2.2 (dcsa.go, dcsa_subscriptions.go): /v2/events,
// /v2/events/{eventID} and /v2/event-subscriptions.
//
// Before routing, cross-site requests are refused (crosssite.go): an
// Origin outside Config.CORSOrigins, on an open server a Host that is not
// loopback or its own address, a write whose body is not JSON. Every time
// parameter is checked against state.CheckTime (params.go: parseTime).
//
// Authentication (auth.go): a Bearer API key (the scheme in any case),
// looked up by its hash, gives the Principal (tenant, role, scope, key id);
// an unknown key is always 401, no key is 401 unless Config.Open. Each
// caller (key, or address of a keyless request) then takes a token of its
// rate limit (ratelimit.go; 429 with Retry-After beyond it). Authorisation is in one place, Server.authorize: a logistics
// caller gets 404 for a container outside its scope on every
// /v1/containers/{id} route, 403 on /v1 routes not listed as safe for it
// (logisticsRoutes); the listed container lists and fence memberships pass
// the caller's scope (Principal.scope) to the store, which leaves out what
// it may not see while paging and counting, and the /v2 handlers filter
// events and subscriptions themselves (a subscription by tenant and role,
// Principal.owns). /v2 errors use DCSA's
// error body, the rest porttrack's.
//
// It never writes derived state (what Kafka input produced): that is
// ingest's, partition by partition. It writes only control-plane records —
// API keys, webhook subscriptions, user geofences, alert acknowledgements —
// through state's
// control-plane methods, each its own small atomic batch. Routes are
// registered per feature (router.go); every non-public route passes
// Server.authenticate and its handler gets the caller's Principal. Handlers append JSON into the response
// buffer without reflection and keep nothing of the *fasthttp.RequestCtx
// after returning. Store errors are mapped to HTTP statuses in one place
// (Server.storeError); every /v1 error body is {"error":{"code","message"}}.
//
// query imports state (and geo); it never imports ingest, bench or cmd.
package query
