package portmodel

import (
	"bytes"
	_ "embed"
)

//go:embed ningbo-zhoushan.geojson
var geoJSON []byte

// GeoJSON returns the port model as a GeoJSON FeatureCollection (see the
// package doc). The slice is a fresh copy the caller may modify.
func GeoJSON() []byte { return bytes.Clone(geoJSON) }
