package portstate

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
)

func names(stages []state.Stage) []string {
	var out []string
	for _, st := range stages {
		out = append(out, st.Name())
	}
	return out
}

// TestStageOrderDocumented: state/doc.go lists the stages of Apply in the
// order portstate runs them, each once.
func TestStageOrderDocumented(t *testing.T) {
	doc, err := os.ReadFile("../doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "// # Apply stages")
	if !ok {
		t.Fatal(`state/doc.go has no "# Apply stages" section`)
	}
	var listed []string
	for l := range strings.Lines(section) {
		l = strings.TrimSpace(strings.TrimPrefix(l, "//"))
		num, rest, ok := strings.Cut(l, ". ")
		if !ok || strings.Trim(num, "0123456789") != "" || num == "" {
			continue
		}
		name, _, _ := strings.Cut(rest, ":")
		listed = append(listed, name)
	}
	want := names(stages(newDomains(state.Options{})))
	seen := map[string]bool{}
	for _, n := range want {
		if seen[n] {
			t.Errorf("stage %q twice in portstate's list", n)
		}
		seen[n] = true
	}
	if !slices.Equal(listed, want) {
		t.Errorf("state/doc.go lists the stages %v, portstate runs %v", listed, want)
	}
}

// TestBuiltinStagesInOrder: the stages a Store runs when opened without
// portstate (package state's own tests) are portstate's stages that still
// live in package state, in the same order.
func TestBuiltinStagesInOrder(t *testing.T) {
	builtin := names(state.BuiltinStages())
	var want []string
	for _, n := range names(stages(newDomains(state.Options{}))) {
		if slices.Contains(builtin, n) {
			want = append(want, n)
		}
	}
	if !slices.Equal(builtin, want) {
		t.Errorf("state.BuiltinStages() is %v, portstate's order of them is %v", builtin, want)
	}
}

// TestOpenRefusesStages: the stage list is portstate's alone.
func TestOpenRefusesStages(t *testing.T) {
	_, err := Open(state.Options{Dir: t.TempDir(), Stages: []state.Stage{state.BatchOutboxStage}})
	if err != errStagesSet {
		t.Fatalf("Open with Options.Stages: %v, want %v", err, errStagesSet)
	}
}
