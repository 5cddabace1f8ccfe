package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

func (a vec3) dot(b vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func (a vec3) cross(b vec3) vec3 {
	return vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// arcDistM is the exact distance from p to the great-circle arc a-b (H3
// cell edges are such arcs: straight lines on the gnomonic face plane).
func arcDistM(p, a, b LatLng) float64 {
	va, vb, vp := toVec3(a), toVec3(b), toVec3(p)
	n := va.cross(vb)
	if nn := math.Sqrt(n.dot(n)); nn > 0 {
		n = vec3{n[0] / nn, n[1] / nn, n[2] / nn}
		// p projects inside the arc iff it is on the inner side of both
		// planes through the arc's ends and the pole n.
		if va.cross(vp).dot(n) >= 0 && vp.cross(vb).dot(n) >= 0 {
			return math.Asin(min(1, math.Abs(vp.dot(n)))) * EarthRadiusM
		}
	}
	return min(DistanceMeters(p, a), DistanceMeters(p, b))
}

// polyDistM is the exact distance between two disjoint cell boundaries: the
// minimum of two non-crossing arcs is at an endpoint of one of them.
func polyDistM(a, b []LatLng) float64 {
	d := math.Inf(1)
	for _, p := range a {
		for j := range b {
			d = min(d, arcDistM(p, b[j], b[(j+1)%len(b)]))
		}
	}
	for _, p := range b {
		for j := range a {
			d = min(d, arcDistM(p, a[j], a[(j+1)%len(a)]))
		}
	}
	return d
}

// TestRingBound checks the claim Index's search rests on: every point in a
// cell at grid distance k+1 (hence, by continuity of paths, every point
// farther out) is at least ringBound(k) from every point of the centre
// cell. It measures the true minimum exactly, cell boundary to cell
// boundary, at the port, at random places, on and next to pentagons (the
// one near Dalian, 39.1N 122.3E, among them) and on icosahedron edges.
func TestRingBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	locs := []LatLng{{29.93572, 121.85139}, {0, 0}, {89.99, 45}, {-45, 179.9999}}
	for range 12 {
		locs = append(locs, LatLng{math.Asin(2*rng.Float64()-1) * 180 / math.Pi, rng.Float64()*360 - 180})
	}
	pents := []LatLng{{39.1, 122.3}, {64.7, 10.536199}, {-2.300882, 174.754609}, {-50.103201, 36.521510}}
	// Midpoints between the Dalian pentagon and three of its neighbours
	// (63.43° apart): on icosahedron edges, where a cell is split between
	// two gnomonic planes (h3 IcosahedronFaces reports two faces for each).
	locs = append(locs, LatLng{55.2504454, 163.5721723}, LatLng{7.7166752, 117.1940605}, LatLng{28.5083036, 86.0050899})
	maxK := 10
	if testing.Short() {
		maxK = 5
	}
	worst := math.Inf(1)
	for _, res := range []Resolution{8, ResArea, ResPoint, 12} {
		var centers []Cell
		for _, p := range locs {
			c, _ := CellOf(p, res)
			centers = append(centers, c)
		}
		for _, p := range pents {
			c, _ := CellOf(p, res)
			centers = append(centers, c)
			for k := 1; k <= 3; k++ { // pentagon inside the searched rings
				centers = append(centers, gridRing(nil, c, k)[0])
			}
		}
		for _, c0 := range centers {
			b0 := c0.Boundary(nil)
			edge := minEdgeM(c0)
			for k := 1; k <= maxK; k++ {
				d := math.Inf(1)
				for _, c := range gridRing(nil, c0, k+1) {
					d = min(d, polyDistM(b0, c.Boundary(nil)))
				}
				g := ringBound(k, edge)
				if d < g {
					t.Errorf("res %d cell %v k=%d: ring %d is %.3f m away, bound claims %.3f m", res, c0, k, k+1, d, g)
				}
				worst = min(worst, d/(g/ringBoundSafety))
			}
		}
	}
	t.Logf("worst measured / ideal planar bound: %.3f (ringBoundSafety %.2f)", worst, ringBoundSafety)
}
