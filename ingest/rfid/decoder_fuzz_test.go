package rfid

import (
	"path/filepath"
	"testing"
)

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	d := newTestDecoder(f)
	f.Fuzz(func(t *testing.T, value []byte) {
		evs, err := d.Decode(nil, value)
		if err != nil && len(evs) != 0 {
			t.Fatalf("Decode returned %d events with error %v", len(evs), err)
		}
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				t.Fatalf("event %d %+v fails Validate: %v", i, evs[i], err)
			}
		}
	})
}
