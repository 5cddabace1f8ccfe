// Package geo is porttrack's geospatial leaf: H3 cells, distances and
// geofences (ARCHITECTURE.md §5). It is the only package allowed to import
// h3-go, and it imports no other porttrack package.
package geo
