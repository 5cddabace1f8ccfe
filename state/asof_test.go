package state

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestVesselAtAgainstBruteForce applies random vessel positions (out of
// order, in random batches) and checks VesselAt at many times,
// event times and their neighbours included, against the newest point at or
// before the time among everything applied.
func TestVesselAtAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mmsis := []uint32{413000001, 413000002, 413000003}
	type pt struct{ lat, lon float64 }
	vesselWant := map[uint32]map[int64]pt{}
	const base = int64(1_700_000_000_000_000_000)
	var times []int64
	offset := int64(0)
	for batch := 0; batch < 40; batch++ {
		var vessels []VesselReport
		for range 1 + rng.IntN(15) {
			tm := base + int64(rng.IntN(500))*1e9
			times = append(times, tm)
			p := pt{29.9 + rng.Float64()/10, 121.8 + rng.Float64()/10}
			m := mmsis[rng.IntN(len(mmsis))]
			if _, dup := vesselWant[m][tm]; dup {
				continue // one point per (vessel, time): keep the oracle simple
			}
			vessels = append(vessels, pos(m, tm, p.lat, p.lon, "s1"))
			if vesselWant[m] == nil {
				vesselWant[m] = map[int64]pt{}
			}
			vesselWant[m][tm] = p
		}
		offset++
		if _, err := s.Apply(&Batch{Topic: "t", Next: offset, Vessels: vessels}); err != nil {
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
		for _, m := range mmsis {
			wt, wp, ok := newest(vesselWant[m], at)
			got, err := s.VesselAt(m, at)
			if !ok {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("vessel %d at %d: %v %v, want not found", m, at, got, err)
				}
				continue
			}
			if err != nil || got.Time != wt || got.Lat != wp.lat || got.Lon != wp.lon {
				t.Fatalf("vessel %d at %d: %+v %v, want time %d %v", m, at, got, err, wt, wp)
			}
		}
	}
}
