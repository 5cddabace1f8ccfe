package state

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestVesselTurn: the raw rate of turn is kept as sent, −1 and ±127
// included; only UnknownTurn is unknown.
func TestVesselTurn(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	turns := []int{-1, 127, -127, 0, 126, UnknownTurn}
	var reports []VesselReport
	for i, turn := range turns {
		r := pos(uint32(413000100+i), 100, 29.80, 122.20, "s1")
		r.Turn = turn
		reports = append(reports, r)
	}
	if _, err := s.Apply(&Batch{Topic: "port.ais", Next: 1, Vessels: reports}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for i, want := range turns {
			v, err := s.Vessel(uint32(413000100 + i))
			if err != nil {
				t.Fatal(err)
			}
			if v.Turn != want {
				t.Errorf("%s: turn %d stored as %d", when, want, v.Turn)
			}
		}
	}
	check("applied")
	s.Close()
	s = openMem(t, fs)
	defer s.Close()
	check("reopened")
}

// TestVesselTurnV1: a vessel value of version 1 stored −1 for an unknown
// turn (the raw −1 could not be told from it): it reads as UnknownTurn.
func TestVesselTurnV1(t *testing.T) {
	v := newVessel(413000200)
	v.HasPosition, v.Lat, v.Lon, v.Status, v.Heading = true, 29.8, 122.2, 5, 90
	v.Turn = -1
	b := appendVessel(nil, &v)
	b[0] = valueV1
	var got Vessel
	if err := decodeVessel(v.MMSI, b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Turn != UnknownTurn || got.Heading != 90 || got.Status != 5 {
		t.Errorf("version 1 value read as turn %d, heading %d, status %d", got.Turn, got.Heading, got.Status)
	}
	v.Turn = 127
	if err := decodeVessel(v.MMSI, appendVessel(nil, &v), &got); err != nil || got.Turn != 127 {
		t.Errorf("turn 127 read back as %d (%v)", got.Turn, err)
	}
}
