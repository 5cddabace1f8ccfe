package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// Geofences: the port model's fences (read-only) and each tenant's own,
// GeoJSON in and out. An admin path, so encoding/json is fine here.
//
// A caller sees the port model's fences and its tenant's fences; another
// tenant's fence answers 404. PUT and DELETE of a port-model id answer 409.
// A PUT stores the caller's role and scope as the fence's owner, which
// filters the fence's alerts (state.FenceOwner); /inside is filtered by the
// caller's own scope.

func (s *Server) geofenceRoutes() []route {
	return []route{
		{pattern: "/v1/geofences", methods: map[string]handler{
			"GET": func(ctx *fasthttp.RequestCtx, r *request) { s.geofenceList(ctx, r) },
		}},
		{pattern: "/v1/geofences/{id}", methods: map[string]handler{
			"GET":    func(ctx *fasthttp.RequestCtx, r *request) { s.geofenceGet(ctx, r) },
			"PUT":    func(ctx *fasthttp.RequestCtx, r *request) { s.geofencePut(ctx, r) },
			"DELETE": func(ctx *fasthttp.RequestCtx, r *request) { s.geofenceDelete(ctx, r) },
		}},
		{pattern: "/v1/geofences/{id}/inside", methods: map[string]handler{
			"GET": func(ctx *fasthttp.RequestCtx, r *request) { s.geofenceInside(ctx, r) },
		}},
	}
}

type geoJSONFeature struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
	Geometry   geoJSONGeom    `json:"geometry"`
}

type geoJSONGeom struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

func ring(pts []geo.LatLng) [][2]float64 {
	out := make([][2]float64, 0, len(pts)+1)
	for _, p := range pts {
		out = append(out, [2]float64{p.Lng, p.Lat})
	}
	if len(pts) > 0 {
		out = append(out, [2]float64{pts[0].Lng, pts[0].Lat}) // GeoJSON rings are closed
	}
	return out
}

// fenceFeature renders a fence with the given id; read_only tells a
// port-model fence (true) from a tenant's (false).
func fenceFeature(f *geo.Fence, id string, readOnly bool) geoJSONFeature {
	polys := make([][][][2]float64, 0, len(f.Polygons))
	for _, p := range f.Polygons {
		rings := [][][2]float64{ring(p.Outer)}
		for _, h := range p.Holes {
			rings = append(rings, ring(h))
		}
		polys = append(polys, rings)
	}
	g := geoJSONGeom{Type: "MultiPolygon", Coordinates: polys}
	if len(polys) == 1 {
		g = geoJSONGeom{Type: "Polygon", Coordinates: polys[0]}
	}
	props := maps.Clone(f.Properties)
	if props == nil {
		props = map[string]any{}
	}
	props["read_only"] = readOnly
	return geoJSONFeature{Type: "Feature", ID: id, Properties: props, Geometry: g}
}

// fenceID reads the {id} segment (URL-escaped in the path).
func fenceID(ctx *fasthttp.RequestCtx, raw []byte) (string, bool) {
	id, err := url.PathUnescape(string(raw))
	if err == nil {
		err = state.CheckFenceID(id)
	}
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_fence_id", fmt.Sprintf("fence id %q: want 1 to 128 bytes of UTF-8 without control characters or '/'", raw))
		return "", false
	}
	return id, true
}

func writeGeoJSON(ctx *fasthttp.RequestCtx, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", "cannot render fences")
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/geo+json")
	ctx.SetBody(b)
}

// geofenceList answers GET /v1/geofences: a FeatureCollection of the port
// model's fences then the caller's, filtered by ?kind= (the "kind"
// property).
func (s *Server) geofenceList(ctx *fasthttp.RequestCtx, r *request) {
	kind := string(ctx.QueryArgs().Peek("kind"))
	match := func(f *geo.Fence) bool {
		k, _ := f.Properties["kind"].(string)
		return kind == "" || k == kind
	}
	features := []geoJSONFeature{}
	s.cfg.Store.PortModel().EachFence(func(f *geo.Fence) bool {
		if match(f) {
			features = append(features, fenceFeature(f, f.ID, true))
		}
		return true
	})
	s.cfg.Store.EachUserFence(r.who.Tenant, func(uf *state.UserFence) bool {
		if match(uf.Fence) {
			features = append(features, fenceFeature(uf.Fence, uf.ID, false))
		}
		return true
	})
	writeGeoJSON(ctx, fasthttp.StatusOK, struct {
		Type     string           `json:"type"`
		Features []geoJSONFeature `json:"features"`
	}{"FeatureCollection", features})
}

// geofenceGet answers GET /v1/geofences/{id}: one Feature.
func (s *Server) geofenceGet(ctx *fasthttp.RequestCtx, r *request) {
	id, ok := fenceID(ctx, r.param(0))
	if !ok {
		return
	}
	if f, ok := s.cfg.Store.PortModel().Fence(id); ok {
		writeGeoJSON(ctx, fasthttp.StatusOK, fenceFeature(f, id, true))
		return
	}
	uf, err := s.cfg.Store.UserFence(r.who.Tenant, id)
	if err != nil {
		s.fenceError(ctx, id, err)
		return
	}
	writeGeoJSON(ctx, fasthttp.StatusOK, fenceFeature(uf.Fence, uf.ID, false))
}

// geofencePut answers PUT /v1/geofences/{id}: the body is a GeoJSON
// Feature with a Polygon or MultiPolygon; its "id", if present, must be the
// path's. 201 with the stored Feature when created, 200 when replaced.
func (s *Server) geofencePut(ctx *fasthttp.RequestCtx, r *request) {
	id, ok := fenceID(ctx, r.param(0))
	if !ok {
		return
	}
	if _, ok := s.cfg.Store.PortModel().Fence(id); ok {
		s.fenceError(ctx, id, state.ErrFenceReadOnly)
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &obj); err != nil || obj == nil {
		msg := "body: want a GeoJSON Feature object"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_fence", msg)
		return
	}
	if raw, ok := obj["id"]; ok && string(raw) != "null" {
		bodyID := string(raw) // a number keeps its JSON text, as in geo.ParseFeature
		var sid string
		if json.Unmarshal(raw, &sid) == nil {
			bodyID = sid
		}
		if bodyID != id {
			writeError(ctx, fasthttp.StatusBadRequest, "invalid_fence", fmt.Sprintf("body id %s differs from the path's %q", raw, id))
			return
		}
	}
	idJSON, _ := json.Marshal(id)
	obj["id"] = idJSON
	body, _ := json.Marshal(obj)
	created, err := s.cfg.Store.PutFence(r.who.Tenant, id, r.who.fenceOwner(), body)
	if err != nil {
		s.fenceError(ctx, id, err)
		return
	}
	uf, err := s.cfg.Store.UserFence(r.who.Tenant, id)
	if err != nil {
		s.fenceError(ctx, id, err)
		return
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	writeGeoJSON(ctx, status, fenceFeature(uf.Fence, uf.ID, false))
}

// geofenceDelete answers DELETE /v1/geofences/{id}: 204.
func (s *Server) geofenceDelete(ctx *fasthttp.RequestCtx, r *request) {
	id, ok := fenceID(ctx, r.param(0))
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteFence(r.who.Tenant, id); err != nil {
		s.fenceError(ctx, id, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// geofenceInside answers GET /v1/geofences/{id}/inside?limit=: the objects
// inside one of the caller's fences, by type and id, with the time of their
// enter. A logistics caller is shown only what its scope may see: its
// containers, trucks while they carry one, and every vessel.
func (s *Server) geofenceInside(ctx *fasthttp.RequestCtx, r *request) {
	id, ok := fenceID(ctx, r.param(0))
	if !ok {
		return
	}
	if _, ok := s.cfg.Store.PortModel().Fence(id); ok {
		writeError(ctx, fasthttp.StatusConflict, "read_only_fence",
			"fence "+id+" belongs to the port model: membership is kept for tenants' fences only (vessels in it: /v1/vessels?fence="+id+")")
		return
	}
	limit, ok := s.limit(ctx, 1000)
	if !ok {
		return
	}
	l := newList(ctx, `{"fence":`)
	l.b = append(appendString(l.b, id), `,"objects":[`...)
	more := false
	err := s.cfg.Store.FenceInside(r.who.Tenant, id, r.who.scope(), func(m *state.FenceMember) bool {
		if l.n == limit {
			more = true
			return false
		}
		b := append(l.next(), '{')
		b = appendKey(b, true, "type")
		b = appendString(b, state.ObjectTypeName(m.Type))
		b = appendKey(b, false, "id")
		b = appendString(b, m.ID)
		b = appendKey(b, false, "since")
		b = appendTime(b, m.Since)
		if m.Vessel != 0 {
			b = appendKey(b, false, "on_board")
			b = strconv.AppendUint(b, uint64(m.Vessel), 10)
		}
		l.b = append(b, '}')
		return true
	})
	if errors.Is(err, state.ErrNotFound) {
		s.fenceError(ctx, id, err)
		return
	}
	tail := `],"truncated":false}`
	if more {
		tail = `],"truncated":true}`
	}
	s.finishList(ctx, &l, tail, err, "fence membership read")
}

// fenceError maps the store's fence errors to HTTP answers.
func (s *Server) fenceError(ctx *fasthttp.RequestCtx, id string, err error) {
	switch {
	case errors.Is(err, state.ErrFenceReadOnly):
		writeError(ctx, fasthttp.StatusConflict, "read_only_fence", "fence "+id+" belongs to the port model and cannot be changed or deleted")
	case errors.Is(err, state.ErrFenceLimit):
		writeError(ctx, fasthttp.StatusConflict, "fence_limit", err.Error())
	case errors.Is(err, geo.ErrInvalidFence), errors.Is(err, state.ErrFenceID):
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_fence", err.Error())
	default:
		s.storeError(ctx, "fence "+id, err)
	}
}

// FenceMetrics returns a writer of the geofence counters in Prometheus text,
// for Config.Metrics.
func FenceMetrics(st *portstate.State) func(io.Writer) {
	return func(w io.Writer) {
		m := st.FenceMetrics()
		fmt.Fprintf(w, "# HELP porttrack_geofences Tenants' geofences.\n# TYPE porttrack_geofences gauge\nporttrack_geofences %d\n", m.Fences)
		fmt.Fprintf(w, "# HELP porttrack_geofence_evaluations_total Positions evaluated against the tenants' geofences.\n# TYPE porttrack_geofence_evaluations_total counter\nporttrack_geofence_evaluations_total %d\n", m.Evaluations)
		fmt.Fprintf(w, "# HELP porttrack_geofence_transitions_total Confirmed geofence transitions by event.\n# TYPE porttrack_geofence_transitions_total counter\n")
		fmt.Fprintf(w, "porttrack_geofence_transitions_total{event=\"enter\"} %d\nporttrack_geofence_transitions_total{event=\"exit\"} %d\n", m.Enters, m.Exits)
		fmt.Fprintf(w, "# HELP porttrack_geofence_hidden_transitions_total Transitions not published: the fence's logistics owner may not see the object.\n# TYPE porttrack_geofence_hidden_transitions_total counter\nporttrack_geofence_hidden_transitions_total %d\n", m.Hidden)
		fmt.Fprintf(w, "# HELP porttrack_geofence_onboard_transitions_total Container transitions fanned out from the transitions of the ship they are on board.\n# TYPE porttrack_geofence_onboard_transitions_total counter\nporttrack_geofence_onboard_transitions_total %d\n", m.OnBoard)
		fmt.Fprintf(w, "# HELP porttrack_onboard_pending_loads Loads that found no ship at their berth when applied, waiting for its AIS positions.\n# TYPE porttrack_onboard_pending_loads gauge\nporttrack_onboard_pending_loads %d\n", m.PendingLoads)
		fmt.Fprintf(w, "# HELP porttrack_onboard_loads_resolved_total Loads that found their ship after they were applied, when its AIS positions came in.\n# TYPE porttrack_onboard_loads_resolved_total counter\nporttrack_onboard_loads_resolved_total %d\n", m.LoadsResolved)
	}
}
