package state

import (
	"bytes"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOnCommitAndOffsets(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	var got []string
	var at []string
	remove := s.OnCommit(func(c *Committed) {
		at = append(at, c.Topic+"/"+string(rune('0'+c.Partition))+"@"+uitoa(uint32(c.Next)))
		for _, ch := range c.Changes {
			got = append(got, string(rune('0'+ch.Kind))+":"+ch.ID)
		}
	})
	if _, err := s.Apply(&Batch{Topic: "port.rfid", Partition: 1, Next: 5, Events: []Event{ev("e1", boxA, CodeGTIN, 100, "GATE")}}); err != nil {
		t.Fatal(err)
	}
	vr := VesselReport{MMSI: 413000001, Time: 2e9, HasPosition: true, Lat: 29.9, Lon: 121.9, Speed: UnknownFloat, Course: UnknownFloat, Heading: UnknownInt, Status: UnknownInt, Turn: UnknownTurn,
		ShipType: UnknownInt, ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
	tr := TruckReport{Plate: "浙B12345", Time: 3e9, Lat: 29.93, Lon: 121.86, SpeedKmh: UnknownFloat, Heading: UnknownInt}
	if _, err := s.Apply(&Batch{Topic: "port.ais", Partition: 0, Next: 7, Vessels: []VesselReport{vr}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(&Batch{Topic: "port.transport", Partition: 2, Next: 9, Trucks: []TruckReport{tr}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"3:" + boxA, "1:413000001", "2:浙B12345"}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	if w := []string{"port.rfid/1@5", "port.ais/0@7", "port.transport/2@9"}; !slices.Equal(at, w) {
		t.Fatalf("positions %q, want %q", at, w)
	}
	var offs []string
	if err := s.Offsets(func(topic string, p int32, next int64) bool {
		offs = append(offs, topic+"/"+string(rune('0'+p))+"@"+uitoa(uint32(next)))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if w := []string{"port.ais/0@7", "port.rfid/1@5", "port.transport/2@9"}; !slices.Equal(offs, w) {
		t.Fatalf("offsets %q, want %q", offs, w)
	}
	remove()
	got = nil
	if _, err := s.Apply(&Batch{Topic: "port.rfid", Partition: 1, Next: 6, Events: []Event{ev("e2", boxA, CodeGTOT, 200, "GATE")}}); err != nil {
		t.Fatal(err)
	}
	if got != nil {
		t.Fatalf("changes after the listener was removed: %q", got)
	}
}

// TestOnCommitAlertsAndTrains: a rail plan that puts a box at risk tells
// the listener of the train and of its connection alert, with the alert's
// record as published on the outbox; a batch that fails tells nothing.
func TestOnCommitAlertsAndTrains(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), Guard: GuardConfig{AlertTopic: "porttrack.alerts"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []Change
	s.OnCommit(func(c *Committed) {
		for _, ch := range c.Changes {
			got = append(got, Change{Kind: ch.Kind, ID: ch.ID, Body: slices.Clone(ch.Body)})
		}
	})
	day := int64(86400e9)
	p := Plan{Mode: ModeRail, ID: "X1", From: "beilun-rail-station", To: "CNYIW", Departure: 20 * day, Cutoff: 20*day - 2*3600e9, Time: 19 * day,
		Wagons: []Wagon{{ID: "W1", Containers: []string{boxA}}}}
	if _, err := s.Apply(&Batch{Topic: "port.transport", Next: 1, Plans: []Plan{p}}); err != nil {
		t.Fatal(err)
	}
	var train, alert *Change
	for i := range got {
		switch got[i].Kind {
		case ChangeTrain:
			train = &got[i]
		case ChangeAlert:
			alert = &got[i]
		}
	}
	if train == nil || train.ID != "X1" {
		t.Fatalf("no train change: %+v", got)
	}
	if alert == nil || !bytes.Contains(alert.Body, []byte(`"kind":"connection","container":"`+boxA+`"`)) {
		t.Fatalf("no connection alert: %+v", got)
	}
	got = nil
	bad := Batch{Topic: "", Next: 2, Plans: []Plan{p}} // no topic: refused before anything is written
	if _, err := s.Apply(&bad); err == nil {
		t.Fatal("a batch without a topic was applied")
	}
	if got != nil {
		t.Fatalf("a failed batch told the listener %+v", got)
	}
}
