package state

import (
	"os"
	"strings"
	"testing"
)

// TestApplyOrderDocumented: doc.go lists the stages of applyOrder, in that
// order, each once.
func TestApplyOrderDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "// # Apply stages")
	if !ok {
		t.Fatal(`doc.go has no "# Apply stages" section`)
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
	var want []string
	seen := map[string]bool{}
	for _, st := range applyOrder {
		if seen[st.name()] {
			t.Errorf("stage %q twice in applyOrder", st.name())
		}
		seen[st.name()] = true
		want = append(want, st.name())
	}
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("doc.go lists the stages %v, applyOrder is %v", listed, want)
	}
}
