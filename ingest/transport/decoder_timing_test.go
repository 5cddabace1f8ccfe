package transport

import (
	"testing"

	"github.com/porttrack/porttrack/state"
)

func BenchmarkTransportDecode(b *testing.B) {
	d := NewDecoder()
	for _, bm := range []struct{ form, file string }{
		{"position", "truck_position.json"},
		{"position-millis", "truck_position_millis.json"},
		{"position-normalise", "truck_position_offset.json"},
		{"ignored", "rail_plan.json"},
	} {
		value := readTestdata(b, bm.file)
		b.Run("form="+bm.form, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			var dst []state.TruckReport
			for b.Loop() {
				var err error
				if dst, _, err = decodeTrucks(d, dst[:0], value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
