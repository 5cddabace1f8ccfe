// Package query owns the HTTP API (fasthttp): containers (current and
// as-of state with their place in the port model, history, the dispatcher
// lists of containers at a place and by dwell: containers.go), vessels and
// trucks (current state, position at a past time, tracks, near a point, a
// gate or a fence, in a fence: vessels.go, trucks.go, dispatch.go),
// geofences (the port model's, read-only, and each tenant's own: GeoJSON
// CRUD and the objects inside, geofences.go), /healthz, /readyz and
// /metrics.
//
// It never writes derived state (what Kafka input produced): that is
// ingest's, partition by partition. It writes only control-plane records —
// API keys, webhook subscriptions, user geofences — through state's
// control-plane methods, each its own small atomic batch. Routes are
// registered per feature (router.go); every non-public route passes
// Server.authenticate and its handler gets the caller's Principal. Handlers append JSON into the response
// buffer without reflection and keep nothing of the *fasthttp.RequestCtx
// after returning. Store errors are mapped to HTTP statuses in one place
// (Server.storeError); every error body is {"error":{"code","message"}}.
//
// query imports state (and geo); it never imports ingest, bench or cmd.
package query
