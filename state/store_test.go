package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func openMem(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open(Options{Dir: "db", FS: fs, Now: func() time.Time { return time.Unix(1000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ev(id, box string, code Code, t int64, loc string) Event {
	return Event{ID: id, Container: box, Code: code, Time: t, Location: loc, Source: "test"}
}

const (
	boxA = "CSQU3054383"
	boxB = "MSKU9070323"
)

func history(t *testing.T, s *Store, id string) []string {
	t.Helper()
	var out []string
	_, err := s.History(id, HistoryQuery{Limit: 1000}, func(e *StoredEvent) error {
		out = append(out, fmt.Sprintf("%s@%d", e.ID, e.Time))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyDedupeLateAndOffsets(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	res, err := s.Apply(&Batch{Topic: "port.rfid", Partition: 3, Next: 10, Events: []Event{
		ev("e2", boxA, CodeGTIN, 200, "GATE"),
		ev("e1", boxA, CodeDISC, 100, "QUAY"), // late within the batch
		ev("e2", boxA, CodeGTIN, 200, "GATE"), // duplicate within the batch
		ev("b1", boxB, CodeLOAD, 50, "QUAY"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res != (ApplyResult{Stored: 3, Duplicates: 1, Late: 1}) {
		t.Fatalf("first apply: %+v", res)
	}
	// Redelivery of the same records in a later batch: nothing changes.
	res, err = s.Apply(&Batch{Topic: "port.rfid", Partition: 3, Next: 12, Events: []Event{
		ev("e1", boxA, CodeDISC, 100, "QUAY"),
		ev("e3", boxA, CodeGTOT, 150, "GATE"), // late: older than e2
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res != (ApplyResult{Stored: 1, Duplicates: 1, Late: 1}) {
		t.Fatalf("second apply: %+v", res)
	}
	c, err := s.Container(boxA)
	if err != nil {
		t.Fatal(err)
	}
	if c.Last.ID != "e2" || c.Status() != "gated_in" || c.Count != 3 || c.First != 100 || c.Last.Location != "GATE" {
		t.Fatalf("current state: %+v", c)
	}
	if got, want := fmt.Sprint(history(t, s, boxA)), "[e1@100 e3@150 e2@200]"; got != want {
		t.Fatalf("history = %s, want %s", got, want)
	}
	if _, err := s.Container("APZU4812090"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown container: %v", err)
	}
	next, ok, err := s.NextOffset("port.rfid", 3)
	if err != nil || !ok || next != 12 {
		t.Fatalf("NextOffset = %d %v %v", next, ok, err)
	}
	if _, ok, _ := s.NextOffset("port.rfid", 4); ok {
		t.Fatal("offset of an untouched partition")
	}

	// Everything survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMem(t, fs)
	defer s.Close()
	if got := history(t, s, boxA); len(got) != 3 {
		t.Fatalf("history after reopen: %v", got)
	}
	res, _ = s.Apply(&Batch{Topic: "port.rfid", Partition: 3, Next: 13, Events: []Event{ev("e2", boxA, CodeGTIN, 200, "GATE")}})
	if res.Duplicates != 1 {
		t.Fatalf("duplicate after reopen not detected: %+v", res)
	}
}

func TestApplyRejectsInvalidBatch(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	_, err := s.Apply(&Batch{Topic: "t", Next: 1, Events: []Event{ev("x", "TGHU0436452", CodeGTIN, 1, "")}})
	if err == nil {
		t.Fatal("invalid container accepted")
	}
	if _, ok, _ := s.NextOffset("t", 0); ok {
		t.Fatal("offset written for a rejected batch")
	}
}

func TestHistoryPaging(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	defer s.Close()
	var evs []Event
	for i := 0; i < 25; i++ {
		// Negative times (before 1970) must sort before positive ones.
		evs = append(evs, ev(fmt.Sprintf("id%02d", i), boxA, CodeINSP, int64(i-5)*1e9+1, "X"))
	}
	evs = append(evs, ev("same-time", boxA, CodeINSP, 3e9+1, "X"))
	if _, err := s.Apply(&Batch{Topic: "t", Next: 1, Events: evs}); err != nil {
		t.Fatal(err)
	}
	var all []int64
	cursor := ""
	pages := 0
	for {
		next, err := s.History(boxA, HistoryQuery{Limit: 7, Cursor: cursor}, func(e *StoredEvent) error {
			all = append(all, e.Time)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 26 || pages != 4 {
		t.Fatalf("got %d events in %d pages", len(all), pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i] < all[i-1] {
			t.Fatalf("not in time order at %d: %v", i, all)
		}
	}
	// Time window [0s, 5s).
	n := 0
	if _, err := s.History(boxA, HistoryQuery{From: 1, To: 5e9, Limit: 100}, func(e *StoredEvent) error {
		if e.Time < 0 || e.Time >= 5e9 {
			t.Errorf("event at %d outside window", e.Time)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 6 { // 0,1,2,3,3(same-time),4
		t.Fatalf("window has %d events, want 6", n)
	}
	if _, err := s.History(boxA, HistoryQuery{Limit: 1, Cursor: "!!"}, func(*StoredEvent) error { return nil }); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestOutbox(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	msgs := []Message{
		{Topic: "porttrack.dlq", Key: []byte("k1"), Value: []byte("v1"), Headers: []Header{{"error", []byte("empty: x")}}},
		{Topic: "porttrack.dlq", Key: nil, Value: []byte{0, 1, 2}},
	}
	if _, err := s.Apply(&Batch{Topic: "t", Next: 5, Outbox: msgs}); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	err := s.ScanOutbox(10, func(e *OutboxEntry) error {
		seqs = append(seqs, e.Seq)
		if e.Seq == seqs[0] && (string(e.Key) != "k1" || string(e.Headers[0].Value) != "empty: x") {
			t.Errorf("entry %+v", e)
		}
		return nil
	})
	if err != nil || len(seqs) != 2 {
		t.Fatalf("scan: %v %v", seqs, err)
	}
	s.Close()
	// The sequence resumes after reopen instead of overwriting.
	s = openMem(t, fs)
	defer s.Close()
	if _, err := s.Apply(&Batch{Topic: "t", Next: 6, Outbox: msgs[:1]}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(); n != 3 {
		t.Fatalf("outbox has %d entries, want 3", n)
	}
	if err := s.DeleteOutbox(seqs[0], seqs[1]); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(); n != 1 {
		t.Fatalf("outbox has %d entries after delete, want 1", n)
	}
}

func TestFormatVersionChecked(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	if err := s.db.Set([]byte{prefixVersion, 'v'}, []byte{0, 0, 0, 99}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(Options{Dir: "db", FS: fs}); !errors.Is(err, ErrFormat) {
		t.Fatalf("Open of a future format: %v", err)
	}
}
