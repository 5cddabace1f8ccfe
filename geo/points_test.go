package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPointIndexMatchesBruteForce applies random sets, moves (within and
// across cells) and deletes to a PointIndex and checks every query against
// a brute-force scan of the points that should be there.
func TestPointIndexMatchesBruteForce(t *testing.T) {
	for _, res := range []Resolution{7, 9, 11} {
		t.Run(fmt.Sprintf("res=%d", res), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(res), 3))
			x, err := NewPointIndex(res)
			if err != nil {
				t.Fatal(err)
			}
			pts := map[uint32]LatLng{}
			const ids = 3000
			for range 12000 {
				id := uint32(rng.IntN(ids))
				switch r := rng.IntN(10); {
				case r == 0:
					if got := x.Delete(id); got != (pts[id] != LatLng{}) {
						t.Fatalf("Delete(%d) = %v", id, got)
					}
					delete(pts, id)
				case r < 3 && pts[id] != LatLng{}: // a small move, often in the same cell
					p := offset(pts[id], rng.Float64()*4-2, rng.Float64()*4-2)
					if err := x.Set(id, p); err != nil {
						t.Fatal(err)
					}
					pts[id] = p
				default:
					p := offset(port, (rng.Float64()*2-1)*4000, (rng.Float64()*2-1)*4000)
					c, err := CellOf(p, res)
					if err != nil {
						t.Fatal(err)
					}
					if err := x.SetCell(id, p, c); err != nil {
						t.Fatal(err)
					}
					pts[id] = p
				}
			}
			if x.Len() != len(pts) {
				t.Fatalf("Len = %d, want %d", x.Len(), len(pts))
			}
			for id, p := range pts {
				if got, ok := x.Get(id); !ok || got != p {
					t.Fatalf("Get(%d) = %v %v, want %v", id, got, ok, p)
				}
			}
			if _, ok := x.Get(ids + 5); ok {
				t.Fatal("Get of an ID never set found something")
			}
			for q := range 60 {
				center := offset(port, (rng.Float64()*2-1)*5000, (rng.Float64()*2-1)*5000)
				if q%4 == 0 {
					for _, p := range pts {
						center = p // on a point: distance 0
						break
					}
				}
				all := brute(pts, center, math.Inf(1), 0)
				for _, r := range []float64{0, 40, 300, 2000, math.Inf(1)} {
					for _, lim := range []int{0, 1, 50} {
						if math.IsInf(r, 1) && lim == 0 {
							continue
						}
						got := collect(t, func(fn func(uint32, LatLng, float64) bool) error { return x.Nearby(center, r, lim, fn) })
						sameHits(t, fmt.Sprintf("Nearby(%v, %v m, %d)", center, r, lim), got, cut(all, r, lim))
					}
				}
				got := collect(t, func(fn func(uint32, LatLng, float64) bool) error { return x.KNearest(center, 20, fn) })
				sameHits(t, fmt.Sprintf("KNearest(%v, 20)", center), got, cut(all, math.Inf(1), 20))
			}
		})
	}
}

func TestPointIndexRejects(t *testing.T) {
	x, err := NewPointIndex(9)
	if err != nil {
		t.Fatal(err)
	}
	c10, _ := CellOf(port, 10)
	if err := x.SetCell(1, port, c10); err == nil {
		t.Error("a cell of another resolution was accepted")
	}
	if err := x.Set(1, LatLng{Lat: 91}); err == nil {
		t.Error("an invalid position was accepted")
	}
	if err := x.Set(math.MaxUint32, port); err == nil {
		t.Error("ID MaxUint32 was accepted")
	}
	if err := x.Nearby(port, -1, 0, func(uint32, LatLng, float64) bool { return true }); err == nil {
		t.Error("a negative radius was accepted")
	}
	if x.Len() != 0 {
		t.Errorf("Len = %d after rejected sets", x.Len())
	}
}

// BenchmarkPointIndexNearby: 1,000,000 points uniform in the port area (the
// density of `porttrack bench geo`), the 50 nearest within 2 km, by
// resolution.
func BenchmarkPointIndexNearby(b *testing.B) {
	for _, res := range []Resolution{8, 9, 10, 11} {
		b.Run(fmt.Sprintf("res=%d", res), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			x, _ := NewPointIndex(res)
			for i := range 1_000_000 {
				_ = x.Set(uint32(i), LatLng{Lat: 29.70 + rng.Float64()*0.40, Lng: 121.50 + rng.Float64()*0.90})
			}
			centers := make([]LatLng, 1024)
			for i := range centers {
				centers[i] = LatLng{Lat: 29.70 + rng.Float64()*0.40, Lng: 121.50 + rng.Float64()*0.90}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				n := 0
				_ = x.Nearby(centers[i%len(centers)], 2000, 50, func(uint32, LatLng, float64) bool { n++; return true })
				if n != 50 {
					b.Fatalf("%d hits", n)
				}
			}
		})
	}
}
