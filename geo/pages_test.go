package geo

import "testing"

func TestPages(t *testing.T) {
	var p Pages[uint64]
	if p.Len() != 0 || p.Bytes() != 0 {
		t.Fatalf("empty: len %d, %d bytes", p.Len(), p.Bytes())
	}
	const n = 3*PageLen + 5
	for i := range n {
		if got := p.Append(uint64(i) * 3); got != uint32(i) {
			t.Fatalf("Append #%d returned index %d", i, got)
		}
	}
	first := p.At(0)
	for i := range uint32(n) {
		if v := *p.At(i); v != uint64(i)*3 {
			t.Fatalf("At(%d) = %d, want %d", i, v, uint64(i)*3)
		}
	}
	p.Grow(n + PageLen)
	if p.Len() != n+PageLen || *p.At(n) != 0 || *p.At(n + PageLen - 1) != 0 {
		t.Fatalf("Grow: len %d, new elements %d %d", p.Len(), *p.At(n), *p.At(n + PageLen - 1))
	}
	if p.At(0) != first {
		t.Fatal("growing moved element 0")
	}
	// Whole pages only: at most one partly used.
	if pages := p.Bytes() / (PageLen * 8); pages != (p.Len()+PageLen-1)/PageLen {
		t.Fatalf("%d bytes hold %d pages for %d elements", p.Bytes(), pages, p.Len())
	}
}
