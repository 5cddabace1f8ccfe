package state

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// genBoxes returns n valid ISO 6346 numbers.
func genBoxes(n int) []string {
	var out []string
	for i := range n {
		s := fmt.Sprintf("TSTU%06d", 100+i*37)
		out = append(out, s+string(ContainerCheckDigit(s)))
	}
	return out
}

// bruteEvent is an event as the brute-force oracle sees it.
type bruteEvent struct {
	Event
	h [8]byte
}

// bruteHistory returns each container's distinct events in history order.
func bruteHistory(all []Event) map[string][]bruteEvent {
	seen := map[string]bool{}
	out := map[string][]bruteEvent{}
	for _, e := range all {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		h := idHash(e.ID)
		be := bruteEvent{Event: e}
		copy(be.h[:], h[:8])
		out[e.Container] = append(out[e.Container], be)
	}
	for _, evs := range out {
		slices.SortFunc(evs, func(a, b bruteEvent) int {
			if c := cmp.Compare(a.Time, b.Time); c != 0 {
				return c
			}
			return bytes.Compare(a.h[:], b.h[:])
		})
	}
	return out
}

// brutePlaceAt answers "where was the box at T" straight from its history:
// the newest event at or before T places it unless it is a departure or
// names no place; since is the first event of the unbroken run of events at
// that place, until the time of the event that broke the run (0: none).
func brutePlaceAt(s *Store, evs []bruteEvent, at int64) (place string, since, until int64, ok bool) {
	last := -1
	for i, e := range evs {
		if e.Time <= at {
			last = i
		}
	}
	if last < 0 {
		return "", 0, 0, false
	}
	placeOf := func(e bruteEvent) string {
		if e.Code == CodeGTOT || e.Code == CodeLOAD {
			return ""
		}
		p, ok := s.PlaceOf(e.ReadPoint, e.Location)
		if !ok {
			return ""
		}
		return p.ID
	}
	place = placeOf(evs[last])
	if place == "" {
		return "", 0, 0, false
	}
	first := last
	for first > 0 && placeOf(evs[first-1]) == place {
		first--
	}
	for j := last + 1; j < len(evs); j++ {
		if placeOf(evs[j]) != place {
			until = evs[j].Time
			break
		}
	}
	return place, evs[first].Time, until, true
}

// bruteTerminalSince is when the box's current stay in the terminal began
// (0: not in it), from its whole history.
func bruteTerminalSince(evs []bruteEvent) int64 {
	var since int64
	for _, e := range evs {
		switch e.Code {
		case CodeGTIN, CodeDISC:
			if since == 0 {
				since = e.Time
			}
		case CodeGTOT, CodeLOAD:
			since = 0
		}
	}
	return since
}

// collectAt pages through ContainersAt with a small limit and checks the
// count; scope, when not nil, is a logistics caller's.
func collectAt(t *testing.T, s *Store, place string, at int64, scope *Scope) []PlaceStay {
	t.Helper()
	var got []PlaceStay
	q := ListQuery{Limit: 3, Count: true, Scope: scope}
	total := -1
	for page := 0; ; page++ {
		next, n, err := s.ContainersAt(place, at, q, func(p *PlaceStay) error {
			got = append(got, *p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if total >= 0 && n != total {
			t.Fatalf("%s at %d: count %d on page %d, %d before", place, at, n, page, total)
		}
		total = n
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if total != len(got) {
		t.Fatalf("%s at %d: count %d, pages hold %d", place, at, total, len(got))
	}
	return got
}

// TestContainerLocationsAgainstBruteForce applies random container
// histories (random places, codes and times over several days, in random
// batches with late and duplicate events) and checks every place query, now
// and at many past times, the dwell list and the as-of container state
// against answers computed straight from the full history.
func TestContainerLocationsAgainstBruteForce(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testLocationsBrute(t, seed) })
	}
}

func testLocationsBrute(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	pm := loadPortModel(t)
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	boxes := genBoxes(12)
	// Read points and locations: readers of several places, a place id, a
	// facility of one place, a quay facility shared by several berths (no
	// place), an unknown reader.
	where := []struct{ readPoint, location string }{
		{"BLCT-GATE-L1", "CNNGB-BLCT-GATE"},
		{"BLCT-GATE-L3", "CNNGB-BLCT-GATE"},
		{"YS-01", "CNNGB-BLCT-YARD-A"},
		{"YS-02", "CNNGB-BLCT-YARD-C"},
		{"", "CNNGB-BLCT-YARD-C"},
		{"nbct-yard-d", ""},
		{"BLCT-QC01-DISC", "CNNGB-BLCT-QUAY"},
		{"BLCT-QC05-LOAD", "CNNGB-BLCT-QUAY"},
		{"", "CNNGB-BLCT-QUAY"},
		{"BLRS-RAMP-DISC", "CNNGB-BEILUN-RAIL"},
		{"NOPE-1", "somewhere"},
	}
	codes := []Code{CodeGTIN, CodeGTOT, CodeLOAD, CodeDISC, CodeINSP, CodeHOLD}
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	span := int64(5 * 24 * time.Hour)
	var all []Event
	linked := map[string]bool{}
	scope := &Scope{Bookings: []string{"BKG-S"}}
	for i := range 600 {
		w := where[rng.IntN(len(where))]
		// Coarse times so that several events share a time.
		tm := t0 + rng.Int64N(span/int64(time.Hour))*int64(time.Hour)
		bi := rng.IntN(len(boxes))
		e := Event{ID: fmt.Sprintf("e%d", i), Container: boxes[bi],
			Code: codes[rng.IntN(len(codes))], Time: tm, ReadPoint: w.readPoint, Location: w.location, Source: "test"}
		if bi%3 == 0 && i%5 == 0 {
			// A third of the boxes are linked to a logistics scope, by
			// some of their events only.
			e.Refs = []Ref{{Kind: LinkBooking, Value: "BKG-S"}}
			linked[e.Container] = true
		}
		all = append(all, e)
	}
	// Apply in random order, in batches of 1-40, re-sending some events.
	order := rng.Perm(len(all))
	var batch []Event
	next := int64(0)
	for i, j := range order {
		batch = append(batch, all[j])
		if rng.IntN(8) == 0 {
			batch = append(batch, all[order[rng.IntN(i+1)]]) // duplicate
		}
		if rng.IntN(20) == 0 || i == len(order)-1 {
			next++
			if _, err := s.Apply(&Batch{Topic: "t", Next: next, Events: batch}); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	hist := bruteHistory(all)

	scopedHits := 0
	places := []string{"nbct-gate", "nbct-yard-a", "nbct-yard-c", "nbct-yard-d", "nbct-berth-1", "nbct-berth-4", "beilun-rail-station", "nbct-yard-b"}
	check := func(place string, at int64) {
		t.Helper()
		var want []PlaceStay
		for _, id := range boxes {
			p, since, until, ok := brutePlaceAt(s, hist[id], at)
			if !ok || p != place {
				continue
			}
			want = append(want, PlaceStay{Container: id, Since: since, Until: until})
		}
		got := collectAt(t, s, place, at, nil)
		if at == 0 {
			// Now: the stays still running, without an end.
			for i := range got {
				if got[i].Until != 0 {
					t.Fatalf("%s now: %v has an end", place, got[i])
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s at %s:\n got %v\nwant %v", place, time.Unix(0, at).UTC(), got, want)
		}
		want = slices.DeleteFunc(want, func(p PlaceStay) bool { return !linked[p.Container] })
		scopedHits += len(want)
		if got := collectAt(t, s, place, at, scope); !slices.Equal(got, want) {
			t.Fatalf("%s at %s, scoped:\n got %v\nwant %v", place, time.Unix(0, at).UTC(), got, want)
		}
	}
	const forever = int64(1) << 62
	for _, place := range places {
		// Now equals at a time after every event.
		var want []PlaceStay
		for _, id := range boxes {
			if p, since, _, ok := brutePlaceAt(s, hist[id], forever); ok && p == place {
				want = append(want, PlaceStay{Container: id, Since: since})
			}
		}
		if got := collectAt(t, s, place, 0, nil); !slices.Equal(got, want) {
			t.Fatalf("%s now:\n got %v\nwant %v", place, got, want)
		}
		want = slices.DeleteFunc(want, func(p PlaceStay) bool { return !linked[p.Container] })
		if got := collectAt(t, s, place, 0, scope); !slices.Equal(got, want) {
			t.Fatalf("%s now, scoped:\n got %v\nwant %v", place, got, want)
		}
		for range 40 {
			check(place, t0-int64(time.Hour)+rng.Int64N(span+2*int64(time.Hour)))
		}
		// Boundaries: every event time and just before it.
		for k := range 30 {
			e := all[(k*37+int(seed))%len(all)]
			check(place, e.Time)
			check(place, e.Time-1)
		}
	}

	if scopedHits == 0 || len(linked) == 0 || len(linked) == len(boxes) {
		t.Fatalf("scoped place lists held %d boxes, %d of %d boxes linked: the scope is not tested", scopedHits, len(linked), len(boxes))
	}

	// Dwell: boxes in the terminal whose stay began before a time, longest
	// first, paged.
	for _, before := range []int64{t0, t0 + span/3, t0 + span/2, t0 + span, forever} {
		var want []PlaceStay
		for _, id := range boxes {
			if since := bruteTerminalSince(hist[id]); since != 0 && since < before {
				want = append(want, PlaceStay{Container: id, Since: since})
			}
		}
		slices.SortFunc(want, func(a, b PlaceStay) int {
			if c := cmp.Compare(a.Since, b.Since); c != 0 {
				return c
			}
			return cmp.Compare(a.Container, b.Container)
		})
		for _, sc := range []*Scope{nil, scope} {
			if sc != nil {
				want = slices.DeleteFunc(want, func(p PlaceStay) bool { return !linked[p.Container] })
			}
			var got []PlaceStay
			q := ListQuery{Limit: 2, Count: true, Scope: sc}
			for {
				next, total, err := s.ContainersDwelling(before, q, func(id string, since int64) error {
					got = append(got, PlaceStay{Container: id, Since: since})
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if total != len(want) {
					t.Fatalf("dwell before %d (scope %v): count %d, want %d", before, sc, total, len(want))
				}
				if next == "" {
					break
				}
				q.Cursor = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("dwell before %s (scope %v):\n got %v\nwant %v", time.Unix(0, before).UTC(), sc, got, want)
			}
		}
	}

	// As-of container state.
	for _, id := range boxes {
		evs := hist[id]
		for range 20 {
			at := t0 - int64(time.Hour) + rng.Int64N(span+2*int64(time.Hour))
			c, last, err := s.ContainerAt(id, at)
			n := 0
			var want *bruteEvent
			for i := range evs {
				if evs[i].Time <= at {
					n++
					want = &evs[i]
				}
			}
			if want == nil {
				if err != ErrNotFound {
					t.Fatalf("%s at %d: err %v, want ErrNotFound", id, at, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Count != uint64(n) || c.Last.ID != want.ID || last.ReadPoint != want.ReadPoint || c.First != evs[0].Time {
				t.Fatalf("%s at %d: count %d last %s first %d, want %d %s %d", id, at, c.Count, c.Last.ID, c.First, n, want.ID, evs[0].Time)
			}
		}
		// Current place: the newest event's.
		loc, err := s.ContainerLocation(id)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := loc.Place, loc.HasPlace
		if len(evs) > 0 {
			lastEv := evs[len(evs)-1]
			wp, wok := s.PlaceOf(lastEv.ReadPoint, lastEv.Location)
			if ok != wok || p.ID != wp.ID {
				t.Fatalf("%s: place %v %v, want %v %v", id, p.ID, ok, wp.ID, wok)
			}
		}
	}
}

func TestPlaceOf(t *testing.T) {
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), PortModel: loadPortModel(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		readPoint, location, want, block string
	}{
		{"BLCT-GATE-L2", "CNNGB-BLCT-GATE", "nbct-gate", ""},
		{"YS-07", "CNNGB-BLCT-YARD-C", "nbct-yard-c", "C"}, // an unknown reader: the facility
		{"", "CNNGB-CSCT-YARD-B", "csct-yard-b", "B"},
		{"BLCT-QC03-DISC", "CNNGB-BLCT-QUAY", "nbct-berth-2", ""},
		{"", "CNNGB-BLCT-QUAY", "", ""}, // four berths share the quay
		{"", "msct-berth-2", "msct-berth-2", ""},
		{"", "beilun-anchorage", "", ""}, // not a place for boxes
		{"BLCT-INSP", "CNNGB-BLCT-INSPECTION", "nbct-inspection", "INSPECTION"},
	} {
		p, ok := s.PlaceOf(tc.readPoint, tc.location)
		if p.ID != tc.want || ok != (tc.want != "") || p.Block != tc.block {
			t.Errorf("PlaceOf(%q, %q) = %q %v block %q, want %q block %q", tc.readPoint, tc.location, p.ID, ok, p.Block, tc.want, tc.block)
		}
	}
}

// TestLocationBackfill opens a database whose history predates the location
// index (the index families removed) and finds the same answers as before.
func TestLocationBackfill(t *testing.T) {
	fs := vfs.NewMem()
	pm := loadPortModel(t)
	s, err := Open(Options{Dir: "db", FS: fs, PortModel: pm})
	if err != nil {
		t.Fatal(err)
	}
	boxes := genBoxes(3)
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).UnixNano()
	h := int64(time.Hour)
	if _, err := s.Apply(&Batch{Topic: "t", Next: 1, Events: []Event{
		{ID: "a1", Container: boxes[0], Code: CodeGTIN, Time: t0, Location: "CNNGB-BLCT-GATE", Source: "test"},
		{ID: "a2", Container: boxes[0], Code: CodeHOLD, Time: t0 + h, Location: "CNNGB-BLCT-YARD-C", Source: "test"},
		{ID: "b1", Container: boxes[1], Code: CodeDISC, Time: t0, ReadPoint: "BLCT-QC01-DISC", Source: "test"},
		{ID: "b2", Container: boxes[1], Code: CodeINSP, Time: t0 + 30*h, Location: "nbct-yard-c", Source: "test"},
		{ID: "b3", Container: boxes[1], Code: CodeGTOT, Time: t0 + 50*h, Location: "CNNGB-BLCT-GATE", Source: "test"},
		{ID: "c1", Container: boxes[2], Code: CodeGTIN, Time: t0 + 2*h, Location: "CNNGB-BLCT-GATE", Source: "test"},
	}}); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		now, past []PlaceStay
		dwell     []string
	}
	read := func(s *Store) answer {
		var a answer
		a.now = collectAt(t, s, "nbct-yard-c", 0, nil)
		a.past = collectAt(t, s, "nbct-yard-c", t0+40*h, nil)
		if _, _, err := s.ContainersDwelling(t0+100*h, ListQuery{Limit: 10}, func(id string, since int64) error {
			a.dwell = append(a.dwell, fmt.Sprint(id, since))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	before := read(s)
	if len(before.now) != 1 || len(before.past) != 2 || len(before.dwell) != 2 {
		t.Fatalf("answers before: %+v", before)
	}
	if err := s.db.DeleteRange([]byte{prefixPlaceNow}, []byte{prefixLocation + 1}, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(s); len(got.now)+len(got.past)+len(got.dwell) != 0 {
		t.Fatalf("index not removed: %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: "db", FS: fs, PortModel: pm})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := read(s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after the backfill %+v, before %+v", after, before)
	}
}
