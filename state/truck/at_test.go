package truck_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
)

// TestAtAgainstBruteForce applies random truck positions (out of order, in
// random batches, with repeated times that replace the point) and checks
// At at many times,
// event times and their neighbours included, against the newest point at or
// before the time among everything applied.
func TestAtAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s := open(t, state.Options{Dir: "db", FS: vfs.NewMem()})
	defer s.Close()
	plates := []string{"浙B10001", "浙B10002", "浙B1000", "沪A55555"} // 浙B1000 is a prefix of the others
	type pt struct{ lat, lon float64 }
	truckWant := map[string]map[int64]pt{}
	const base = int64(1_700_000_000_000_000_000)
	var times []int64
	offset := int64(0)
	for batch := 0; batch < 40; batch++ {
		var trucks []state.TruckReport
		for range 1 + rng.IntN(15) {
			tm := base + int64(rng.IntN(500))*1e9
			times = append(times, tm)
			p := pt{29.9 + rng.Float64()/10, 121.8 + rng.Float64()/10}
			plate := plates[rng.IntN(len(plates))]
			trucks = append(trucks, report(plate, tm, p.lat, p.lon, ""))
			if truckWant[plate] == nil {
				truckWant[plate] = map[int64]pt{}
			}
			truckWant[plate][tm] = p // a later report at a stored time replaces the point
		}
		offset++
		if _, err := s.Apply(&state.Batch{Topic: "t", Next: offset, Trucks: trucks}); err != nil {
			t.Fatal(err)
		}
	}
	newest := func(pts map[int64]pt, at int64) (int64, pt, bool) {
		best, ok := int64(0), false
		for tm := range pts {
			if tm <= at && (!ok || tm > best) {
				best, ok = tm, true
			}
		}
		return best, pts[best], ok
	}
	var ats []int64
	for _, tm := range times {
		ats = append(ats, tm, tm-1, tm+1)
	}
	for range 200 {
		ats = append(ats, base-1e9+int64(rng.IntN(502))*1e9+int64(rng.IntN(1e9)))
	}
	for _, at := range ats {
		for _, plate := range plates {
			wt, wp, ok := newest(truckWant[plate], at)
			got, err := s.Trucks.At(plate, at)
			if !ok {
				if !errors.Is(err, state.ErrNotFound) {
					t.Fatalf("truck %s at %d: %v %v, want not found", plate, at, got, err)
				}
				continue
			}
			if err != nil || got.Time != wt || got.Lat != wp.lat || got.Lon != wp.lon {
				t.Fatalf("truck %s at %d: %+v %v, want time %d %v", plate, at, got, err, wt, wp)
			}
		}
	}
	if _, err := s.Trucks.At("浙B", base+1e12); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("unknown truck: %v", err)
	}
}
