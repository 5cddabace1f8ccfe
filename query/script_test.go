package query

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/porttrack/porttrack/state"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata scripts")

// Scripts in testdata/*.txt: blocks separated by a line "----" after the
// command and a blank line after the expected output.
//
//	load                         events, one per line: id box code time [location]
//	get <path>                   expected: status line, then the body
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata scripts")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type block struct {
	cmd, input, want string
}

func parseScript(t *testing.T, path string) []block {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	var cur *block
	var lines []string
	inWant := false
	flush := func() {
		if cur != nil {
			cur.want = strings.Join(lines, "\n")
			blocks = append(blocks, *cur)
		}
		cur, lines, inWant = nil, nil, false
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && (line == "" || strings.HasPrefix(line, "#")):
		case cur == nil:
			cur = &block{cmd: line}
		case !inWant && line == "----":
			cur.input = strings.Join(lines, "\n")
			lines, inWant = nil, true
		case inWant && line == "":
			flush()
		default:
			lines = append(lines, line)
		}
	}
	flush()
	return blocks
}

func runScript(t *testing.T, path string) {
	store, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), Now: func() time.Time {
		return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ready := true
	srv, err := New(Config{Store: store, Ready: func() bool { return ready }})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}

	blocks := parseScript(t, path)
	var out strings.Builder
	offset := int64(0)
	for _, b := range blocks {
		var got string
		fields := strings.Fields(b.cmd)
		switch fields[0] {
		case "load":
			var evs []state.Event
			for _, l := range strings.Split(b.input, "\n") {
				f := strings.Fields(l)
				if len(f) < 4 {
					t.Fatalf("load line %q: want id box code time [location]", l)
				}
				code, ok := state.ParseCode(f[2])
				if !ok {
					t.Fatalf("load line %q: bad code", l)
				}
				ts, err := time.Parse(time.RFC3339Nano, f[3])
				if err != nil {
					t.Fatal(err)
				}
				e := state.Event{ID: f[0], Container: f[1], Code: code, Time: ts.UnixNano(), Source: "script"}
				if len(f) > 4 {
					e.Location = f[4]
				}
				evs = append(evs, e)
			}
			offset++
			if _, err := store.Apply(&state.Batch{Topic: "t", Next: offset, Events: evs}); err != nil {
				t.Fatalf("load: %v", err)
			}
		case "ready":
			ready = fields[1] == "true"
		case "get":
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.SetRequestURI("http://porttrack" + fields[1])
			if len(fields) > 2 {
				req.Header.SetMethod(fields[2])
			}
			if err := client.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			got = fmt.Sprintf("%d %s\n%s", resp.StatusCode(), resp.Header.ContentType(), resp.Body())
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		default:
			t.Fatalf("unknown command %q", b.cmd)
		}
		if !*update && got != b.want {
			t.Errorf("%s\n got: %s\nwant: %s", b.cmd, got, b.want)
		}
		fmt.Fprintf(&out, "%s\n", b.cmd)
		if b.input != "" {
			fmt.Fprintf(&out, "%s\n", b.input)
		}
		fmt.Fprintf(&out, "----\n")
		if got != "" {
			fmt.Fprintf(&out, "%s\n", got)
		}
		fmt.Fprintf(&out, "\n")
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
