package transport

import (
	"path/filepath"
	"testing"
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
		rs, ignored, err := d.Decode(nil, value)
		if err != nil && (len(rs) != 0 || ignored != "") {
			t.Fatalf("Decode returned %d reports, ignored %q with error %v", len(rs), ignored, err)
		}
		if ignored != "" && len(rs) != 0 {
			t.Fatalf("ignored %q record gave %d reports", ignored, len(rs))
		}
		if !labels[ignored] {
			t.Fatalf("ignored label %q not in IgnoredTypes", ignored)
		}
		for i := range rs {
			if err := rs[i].Validate(); err != nil {
				t.Fatalf("report %d %+v fails Validate: %v", i, rs[i], err)
			}
		}
	})
}
