package query

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/geo"
)

// GeoJSON rendering of fences: an admin read path, so encoding/json is fine.

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

func fenceFeature(f *geo.Fence) geoJSONFeature {
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
	return geoJSONFeature{Type: "Feature", ID: f.ID, Properties: f.Properties, Geometry: g}
}

// geofences answers GET /v1/geofences (a FeatureCollection, filtered by
// ?kind=) and GET /v1/geofences/{id} (one Feature) from the port model.
func (s *Server) geofences(ctx *fasthttp.RequestCtx, id string) {
	pm := s.cfg.Store.PortModel()
	var body any
	if id != "" {
		f, ok := pm.Fence(id)
		if !ok {
			writeError(ctx, fasthttp.StatusNotFound, "not_found", "fence "+id+" not found")
			return
		}
		body = fenceFeature(f)
	} else {
		kind := string(ctx.QueryArgs().Peek("kind"))
		features := []geoJSONFeature{}
		pm.EachFence(func(f *geo.Fence) bool {
			if k, _ := f.Properties["kind"].(string); kind == "" || k == kind {
				features = append(features, fenceFeature(f))
			}
			return true
		})
		body = struct {
			Type     string           `json:"type"`
			Features []geoJSONFeature `json:"features"`
		}{"FeatureCollection", features}
	}
	b, err := json.Marshal(body)
	if err != nil {
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", "cannot render fences")
		return
	}
	ctx.SetContentType("application/geo+json")
	ctx.SetBody(b)
}
