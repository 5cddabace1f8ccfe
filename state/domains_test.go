package state

import "testing"

// OpenWithDomains opens a store with portstate's stages, the moved domains'
// included, and their wiring. domains_ext_test.go (package state_test,
// which may import state/portstate) sets it. A test of this package whose
// input a moved domain applies (fences observing trucks, the legs of a box
// on a truck) opens its store with openDomains; the others keep
// BuiltinStages.
var OpenWithDomains func(Options) (*Store, error)

func openDomains(t testing.TB, opts Options) *Store {
	t.Helper()
	if OpenWithDomains == nil {
		t.Fatal("OpenWithDomains is not set: domains_ext_test.go is missing")
	}
	s, err := OpenWithDomains(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
