package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
)

// TestTruckTableMatchesPebble applies random truck reports (moves, late
// reports, rides starting and ending, duplicates) and checks after every
// batch that the in-memory table answers exactly what Pebble holds, for
// point lookups and radius queries (against a brute-force scan of Pebble),
// and again after a reopen rebuilt the table.
func TestTruckTableMatchesPebble(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	rng := rand.New(rand.NewPCG(7, 7))
	plates := make([]string, 300)
	for i := range plates {
		plates[i] = fmt.Sprintf("浙B%05d", i)
	}
	boxes := []string{"", "", "MSKU9070323", "CSQU3054383", "APZU4812090"}
	now := int64(1_000_000)
	for batch := range 40 {
		var rs []TruckReport
		for range 1 + rng.IntN(60) {
			now += int64(rng.IntN(5))
			tm := now
			if rng.IntN(8) == 0 {
				tm -= int64(rng.IntN(50)) // late
			}
			r := TruckReport{
				Plate: plates[rng.IntN(len(plates))], Time: tm,
				Lat: 29.90 + rng.Float64()*0.05, Lon: 121.80 + rng.Float64()*0.08,
				SpeedKmh: UnknownFloat, Heading: UnknownInt, Container: boxes[rng.IntN(len(boxes))],
			}
			if rng.IntN(2) == 0 {
				r.SpeedKmh, r.Heading = float64(rng.IntN(900))/10, rng.IntN(360)
			}
			rs = append(rs, r)
			if rng.IntN(10) == 0 {
				rs = append(rs, r) // duplicate
			}
		}
		applyTruckBatch(t, s, rs...)
		checkTruckTable(t, s, fmt.Sprintf("after batch %d", batch))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMem(t, fs)
	checkTruckTable(t, s, "after reopen")
	if _, err := s.Truck("浙B99999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown plate: %v", err)
	}
}

func checkTruckTable(t *testing.T, s *Store, when string) {
	t.Helper()
	var all []Truck
	if err := s.EachTruck(func(tr *Truck) error { all = append(all, *tr); return nil }); err != nil {
		t.Fatal(err)
	}
	if s.trucks.idx.Len() != len(all) {
		t.Fatalf("%s: table indexes %d trucks, Pebble holds %d", when, s.trucks.idx.Len(), len(all))
	}
	for _, want := range all {
		got, err := s.Truck(want.Plate)
		if err != nil || got != want {
			t.Fatalf("%s: Truck(%s) = %+v, %v\nPebble holds %+v", when, want.Plate, got, err, want)
		}
	}
	center := geo.LatLng{Lat: 29.925, Lng: 121.84}
	type hit struct {
		plate string
		d     float64
	}
	var brute []hit
	for _, tr := range all {
		if d := geo.DistanceMeters(center, geo.LatLng{Lat: tr.Lat, Lng: tr.Lon}); d <= 2500 {
			brute = append(brute, hit{tr.Plate, d})
		}
	}
	slices.SortFunc(brute, func(a, b hit) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		if a.plate < b.plate {
			return -1
		}
		return 1
	})
	var got []hit
	err := s.TrucksNear(center.Lat, center.Lng, 2500, 0, func(tr *Truck, d float64) bool {
		got = append(got, hit{tr.Plate, d})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(brute) {
		t.Fatalf("%s: TrucksNear found %d, brute force %d", when, len(got), len(brute))
	}
	for i := range got {
		// Ties at one distance may come in another order (row numbers).
		if got[i].d != brute[i].d {
			t.Fatalf("%s: hit %d at %v m, want %v m (%s)", when, i, got[i].d, brute[i].d, brute[i].plate)
		}
	}
}

// BenchmarkTrucksNear: the 50 nearest of 1,000,000 trucks uniform in the
// port area (the density of `porttrack bench geo`), from the in-memory
// table, answer copied out.
func BenchmarkTrucksNear(b *testing.B) {
	tt, err := newTruckTable()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var us []truckUpdate
	for i := range 1_000_000 {
		tr := &Truck{Plate: fmt.Sprintf("浙B%05d", i), Lat: 29.70 + rng.Float64()*0.40, Lon: 121.50 + rng.Float64()*0.90, Time: 1, LastSeen: 1, Reports: 1}
		c, err := geo.CellOf(geo.LatLng{Lat: tr.Lat, Lng: tr.Lon}, truckIndexRes)
		if err != nil {
			b.Fatal(err)
		}
		us = append(us, truckUpdate{t: tr, cell: c})
	}
	if err := tt.upsert(us); err != nil {
		b.Fatal(err)
	}
	s := &Store{trucks: tt}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := 0
		lat, lon := 29.72+float64(i%997)/997*0.36, 121.52+float64(i%991)/991*0.86
		if err := s.TrucksNear(lat, lon, 2000, 50, func(*Truck, float64) bool { n++; return true }); err != nil || n != 50 {
			b.Fatal(n, err)
		}
	}
}

func TestTruckRowSize(t *testing.T) {
	if n := unsafe.Sizeof(truckRow{}); n != 64 {
		t.Errorf("truckRow is %d bytes, want 64 (one cache line)", n)
	}
}

// TestTruckTableLongPlates: plates longer than a row holds live in the
// arena and are found and answered like short ones.
func TestTruckTableLongPlates(t *testing.T) {
	tt, err := newTruckTable()
	if err != nil {
		t.Fatal(err)
	}
	plates := []string{"浙B12345", "ABCDEFGHIJKLMN", "ABCDEFGHIJKLMNO", "粤Z1234港澳", "沪AD12345", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}
	var us []truckUpdate
	for i, p := range plates {
		tr := &Truck{Plate: p, Lat: 29.9 + float64(i)/1000, Lon: 121.8, Time: int64(i + 1)}
		c, err := geo.CellOf(geo.LatLng{Lat: tr.Lat, Lng: tr.Lon}, truckIndexRes)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, truckUpdate{t: tr, cell: c})
	}
	if err := tt.upsert(us); err != nil {
		t.Fatal(err)
	}
	for i, p := range plates {
		var got Truck
		if !tt.get(p, &got) || got.Plate != p || got.Time != int64(i+1) {
			t.Errorf("get(%q) = %+v", p, got)
		}
	}
	var missing Truck
	if tt.get("ABCDEFGHIJKLMNP", &missing) {
		t.Error("found a plate never stored")
	}
}
