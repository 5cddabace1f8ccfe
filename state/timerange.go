package state

import (
	"fmt"
	"time"
)

// Times are stored as Unix nanoseconds in an int64, which holds
// 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z; time.Time.UnixNano is
// undefined outside (it wraps silently). MinTime and MaxTime are the
// supported range, rounded inward to whole years so that it is easy to
// state: a time read from outside (a query parameter, a filter, an input
// record) is checked with CheckTime before it is converted.
var (
	MinTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TimeRange is the supported range as text, for error messages.
const TimeRange = "1678-01-01T00:00:00Z to 2262-01-01T00:00:00Z"

// CheckTime returns an error naming the supported range when t lies
// outside [MinTime, MaxTime].
func CheckTime(t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("%s is outside the supported range %s", t.Format(time.RFC3339Nano), TimeRange)
	}
	return nil
}
