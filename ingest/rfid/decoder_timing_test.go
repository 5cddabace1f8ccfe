package rfid

import (
	"testing"

	"github.com/porttrack/porttrack/state"
)

func BenchmarkDecode(b *testing.B) {
	d := newTestDecoder(b)
	for _, bm := range []struct{ form, file string }{
		{"read", "read_gate_in.json"},
		{"read-millis", "read_quay_crane.json"},
		{"epcis-event", "gate_in_object_event.json"},
		{"epcis-aggregation", "vessel_loading_aggregation_event.json"},
		{"epcis-document", "epcis_document.json"},
	} {
		value := readTestdata(b, bm.file)
		b.Run("form="+bm.form, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			var dst []state.Event
			for b.Loop() {
				var err error
				if dst, err = d.Decode(dst[:0], value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
