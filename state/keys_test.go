package state

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestKeyFamilies checks the table of key families: one family per byte and
// per name, every prefix constant declared in keys.go and listed in the
// table, and the table and FORMAT.md in agreement (every family documented
// under the section the table names, every documented prefix in the table,
// every family inside its domain's range and named in the prefix map).
func TestKeyFamilies(t *testing.T) {
	byPrefix := map[byte]string{}
	byName := map[string]byte{}
	for _, f := range families {
		if g, ok := byPrefix[f.prefix]; ok {
			t.Errorf("prefix %s: families %q and %q", hexByte(f.prefix), g, f.name)
		}
		byPrefix[f.prefix] = f.name
		if p, ok := byName[f.name]; ok {
			t.Errorf("family name %q: prefixes %s and %s", f.name, hexByte(p), hexByte(f.prefix))
		}
		byName[f.name] = f.prefix
		if f.name == "" || f.domain == "" || f.section == "" {
			t.Errorf("prefix %s: incomplete row %+v", hexByte(f.prefix), f)
		}
		if familyByPrefix[f.prefix] == nil || familyByPrefix[f.prefix].name != f.name {
			t.Errorf("prefix %s: familyByPrefix does not name %q", hexByte(f.prefix), f.name)
		}
	}
	checkPrefixDecls(t, byPrefix)
	checkFormatDoc(t, "FORMAT.md")
}

// checkPrefixDecls parses the package's Go files: a constant or variable
// named prefix… is declared in keys.go only, and each one declared there has
// a row in the table.
func checkPrefixDecls(t *testing.T, byPrefix map[byte]string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	declared := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || (gd.Tok != token.CONST && gd.Tok != token.VAR) {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !isPrefixName(id.Name) {
						continue
					}
					if name != "keys.go" {
						t.Errorf("%s: %s declared outside keys.go", fset.Position(id.Pos()), id.Name)
						continue
					}
					declared++
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.INT {
						t.Errorf("%s: %s is not a byte literal", fset.Position(id.Pos()), id.Name)
						continue
					}
					v, err := strconv.ParseUint(lit.Value, 0, 8)
					if err != nil {
						t.Errorf("%s: %s: %v", fset.Position(id.Pos()), id.Name, err)
						continue
					}
					if _, ok := byPrefix[byte(v)]; !ok {
						t.Errorf("%s: %s = %s has no row in families", fset.Position(id.Pos()), id.Name, hexByte(byte(v)))
					}
				}
			}
		}
	}
	if declared != len(families) {
		t.Errorf("keys.go declares %d prefix constants, families has %d rows", declared, len(families))
	}
}

// isPrefixName reports whether a declared name is a key prefix: prefix or
// Prefix (exported for a domain package) followed by an upper-case letter
// (prefixVersion, PrefixTruck, PrefixOrder, PrefixAPIKey; not prefixes).
func isPrefixName(s string) bool {
	r, ok := strings.CutPrefix(s, "prefix")
	if !ok {
		r, ok = strings.CutPrefix(s, "Prefix")
	}
	return ok && r != "" && r[0] >= 'A' && r[0] <= 'Z'
}

var (
	formatKeyLine  = regexp.MustCompile("^key +0x([0-9A-F]{2})\\b")
	formatHeading  = regexp.MustCompile("^#{2,3} +(.+?) *$")
	formatRangeRow = regexp.MustCompile("^\\| `0x([0-9A-F]{2})`(?:–`0x([0-9A-F]{2})`)? \\| ([a-z]+) \\| (.*)\\|$")
	formatHexRef   = regexp.MustCompile("`0x([0-9A-F]{2})`")
)

// checkFormatDoc checks families against the key lines, headings and the
// prefix map of FORMAT.md.
func checkFormatDoc(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type docRange struct {
		lo, hi byte
		domain string
		named  map[byte]bool
	}
	var ranges []docRange
	documented := map[byte][]string{} // prefix → sections with a key line of it
	section, inMap, fence := "", false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if !fence {
			if m := formatHeading.FindStringSubmatch(line); m != nil {
				section = m[1]
				inMap = section == "Key prefix map"
				continue
			}
		}
		if fence {
			if m := formatKeyLine.FindStringSubmatch(line); m != nil {
				p := mustHex(t, m[1])
				documented[p] = append(documented[p], section)
			}
			continue
		}
		if inMap {
			if m := formatRangeRow.FindStringSubmatch(line); m != nil {
				r := docRange{lo: mustHex(t, m[1]), domain: m[3], named: map[byte]bool{}}
				r.hi = r.lo
				if m[2] != "" {
					r.hi = mustHex(t, m[2])
				}
				for _, h := range formatHexRef.FindAllStringSubmatch(m[4], -1) {
					r.named[mustHex(t, h[1])] = true
				}
				ranges = append(ranges, r)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ranges) == 0 {
		t.Fatalf("%s: no rows in the key prefix map", path)
	}
	for i := range ranges {
		for j := range i {
			if ranges[i].lo <= ranges[j].hi && ranges[j].lo <= ranges[i].hi {
				t.Errorf("%s: prefix map ranges %s and %s overlap", path, hexByte(ranges[j].lo), hexByte(ranges[i].lo))
			}
		}
	}
	for _, fam := range families {
		secs := documented[fam.prefix]
		switch {
		case len(secs) == 0:
			t.Errorf("%s: family %s (%s) has no key line", path, hexByte(fam.prefix), fam.name)
		default:
			for _, s := range secs {
				if s != fam.section {
					t.Errorf("%s: family %s (%s) is documented under %q, the table says %q", path, hexByte(fam.prefix), fam.name, s, fam.section)
				}
			}
		}
		var in *docRange
		for i := range ranges {
			if ranges[i].lo <= fam.prefix && fam.prefix <= ranges[i].hi {
				in = &ranges[i]
			}
		}
		switch {
		case in == nil:
			t.Errorf("%s: family %s (%s) is in no range of the prefix map", path, hexByte(fam.prefix), fam.name)
		case in.domain != fam.domain:
			t.Errorf("%s: family %s (%s) of domain %s lies in the range of %s", path, hexByte(fam.prefix), fam.name, fam.domain, in.domain)
		case !in.named[fam.prefix]:
			t.Errorf("%s: the prefix map does not name family %s (%s)", path, hexByte(fam.prefix), fam.name)
		}
	}
	for p := range documented {
		if familyByPrefix[p] == nil {
			t.Errorf("%s: prefix %s is documented but has no family", path, hexByte(p))
		}
	}
	for _, r := range ranges {
		for p := range r.named {
			if f := familyByPrefix[p]; f == nil || f.domain != r.domain {
				t.Errorf("%s: the prefix map names %s under %s, which has no such family", path, hexByte(p), r.domain)
			}
		}
	}
}

func mustHex(t *testing.T, s string) byte {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	return byte(v)
}

func TestFamilyOf(t *testing.T) {
	for _, tc := range []struct {
		key  []byte
		want string
	}{
		{nil, ""},
		{[]byte{prefixVersion, 'v'}, "version"},
		{currentKey(nil, "MSKU9070323"), "current"},
		{onBoardKey(nil, 412000001, "MSKU9070323"), "on-board"},
		{[]byte{prefixOnBoard}, "on-board"}, // the marker
		{[]byte{0x57, 1}, ""},
		{[]byte{0xFF}, ""},
	} {
		if got := familyOf(tc.key); got != tc.want {
			t.Errorf("familyOf(%x) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
