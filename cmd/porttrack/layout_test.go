package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/porttrack/porttrack"

// rel returns the top-level part of a porttrack import path ("ingest",
// "cmd", ...), or "" for other modules.
func rel(path string) string {
	if path != module && !strings.HasPrefix(path, module+"/") {
		return ""
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(path, module), "/"), "/")
	return top
}

// TestImportDirection keeps the package graph of ARCHITECTURE.md §2:
// ingest → state ← query, geo a leaf, bench only under cmd, nothing imports
// cmd, and the heavy dependencies stay in their owners.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string][]string{
		"state":  {"ingest", "query", "bench", "cmd", "gateway"},
		"ingest": {"query", "bench", "cmd", "gateway"},
		"query":  {"ingest", "bench", "cmd", "gateway"},
		"geo":    {"state", "ingest", "query", "bench", "cmd", "gateway"},
		"bench":  {"cmd"},
		// The gateway is an input producer in front of Kafka, not part of
		// the engine: it uses state's plate rules only.
		"gateway": {"ingest", "query", "bench", "cmd"},
	}
	// Third-party packages only their owner may import (others reach them
	// through the owner's API).
	owned := map[string]string{"github.com/uber/h3-go/v4": "geo"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		checked++
		top := rel(p.ImportPath)
		if err := stateLayer(p.ImportPath, p.Imports); err != nil {
			t.Error(err)
		}
		for _, d := range p.Imports {
			if owner, ok := owned[d]; ok && top != owner {
				t.Errorf("%s imports %s: only %s may", p.ImportPath, d, owner)
			}
		}
		for _, d := range p.Deps {
			dtop := rel(d)
			for _, f := range forbidden[top] {
				if dtop == f {
					t.Errorf("%s depends on %s: %s must not depend on %s", p.ImportPath, d, top, f)
				}
			}
			if dtop == "cmd" {
				t.Errorf("%s depends on %s: nothing imports cmd", p.ImportPath, d)
			}
			if (top == "state" || top == "geo") && (strings.HasPrefix(d, "github.com/segmentio/kafka-go") || strings.HasPrefix(d, "github.com/valyala/fasthttp")) {
				t.Errorf("%s depends on %s: %s knows nothing of Kafka or HTTP", p.ImportPath, d, top)
			}
			if top == "query" && strings.HasPrefix(d, "github.com/segmentio/kafka-go") {
				t.Errorf("%s depends on %s: query reads state, not Kafka", p.ImportPath, d)
			}
			if top == "ingest" && strings.HasPrefix(d, "github.com/valyala/fasthttp") {
				t.Errorf("%s depends on %s: ingest serves no HTTP", p.ImportPath, d)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages: go list output not as expected", checked)
	}
}

// stateLayer checks the layers inside state: the kernel (package state)
// imports none of the packages under it; a domain (state/<domain>) imports
// the kernel and no other domain (it declares an interface for what it
// needs of one, and portstate wires it); only portstate assembles them.
func stateLayer(path string, imports []string) error {
	kernel := module + "/state"
	sub := func(p string) string { // "" unless p is under the kernel
		if !strings.HasPrefix(p, kernel+"/") {
			return ""
		}
		d, _, _ := strings.Cut(strings.TrimPrefix(p, kernel+"/"), "/")
		return d
	}
	self := sub(path)
	if path != kernel && (self == "" || self == "portstate") {
		return nil
	}
	for _, d := range imports {
		other := sub(d)
		switch {
		case other == "" || other == "testdata":
		case path == kernel:
			return fmt.Errorf("%s imports %s: the kernel imports none of the packages under it", path, d)
		case other != self:
			return fmt.Errorf("%s imports %s: a domain reaches another only through an interface of its own, wired by portstate", path, d)
		}
	}
	return nil
}

// TestStateLayer guards stateLayer with the cases it must refuse and allow.
func TestStateLayer(t *testing.T) {
	for _, c := range []struct {
		path    string
		imports []string
		ok      bool
	}{
		{module + "/state", []string{module + "/geo"}, true},
		{module + "/state", []string{module + "/state/customs"}, false},
		{module + "/state/customs", []string{module + "/state"}, true},
		{module + "/state/multimodal", []string{module + "/state", module + "/state/customs"}, false},
		{module + "/state/multimodal", []string{module + "/state/portstate"}, false},
		{module + "/state/portstate", []string{module + "/state/customs", module + "/state/multimodal"}, true},
		{module + "/query", []string{module + "/state/customs"}, true},
		{module + "/state/truck", []string{module + "/state", module + "/geo"}, true},
		{module + "/state/truck", []string{module + "/state/customs"}, false},
		{module + "/state", []string{module + "/state/truck"}, false},
	} {
		if err := stateLayer(c.path, c.imports); (err == nil) != c.ok {
			t.Errorf("stateLayer(%s, %v) = %v, want ok=%v", c.path, c.imports, err, c.ok)
		}
	}
}

// TestRelClassifies guards the helper the direction test relies on.
func TestRelClassifies(t *testing.T) {
	for in, want := range map[string]string{
		module + "/ingest/rfid":         "ingest",
		module + "/state":               "state",
		module + "/cmd/porttrack":       "cmd",
		"github.com/segmentio/kafka-go": "",
		module + "x/state":              "",
	} {
		if got := rel(in); got != want {
			t.Errorf("rel(%q) = %q, want %q", in, got, want)
		}
	}
}
