package state

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/porttrack/porttrack/geo"
)

func TestZZMem(t *testing.T) {
	tt, _ := newTruckTable()
	rng := rand.New(rand.NewPCG(1, 2))
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms0)
	us := make([]truckUpdate, 0, 4096)
	ts := make([]Truck, 4096)
	for i := 0; i < 1000000; i++ {
		k := len(us)
		ts[k] = Truck{Plate: fmt.Sprintf("浙B%05d", i), Lat: 29.7 + rng.Float64()*0.4, Lon: 121.5 + rng.Float64()*0.9}
		c, _ := geo.CellOf(geo.LatLng{Lat: ts[k].Lat, Lng: ts[k].Lon}, truckIndexRes)
		us = append(us, truckUpdate{t: &ts[k], cell: c})
		if len(us) == 4096 {
			tt.upsert(us)
			us = us[:0]
		}
	}
	tt.upsert(us)
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms1)
	x := tt.idx
	fmt.Printf("rows %d B\n", tt.rows.Bytes())
	fmt.Printf("slots %d (%d B)\n", len(tt.slots), len(tt.slots)*4)
	fmt.Printf("idx %d B\n", x.MemoryBytes())
	fmt.Printf("heap inuse delta %.1f B/obj, sys delta %.1f\n", float64(ms1.HeapInuse-ms0.HeapInuse)/1e6, float64(ms1.Sys-ms0.Sys)/1e6)
}
