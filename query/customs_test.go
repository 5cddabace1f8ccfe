package query

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestCustomsReadinessAllocs pins the customs part of the container lookup
// at zero allocations (beyond the store's own).
func TestCustomsReadinessAllocs(t *testing.T) {
	if customsRace {
		t.Skip("sync.Pool is a no-op under -race")
	}
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const box = "MSKU9070323"
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()
	_, err = store.Apply(&state.Batch{Topic: "t", Next: 1,
		Events: []state.Event{{ID: "e1", Container: box, Code: state.CodeHOLD, Time: t0, Location: "CNNGB-BLCT-YARD", Source: "test"}},
		Customs: []state.CustomsDoc{
			{Type: state.CustomsContainer, ID: "c1", Time: t0, Box: &state.ContainerCustomsEvent{Container: box, Event: state.BoxEventHeld, HoldKind: "quarantine", Reason: "fumigation"}},
			{Type: state.CustomsContainer, ID: "c2", Time: t0 + 1, Box: &state.ContainerCustomsEvent{Container: box, Event: state.BoxEventInspection}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	vw := store.View()
	defer vw.Close()
	c, err := vw.Container(box)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	out, found, err := appendCustomsReadiness(buf, store.Customs, vw, box, &c)
	if err != nil || !found {
		t.Fatal(err)
	}
	want := `,"readiness":{"available_for_pickup":false,"blocking":[{"kind":"quarantine","since":"2026-11-22T08:00:00Z","reason":"fumigation"},{"kind":"inspection","since":"2026-11-22T08:00:00.000000001Z","reason":"selected for inspection"},{"kind":"terminal_hold","since":"2026-11-22T08:00:00Z","reason":"terminal hold at CNNGB-BLCT-YARD"}]}`
	if got := string(out); len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Fatalf("readiness:\n%s\nwant suffix\n%s", got, want)
	}
	n := testing.AllocsPerRun(100, func() {
		out, _, _ = appendCustomsReadiness(buf[:0], store.Customs, vw, box, &c)
	})
	// Pebble's Get of a memtable key (through a snapshot too) allocates
	// nothing; the rest is ours.
	if n != 0 {
		t.Errorf("customs and readiness allocate %v times per lookup, want 0", n)
	}
}
