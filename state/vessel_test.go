package state

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func pos(mmsi uint32, t int64, lat, lon float64, station string) VesselReport {
	r := VesselReport{MMSI: mmsi, Time: t, Station: station, MsgType: 1, HasPosition: true, Lat: lat, Lon: lon,
		Speed: 12.5, Course: 310, Heading: 309, Status: 0, Turn: UnknownTurn,
		ShipType: UnknownInt, ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
	return r
}

func static(mmsi uint32, t int64, imo uint32, name string) VesselReport {
	return VesselReport{MMSI: mmsi, Time: t, MsgType: 5, IMO: imo, Name: name, CallSign: "3FOF8", ShipType: 70,
		ToBow: 225, ToStern: 70, ToPort: 1, ToStarbd: 31, Draught: 12.2, Destination: "NINGBO", ETA: "05-15T14:00Z",
		Speed: UnknownFloat, Course: UnknownFloat, Heading: UnknownInt, Status: UnknownInt, Turn: UnknownTurn}
}

func TestVesselStateAndTrack(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	const m = 413000001
	res, err := s.Apply(&Batch{Topic: "port.ais", Next: 3, Vessels: []VesselReport{
		pos(m, 100, 29.80, 122.20, "s1"),
		pos(m, 100, 29.80, 122.20, "s2"), // same report, another station
		pos(m, 300, 29.90, 121.95, "s1"),
		pos(m, 200, 29.85, 122.10, "s2"), // late: track only
		static(m, 150, 9134270, "EVER DIADEM"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.VesselReports != 4 || res.VesselDuplicates != 1 {
		t.Fatalf("apply result %+v", res)
	}
	v, err := s.Vessel(m)
	if err != nil {
		t.Fatal(err)
	}
	if v.Lat != 29.90 || v.PosTime != 300 || v.Name != "EVER DIADEM" || v.IMO != 9134270 || v.ToBow != 225 || v.LastSeen != 300 {
		t.Fatalf("vessel %+v", v)
	}
	var times []int64
	if err := s.Track(m, 0, 0, 100, func(p *TrackPoint) error { times = append(times, p.Time); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(times) != 3 || times[0] != 100 || times[2] != 300 {
		t.Fatalf("track %v", times)
	}
	times = nil
	s.Track(m, 150, 300, 100, func(p *TrackPoint) error { times = append(times, p.Time); return nil })
	if len(times) != 1 || times[0] != 200 {
		t.Fatalf("track window %v", times)
	}
	// Type 24 A then B: fields merge, unknown ones do not erase known ones.
	a := static(m, 400, 0, "EVER DIADEM II")
	a.CallSign, a.ShipType, a.ToBow, a.Draught, a.Destination, a.ETA = "", UnknownInt, UnknownInt, 0, "", ""
	if _, err := s.Apply(&Batch{Topic: "port.ais", Next: 4, Vessels: []VesselReport{a}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	v, _ = s.Vessel(m)
	if v.Name != "EVER DIADEM II" || v.CallSign != "3FOF8" || v.ToBow != 225 || v.IMO != 9134270 {
		t.Fatalf("merged vessel %+v", v)
	}
	byIMO, err := s.VesselByIMO(9134270)
	if err != nil || byIMO.MMSI != m {
		t.Fatalf("VesselByIMO = %+v, %v", byIMO, err)
	}
	if _, err := s.Vessel(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown vessel: %v", err)
	}
	n := 0
	s.EachVessel(func(*Vessel) error { n++; return nil })
	if n != 1 {
		t.Fatalf("EachVessel saw %d", n)
	}
}

func TestVesselReportValidate(t *testing.T) {
	bad := []VesselReport{
		{MMSI: 0, Time: 1},
		{MMSI: 1000000000, Time: 1},
		{MMSI: 413000001},
		{MMSI: 413000001, Time: 1, HasPosition: true, Lat: 91},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestTrackRetention(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), TrackRetention: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const m = 413000001
	for i, tm := range []int64{10, 50, 120, 200} {
		if _, err := s.Apply(&Batch{Topic: "port.ais", Next: int64(i + 1), Vessels: []VesselReport{pos(m, tm, 29.9, 121.9+float64(i)/100, "s1")}}); err != nil {
			t.Fatal(err)
		}
	}
	var times []int64
	s.Track(m, 0, 0, 100, func(p *TrackPoint) error { times = append(times, p.Time); return nil })
	if len(times) != 2 || times[0] != 120 || times[1] != 200 {
		t.Fatalf("track after retention %v, want [120 200]", times)
	}
}

func TestTrimDue(t *testing.T) {
	const week = 7 * 24 * time.Hour
	h := int64(time.Hour)
	base := int64(1_795_000_000) * 1e9 / h * h // on a whole hour
	for _, c := range []struct {
		stored    bool
		prev, now int64
		ret       time.Duration
		want      bool
	}{
		{false, 0, base, week, true},                          // nothing stored: trim
		{true, base, base + 5e9, week, false},                 // seconds later, same hour
		{true, base + h - 1, base + h, week, true},            // the cut-off crossed an hour
		{true, base, base + 2*h, week, true},                  // two hours later
		{true, base + h, base, week, false},                   // an older position
		{true, 10, 12, 100, false},                            // steps of 6 ns: -90 and -88 in one
		{true, 50, 120, 100, true},                            // -50 to 20
		{true, -h, -h + 1, time.Duration(16 * h / 16), false}, // negative times round down
	} {
		if got := trimDue(c.stored, c.prev, c.now, c.ret); got != c.want {
			t.Errorf("trimDue(%v, %d, %d, %v) = %v, want %v", c.stored, c.prev, c.now, c.ret, got, c.want)
		}
	}
}
