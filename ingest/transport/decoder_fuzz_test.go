package transport

import (
	"path/filepath"
	"testing"

	"github.com/porttrack/porttrack/state"
)

func FuzzTransportDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	labels := map[string]bool{"": true}
	for _, l := range IgnoredTypes() {
		labels[l] = true
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, value []byte) {
		var b state.Batch
		ignored, err := d.Decode(&b, value)
		n := len(b.Trucks) + len(b.Plans) + len(b.PlanEvents) + len(b.Waybills)
		if err != nil && (n != 0 || ignored != "") {
			t.Fatalf("Decode appended %d records, ignored %q with error %v", n, ignored, err)
		}
		if ignored != "" && n != 0 {
			t.Fatalf("ignored %q record gave %d records", ignored, n)
		}
		if err == nil && ignored == "" && n != 1 {
			t.Fatalf("a decoded record gave %d records", n)
		}
		if !labels[ignored] {
			t.Fatalf("ignored label %q not in IgnoredTypes", ignored)
		}
		for i := range b.Trucks {
			if err := b.Trucks[i].Validate(); err != nil {
				t.Fatalf("report %+v fails Validate: %v", b.Trucks[i], err)
			}
		}
		for i := range b.Plans {
			if err := b.Plans[i].Validate(); err != nil {
				t.Fatalf("plan %+v fails Validate: %v", b.Plans[i], err)
			}
		}
		for i := range b.PlanEvents {
			if err := b.PlanEvents[i].Validate(); err != nil {
				t.Fatalf("plan event %+v fails Validate: %v", b.PlanEvents[i], err)
			}
		}
		for i := range b.Waybills {
			if err := b.Waybills[i].Validate(); err != nil {
				t.Fatalf("waybill %+v fails Validate: %v", b.Waybills[i], err)
			}
		}
	})
}
