package geo

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

func portPointsN(n int) []LatLng {
	return portCloud(rand.New(rand.NewPCG(42, uint64(n))), n, ResPoint)
}

// BenchmarkCellOf compares one cgo call per point with the batch form over
// 1024 port positions; ns/point is the number to compare.
func BenchmarkCellOf(b *testing.B) {
	pts := portPointsN(1024)
	b.Run("mode=single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range pts {
				if _, err := CellOf(p, ResPoint); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
	})
	b.Run("mode=batch", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]Cell, 0, len(pts))
		for b.Loop() {
			var err error
			if dst, err = CellsOf(dst[:0], pts, ResPoint); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
	})
}

// BenchmarkNearby runs the dispatcher's spatial queries against 1e5 and 1e6
// points around Beilun (spread over ±8 km, yard clusters, stacks) at three
// index resolutions; res=11 is ResPoint. rings/op is the average number of
// grid rings walked, hits/op the average answer size.
func BenchmarkNearby(b *testing.B) {
	queries := []struct {
		name   string
		radius float64
		limit  int
	}{
		{"q=r200m_lim10", 200, 10},
		{"q=r1km_all", 1000, 0},
		{"q=knn1", -1, 1},
		{"q=knn10", -1, 10},
	}
	rng := rand.New(rand.NewPCG(9, 9))
	centers := make([]LatLng, 1024)
	for i := range centers {
		centers[i] = offset(port, (rng.Float64()*2-1)*6000, (rng.Float64()*2-1)*6000)
	}
	for _, n := range []int{1e5, 1e6} {
		pts := portPointsN(n)
		for _, res := range []Resolution{10, ResPoint, 12} {
			x, _ := NewIndex[uint64](res)
			for i, p := range pts {
				_ = x.Set(uint64(i), p)
			}
			for _, q := range queries {
				b.Run(fmt.Sprintf("points=%d/res=%d/%s", n, res, q.name), func(b *testing.B) {
					radius, limit := q.radius, q.limit
					if radius < 0 {
						radius = inf
					}
					if limit <= 0 {
						limit = int(^uint(0) >> 1)
					}
					var rings, hits int
					for _, c := range centers[:128] {
						top := x.search(c, radius, limit)
						rings, hits = rings+top.rings, hits+len(top.h)
					}
					sink := 0
					fn := func(id uint64, _ LatLng, _ float64) bool { sink += int(id); return true }
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						c := centers[i%len(centers)]
						i++
						var err error
						if q.radius < 0 {
							err = x.KNearest(c, q.limit, fn)
						} else {
							err = x.Nearby(c, q.radius, q.limit, fn)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(rings)/128, "rings/op")
					b.ReportMetric(float64(hits)/128, "hits/op")
				})
			}
		}
	}
}

var inf = func() float64 { var z float64; return 1 / z }()

// BenchmarkContaining asks which of ~500 fences contain points spread over
// the port: the four fixture fences plus random berths, blocks and
// anchorages, overlapping as real ones do.
func BenchmarkContaining(b *testing.B) {
	f, err := os.Open("testdata/port.geojson")
	if err != nil {
		b.Fatal(err)
	}
	feats, err := ParseFeatureCollection(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 500 {
		feats = append(feats, randomFence(rng, fmt.Sprintf("r%03d", i), ResArea))
	}
	x, _ := NewFenceIndex(ResArea)
	for _, ft := range feats {
		fe, err := NewFence(ft, ResArea)
		if err != nil {
			b.Fatal(err)
		}
		_ = x.Add(fe)
	}
	pts := make([]LatLng, 1024)
	for i := range pts {
		pts[i] = dest(port, rng.Float64()*360, rng.Float64()*6000)
	}
	hits := 0
	fn := func(string) bool { hits++; return true }
	b.Run("fences=504/index=FenceIndex", func(b *testing.B) {
		b.ReportAllocs()
		hits = 0
		i := 0
		for b.Loop() {
			_ = x.Containing(pts[i%len(pts)], fn)
			i++
		}
		b.ReportMetric(float64(hits)/float64(i), "hits/op")
	})
	// The same question without the index: every fence's box, then its
	// polygon. FenceIndex's cell lookup is a fixed ~1 µs; this grows with
	// the fence count.
	var all []*Fence
	for _, ft := range feats {
		fe, _ := x.Get(ft.ID)
		all = append(all, fe)
	}
	b.Run("fences=504/index=none", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p := pts[i%len(pts)]
			for _, fe := range all {
				if fe.Contains(p) {
					hits++
				}
			}
			i++
		}
	})
	anchorage, _ := x.Get("beilun-anchorage")
	inAnchorage := make([]LatLng, 1024)
	for i := range inAnchorage {
		inAnchorage[i] = dest(LatLng{29.965, 121.921}, rng.Float64()*360, rng.Float64()*2500)
	}
	// Where the cover pays for a single fence: the anchorage (5 vertices)
	// and a traced 2,000-vertex outline, by cover and by polygon test.
	wiggly, err := NewFence(Feature{ID: "wiggly", Polygons: []Polygon{{Outer: star(rng, LatLng{29.965, 121.921}, 2000, 1500, 2500)}}}, ResArea)
	if err != nil {
		b.Fatal(err)
	}
	for _, fc := range []struct {
		name string
		f    *Fence
	}{{"anchorage5", anchorage}, {"outline2000", wiggly}} {
		for _, mode := range []string{"cover", "polygon"} {
			b.Run("fence="+fc.name+"/mode="+mode, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					p := inAnchorage[i%len(inAnchorage)]
					if mode == "cover" {
						_ = fc.f.coverContains(p)
					} else {
						_ = fc.f.containsExact(p)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkNewFence is the cost of covering the Beilun anchorage (≈9 km², 827 cells).
func BenchmarkNewFence(b *testing.B) {
	f, err := os.Open("testdata/port.geojson")
	if err != nil {
		b.Fatal(err)
	}
	feats, err := ParseFeatureCollection(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewFence(feats[0], ResArea); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexSet is a vessel update: small moves, mostly within a cell.
func BenchmarkIndexSet(b *testing.B) {
	pts := portPointsN(100000)
	x, _ := NewIndex[uint64](ResPoint)
	for i, p := range pts {
		_ = x.Set(uint64(i), p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j := i % len(pts)
		pts[j] = offset(pts[j], 1, 1)
		_ = x.Set(uint64(j), pts[j])
		i++
	}
}
