package truck_test

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

const (
	plateA = "浙B12345"
	plateB = "浙B67890"
	boxA   = "CSQU3054383"
	boxB   = "MSKU9070323"
)

func report(plate string, t int64, lat, lon float64, container string) state.TruckReport {
	return state.TruckReport{Plate: plate, Time: t, Lat: lat, Lon: lon, SpeedKmh: 32.5, Heading: 90, Container: container}
}

func ev(id, box string, code state.Code, t int64, loc string) state.Event {
	return state.Event{ID: id, Container: box, Code: code, Time: t, Location: loc, Source: "test"}
}

// openMem opens the state, every domain's stage in its place, on fs.
func openMem(t testing.TB, fs vfs.FS) *portstate.State {
	t.Helper()
	return open(t, state.Options{Dir: "db", FS: fs, Now: func() time.Time { return time.Unix(1000, 0) }})
}

func open(t testing.TB, opts state.Options) *portstate.State {
	t.Helper()
	s, err := portstate.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// applyTruckBatch applies one batch of truck reports at the next offset.
func applyTruckBatch(t testing.TB, s *portstate.State, rs ...state.TruckReport) state.ApplyResult {
	t.Helper()
	next, _, err := s.NextOffset("port.transport", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(&state.Batch{Topic: "port.transport", Next: next + 1, Trucks: rs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
