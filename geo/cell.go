package geo

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/uber/h3-go/v4"
)

// Cell is an H3 cell index. It is geo's own type so that h3.Cell (a signed
// int64 with cgo-backed methods) never leaks into state's keys or query's
// JSON; the value is the standard 64-bit H3 index, so it round-trips with
// every other H3 implementation and sorts the way H3 indexes do.
type Cell uint64

// Resolution is an H3 resolution, 0 (coarsest) to 15 (finest). Each step
// divides a cell's area by about 7 and its edge by about √7.
type Resolution int

const (
	// ResPoint indexes moving and parked things: vessels, trucks, boxes.
	// Edge ≈ 28.7 m on average (24-29 m at Ningbo). It sets only the speed
	// of Index, never its answers (distances are exact). From
	// BenchmarkNearby with 1e6 points around Beilun: at 12 (≈10.8 m) a
	// 1 km "trucks near a gate" query walks 98 rings instead of 38 and
	// takes twice as long; at 10 (≈76 m) a yard cell holds hundreds of
	// boxes and a nearest-box query takes 3× as long. 11 is best or close
	// on every query there (12 wins the single nearest point in the
	// densest index by about a quarter).
	ResPoint Resolution = 11

	// ResArea covers geofences (berths, yard blocks, gates, anchorages,
	// channels). Edge ≈ 76 m, area ≈ 15,000 m²: a berth (≈350 × 50 m) is a
	// handful of boundary cells, the Beilun anchorage (≈9 km²) 673
	// interior and 154 boundary cells. Finer would grow the cover with the
	// square of the resolution's scale for little gain: the cell lookup,
	// not the polygon test, is what a point query pays.
	ResArea Resolution = 10
)

var (
	// ErrInvalidResolution is wrapped by errors about a resolution outside 0-15.
	ErrInvalidResolution = errors.New("geo: invalid H3 resolution")
	// ErrInvalidCell is wrapped by errors about a value that is not an H3 cell.
	ErrInvalidCell = errors.New("geo: invalid H3 cell")
)

// Valid reports whether r is an H3 resolution.
func (r Resolution) Valid() bool { return r >= 0 && r <= h3.MaxResolution }

// AvgEdgeM is the average hexagon edge length at r over the whole globe, in
// metres. Cells near Ningbo are within a few per cent of it; cells near the
// twelve pentagons are up to about half as long. It is for sizing, never for
// the search bound (see Index).
func (r Resolution) AvgEdgeM() float64 {
	m, err := h3.HexagonEdgeLengthAvgM(int(r))
	if err != nil {
		return 0
	}
	return m
}

func (r Resolution) check() error {
	if !r.Valid() {
		return fmt.Errorf("%w: %d", ErrInvalidResolution, r)
	}
	return nil
}

// CellOf returns the cell at res containing p.
func CellOf(p LatLng, res Resolution) (Cell, error) {
	if err := res.check(); err != nil {
		return 0, err
	}
	if !p.Valid() {
		return 0, p.invalidErr()
	}
	return cellOf(p, res), nil
}

// CellsOf appends the cell at res of each of pts to dst and returns the
// extended slice; dst may be reused between batches. All positions are
// checked before any is converted: on error dst is returned unchanged and
// the error names the first bad index.
//
// h3-go has no batch entry point, so each point still crosses cgo once and
// h3-go makes two small allocations for it. BenchmarkCellOf measures
// ≈1.05 µs a point either way: the cost is H3's latLngToCell itself, the
// cgo crossing is ≈30 ns of it. The batch form is the seam where a C loop
// would go if that ever changes.
func CellsOf(dst []Cell, pts []LatLng, res Resolution) ([]Cell, error) {
	if err := res.check(); err != nil {
		return dst, err
	}
	for i, p := range pts {
		if !p.Valid() {
			return dst, fmt.Errorf("point %d: %w", i, p.invalidErr())
		}
	}
	dst = slices.Grow(dst, len(pts))
	for _, p := range pts {
		dst = append(dst, cellOf(p, res))
	}
	return dst, nil
}

// ParseCell parses the usual lower- or upper-case hex form ("8928308280fffff").
func ParseCell(s string) (Cell, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || !Cell(v).Valid() {
		return 0, fmt.Errorf("%w: %q", ErrInvalidCell, s)
	}
	return Cell(v), nil
}

// String is the canonical lower-case hex form used by every H3 binding.
func (c Cell) String() string { return strconv.FormatUint(uint64(c), 16) }

// Valid reports whether c is a valid H3 cell (hexagon or pentagon).
func (c Cell) Valid() bool { return h3.Cell(c).IsValid() }

// Resolution reads the resolution from bits 52-55 of the index (H3 index
// layout), without a cgo call.
func (c Cell) Resolution() Resolution { return Resolution(c >> 52 & 0xf) }

// Center is the cell's centre point. c must be valid.
func (c Cell) Center() LatLng {
	p, err := h3.Cell(c).LatLng()
	if err != nil {
		panic(fmt.Sprintf("geo: center of %v: %v", c, err))
	}
	return LatLng{Lat: p.Lat, Lng: p.Lng}
}

// Boundary appends the cell's vertices, counter-clockwise, to dst. Cells
// that cross an icosahedron edge have up to ten (extra vertices where the
// edge bends between faces). c must be valid.
func (c Cell) Boundary(dst []LatLng) []LatLng {
	b, err := h3.Cell(c).Boundary()
	if err != nil {
		panic(fmt.Sprintf("geo: boundary of %v: %v", c, err))
	}
	for _, v := range b {
		dst = append(dst, LatLng{Lat: v.Lat, Lng: v.Lng})
	}
	return dst
}

// cellOf converts a checked position; H3 cannot fail on valid input.
func cellOf(p LatLng, res Resolution) Cell {
	c, err := h3.LatLngToCell(h3.LatLng{Lat: p.Lat, Lng: p.Lng}, int(res))
	if err != nil {
		panic(fmt.Sprintf("geo: H3 rejected checked input %v res %d: %v", p, res, err))
	}
	return Cell(c)
}

// gridRing appends the cells at exactly grid distance k from c to dst.
// Away from pentagons H3's fast walk does it; near one it fails and h3-go
// falls back to a breadth-first disk, which is slower but still exact, so
// the search never sees a pentagon as anything but a smaller ring.
func gridRing(dst []Cell, c Cell, k int) []Cell {
	ring, err := h3.GridRing(h3.Cell(c), k)
	if err != nil {
		panic(fmt.Sprintf("geo: grid ring %d of %v: %v", k, c, err))
	}
	for _, r := range ring {
		dst = append(dst, Cell(r))
	}
	return dst
}

// gridDisk appends the cells within grid distance k of c to dst.
func gridDisk(dst []Cell, c Cell, k int) []Cell {
	disk, err := h3.GridDisk(h3.Cell(c), k)
	if err != nil {
		panic(fmt.Sprintf("geo: grid disk %d of %v: %v", k, c, err))
	}
	for _, r := range disk {
		dst = append(dst, Cell(r))
	}
	return dst
}
