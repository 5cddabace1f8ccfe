//go:build !linux

package bench

import "time"

// shortSlices is Linux-only (see slice_linux.go).
func shortSlices(time.Duration) int { return 0 }
