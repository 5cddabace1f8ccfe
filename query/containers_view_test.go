package query

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestContainerAnswerOneBatch: GET /v1/containers/{id} reads the current
// state, location, position, legs and customs state of the box; a batch
// committed between its first read and the others must not show in the
// answer (one snapshot), and must show in the next answer.
func TestContainerAnswerOneBatch(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const box = "MSKU9070323"
	t0 := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()
	// Batch A: the box is discharged and held by quarantine.
	a := &state.Batch{Topic: "t", Next: 1,
		Events: []state.Event{{ID: "e1", Container: box, Code: state.CodeDISC, Time: t0, Location: "CNNGB-BLCT", Source: "test"}},
		Customs: []state.CustomsDoc{
			{Type: state.CustomsContainer, ID: "c1", Time: t0, Box: &state.ContainerCustomsEvent{Container: box, Event: state.BoxEventHeld, HoldKind: "quarantine", Reason: "fumigation"}},
		}}
	// Batch B: the hold is lifted, customs releases the box and it is
	// loaded onto a ship: its customs state, readiness and legs change.
	b := &state.Batch{Topic: "t", Next: 2,
		Events: []state.Event{{ID: "e2", Container: box, Code: state.CodeLOAD, Time: t0 + int64(time.Hour), Location: "CNNGB-BLCT", Source: "test"}},
		Customs: []state.CustomsDoc{
			{Type: state.CustomsContainer, ID: "c2", Time: t0 + 1, Box: &state.ContainerCustomsEvent{Container: box, Event: state.BoxEventHoldLifted, HoldKind: "quarantine"}},
			{Type: state.CustomsContainer, ID: "c3", Time: t0 + 2, Box: &state.ContainerCustomsEvent{Container: box, Event: state.BoxEventReleased}},
		}}
	if _, err := store.Apply(a); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: store, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	get := func() string {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/v1/containers/" + box)
		ctx.Request.Header.SetHost("localhost")
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		return string(ctx.Response.Body())
	}
	answerA := get()

	applied := false
	srv.hookContainerRead = func() {
		if applied {
			return
		}
		applied = true
		if _, err := store.Apply(b); err != nil {
			t.Error(err)
		}
	}
	during := get()
	srv.hookContainerRead = nil
	if !applied {
		t.Fatal("the hook did not run: the answer was not interleaved with batch B")
	}
	if during != answerA {
		t.Errorf("an answer begun before batch B mixes in its effects:\n got %s\nwant %s", during, answerA)
	}

	answerB := get()
	// B must change what the later reads of the answer show, else this
	// test could not tell one snapshot from several reads.
	for _, part := range []string{`"customs":`, `"readiness":`, `"transport":`} {
		if member(answerA, part) == member(answerB, part) {
			t.Errorf("batch B does not change %s of the answer:\n%s", part, answerB)
		}
	}
}

// member returns the text of the answer from a member's key to the next
// top-level member (enough to compare one member of two answers).
func member(answer, key string) string {
	i := strings.Index(answer, key)
	if i < 0 {
		return ""
	}
	rest := answer[i+len(key):]
	depth := 0
	for j, c := range rest {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return rest[:j]
			}
		case ',':
			if depth == 0 {
				return rest[:j]
			}
		}
	}
	return rest
}
