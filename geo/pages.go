package geo

import "unsafe"

// Pages is a growable array kept in fixed pages of PageLen elements. It
// never moves its elements when it grows, so a writer that appends under a
// lock never stalls readers for a copy of megabytes, and it holds at most
// one partly used page beyond its length, where a slice grown by append
// holds up to a quarter more than it needs. The point index keeps its
// arrays in it; state keeps its truck rows in it.
//
// It is not safe for concurrent use: Append needs exclusive access; At, Len
// and Bytes may run concurrently with each other.
type Pages[T any] struct {
	pages [][]T
	n     int
}

// PageLen is the number of elements in a page.
const PageLen = 1 << pageBits

const pageBits = 12

// Len is the number of elements.
func (p *Pages[T]) Len() int { return p.n }

// At returns element i, which must be below Len.
func (p *Pages[T]) At(i uint32) *T { return &p.pages[i>>pageBits][i&(PageLen-1)] }

// Append adds v at the end and returns its index.
func (p *Pages[T]) Append(v T) uint32 {
	if p.n == len(p.pages)*PageLen {
		p.pages = append(p.pages, make([]T, PageLen))
	}
	i := uint32(p.n)
	*p.At(i) = v
	p.n++
	return i
}

// Grow appends zero elements until Len is at least n.
func (p *Pages[T]) Grow(n int) {
	for p.n < n {
		var zero T
		p.Append(zero)
	}
}

// Bytes is the memory the pages hold.
func (p *Pages[T]) Bytes() int {
	var zero T
	return len(p.pages)*PageLen*int(unsafe.Sizeof(zero)) + cap(p.pages)*int(unsafe.Sizeof([]T(nil)))
}
