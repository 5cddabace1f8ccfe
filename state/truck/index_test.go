package truck

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/porttrack/porttrack/geo"
)

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
	s := &Trucks{table: tt}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := 0
		lat, lon := 29.72+float64(i%997)/997*0.36, 121.52+float64(i%991)/991*0.86
		if err := s.Near(lat, lon, 2000, 50, func(*Truck, float64) bool { n++; return true }); err != nil || n != 50 {
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
