// Package geo is porttrack's geospatial leaf: H3 cells, great-circle
// distances, an in-memory point index and geofences (ARCHITECTURE.md §5).
//
// # Boundaries
//
// geo is the only package that imports h3-go (cgo: every build and CI job
// needs CGO_ENABLED=1), and it imports no other porttrack package. Its own
// types are what other packages see: h3.Cell and h3.LatLng never leave it.
// It does no IO except reading GeoJSON from an io.Reader the caller opened;
// the port model file is read by cmd/porttrack.
//
// # Types
//
//   - LatLng: WGS84 degrees. Literals are unchecked; NewLatLng, Valid and
//     every entry point that reaches H3 reject NaN and out-of-range values
//     (H3 would silently wrap or misplace them).
//   - Cell: the standard 64-bit H3 index as a uint64, so state can put it in
//     keys and any H3 implementation can read it. String is the usual hex.
//   - Resolution: ResPoint (11, ≈29 m edge) buckets moving things in Index;
//     ResArea (10, ≈76 m edge) covers fences. Both change speed only, never
//     answers; the reasons are on the constants.
//
// # Point index
//
// Index maps IDs to positions and buckets them by cell. Nearby and KNearest
// walk H3 grid rings outward from the query's cell, compute exact haversine
// distances, keep the best k in a bounded max-heap and stop when no unseen
// point can qualify: after ring k every point outside the walked disk is at
// least ringBound(k) = ¾ · (3k−1)/2 · e away, e being the centre cell's
// shortest edge. (3k−1)/2 · e is the exact figure for a regular hexagon
// grid (see ringBound for the derivation); the ¾ covers H3's distortion and
// its pentagons, and TestRingBound measures the true minimum cell boundary
// to cell boundary over the globe (worst 0.83 of the ideal, on a pentagon).
// When the walk would cost more than reading every point (more cells than
// points, or beyond 100 km) it scans instead, so sparse indexes and
// unbounded kNN stay exact and bounded. Results come nearest first, ties by
// ID, through a callback that can stop early (as tile38's collection does).
//
// # Fences
//
// A Feature is a GeoJSON Polygon or MultiPolygon with properties, validated
// on the way in: closed rings of at least four positions, valid coordinates,
// no self-intersection or touching edges (O(n²), n ≤ MaxFenceVertices),
// holes inside the shell and apart from each other, no antimeridian
// crossing. Errors wrap ErrInvalidFence and name the feature (index, id,
// name) and the ring. A collection's Point and LineString features (reader
// positions, routes in the port model) are skipped, not fences. Edges are
// straight in lng/lat (RFC 7946), containment is even-odd per polygon,
// holes excluded, a MultiPolygon is the union.
//
// NewFence covers a feature with cells at a resolution: cells wholly inside
// are interior, cells an edge passes near are boundary, the rest are absent.
// H3's own polygonToCells only tests cell centres (DOMAIN.md §10), so the
// cover adds the cells along every edge and classifies them with an explicit
// margin (see buildCover). Contains and FenceIndex.Containing are exact:
// interior cells answer true with no polygon test, boundary cells run the
// even-odd test, absent cells answer false. Property tests check this
// against the plain polygon test and an independent winding-number test on
// random fences that straddle cells, with holes, at three resolutions.
//
// # Concurrency
//
// Fence is immutable and safe to share. Index and FenceIndex are not
// synchronised: one writer (Set, Delete, Add, Remove) at a time with no
// concurrent readers; any number of readers (Get, Nearby, KNearest,
// Containing) otherwise, as each query keeps its scratch on its own stack.
// The owner, state, holds the lock.
//
// # Costs
//
// Each CellOf is one cgo call into H3's latLngToCell, ≈1 µs and two small
// allocations made by h3-go; CellsOf has the batch shape (caller's slice,
// one validation pass) but h3-go offers no batch entry point, so the
// per-point cost is the same. A query crosses cgo once for the centre cell,
// once for its boundary, and once per ring walked.
//
// # Files
//
//	latlng.go    LatLng, DistanceMeters
//	cell.go      Cell, Resolution, CellOf/CellsOf, the h3-go calls
//	index.go     Index, the ring walk, ringBound, the top-k heap
//	geojson.go   Feature, Polygon, ParseFeatureCollection, validation, even-odd
//	fence.go     Fence, its cover, FenceIndex
//	testdata/    cells.txt (golden cells, with H3 reference vectors),
//	             port.geojson (fixture fences around Ningbo)
package geo
