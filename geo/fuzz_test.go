package geo

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParseFeatureCollection feeds fence uploads to the parser and, when
// they parse, to NewFence: neither may panic, and a parsed feature must
// pass its own validation.
func FuzzParseFeatureCollection(f *testing.F) {
	seed, err := os.ReadFile("testdata/port.geojson")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":1,"geometry":{"type":"Polygon","coordinates":[[[121,29],[121.1,29.1],[121.1,29],[121,29.1],[121,29]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","id":"h","geometry":{"type":"Polygon","coordinates":[[[121,29],[121.1,29],[121.1,29.1],[121,29.1],[121,29]],[[121.01,29.01],[121.02,29.01],[121.02,29.02],[121.01,29.01]]]}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		fs, err := ParseFeatureCollection(bytes.NewReader(doc))
		if err != nil {
			return
		}
		for _, ft := range fs {
			if err := ft.Validate(); err != nil {
				t.Fatalf("parsed feature %q fails Validate: %v", ft.ID, err)
			}
			// A coarse resolution keeps each run fast; the code path is
			// the same at ResArea.
			fe, err := NewFence(ft, 5)
			if err != nil {
				continue
			}
			for _, r := range ft.Polygons[0].Outer {
				_ = fe.Contains(r)
			}
		}
	})
}
