package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// benchFenceStore opens a store with n square fences of about 500 m
// scattered over the port area (lat 29.70-30.10, lon 121.50-122.40).
func benchFenceStore(b *testing.B, n int) *Store {
	b.Helper()
	s := openDomains(b, Options{Dir: "db", FS: vfs.NewMem(), NoSync: true,
		Fences: FenceConfig{MinDwell: 30 * time.Second, AlertTopic: alertTopic, MaxPerTenant: n + 1}})
	b.Cleanup(func() { s.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		lat, lon := 29.70+rng.Float64()*0.40, 121.50+rng.Float64()*0.90
		const d = 0.0025
		f := fmt.Sprintf(`{"type":"Feature","id":"f%d","properties":{},"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
			i, lon-d, lat-d, lon+d, lat-d, lon+d, lat+d, lon-d, lat+d, lon-d, lat-d)
		if _, err := s.PutFence(fmt.Sprintf("t%d", i%10), fmt.Sprintf("f%d", i), portOwner, []byte(f)); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkObserveFences is the per-position cost of evaluating the user
// fences: one FenceIndex lookup of the point's cell plus the object's
// memberships, for random positions of 10,000 trucks.
func BenchmarkObserveFences(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("fences=%d", n), func(b *testing.B) {
			s := benchFenceStore(b, n)
			rng := rand.New(rand.NewPCG(3, 4))
			const objects = 10000
			plates := make([]string, objects)
			for i := range plates {
				plates[i] = fmt.Sprintf("浙B%05d", i)
			}
			pts := make([][2]float64, 4096)
			for i := range pts {
				pts[i] = [2]float64{29.70 + rng.Float64()*0.40, 121.50 + rng.Float64()*0.90}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			pb := s.db.NewBatch()
			defer func() { pb.Close() }()
			var res ApplyResult
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%4096 == 4095 { // a batch's worth
					b.StopTimer()
					pb.Close()
					pb = s.db.NewBatch()
					s.fenceBegin(&Batch{})
					b.StartTimer()
				}
				p := pts[i%len(pts)]
				if err := s.observeFences(pb, ObjTruck, plates[i%objects], "", p[0], p[1], int64(i+1)*int64(time.Second), &res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyTrucksFences is Apply of batches of 1,000 truck positions
// with and without user fences: the difference is what fences cost per
// position on the ingest path.
func BenchmarkApplyTrucksFences(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("fences=%d", n), func(b *testing.B) {
			s := benchFenceStore(b, n)
			rng := rand.New(rand.NewPCG(5, 6))
			const batch = 1000
			reports := make([]TruckReport, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for j := range reports {
					reports[j] = TruckReport{Plate: fmt.Sprintf("浙B%05d", j), Time: int64(i+1) * int64(time.Second),
						Lat: 29.70 + rng.Float64()*0.40, Lon: 121.50 + rng.Float64()*0.90, SpeedKmh: UnknownFloat, Heading: UnknownInt}
				}
				if _, err := s.Apply(&Batch{Topic: "port.transport", Next: int64(i + 1), Trucks: reports}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/position")
		})
	}
}
