package ingest

import "time"

// backoff is an exponential retry delay: base, doubling, capped at max.
// Its owner goroutine alone uses it.
type backoff struct {
	base, max, cur time.Duration
}

func newBackoff(base, max time.Duration) backoff { return backoff{base: base, max: max} }

// next returns the delay before the next attempt and doubles it.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.base
	}
	d := b.cur
	b.cur = min(2*b.cur, b.max)
	return d
}

// reset starts again from base (after an attempt succeeded).
func (b *backoff) reset() { b.cur = 0 }
