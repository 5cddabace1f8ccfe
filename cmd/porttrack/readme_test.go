package main

// The README's examples as a test, as the docs tests of mature projects do:
// every command the demo prints at start and every fenced sh block of
// README.md runs with bash against a running demo, and each must work as
// printed.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBlock is a fenced sh block of README.md.
type readmeBlock struct {
	line   int    // of the opening fence, 1-based
	marker string // the HTML comment on the line before the fence, "" if none
	cmds   []string
}

// markerRE is the HTML comment that marks a block: "not-demo: <why>" (not
// run) or "demo --admin-key: <why>" (run against a demo with a key).
var markerRE = regexp.MustCompile(`^<!-- ((?:not-demo|demo --admin-key):.*\S) -->$`)

// readmeBlocks returns the fenced sh blocks of a Markdown text.
func readmeBlocks(text string) []readmeBlock {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		b := readmeBlock{line: i + 1}
		if i > 0 {
			if m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
				b.marker = m[1]
			}
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		b.cmds = blockCommands(lines[i+1 : j])
		blocks = append(blocks, b)
		i = j
	}
	return blocks
}

// blockCommands returns the commands of a block's lines: in a transcript
// (lines starting with "$ ") the "$ " lines, the others being output; else
// every line that is not blank or a comment. A line ending with a
// backslash continues on the next.
func blockCommands(lines []string) []string {
	transcript := false
	for _, l := range lines {
		transcript = transcript || strings.HasPrefix(l, "$ ")
	}
	var cmds []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case transcript && !strings.HasPrefix(l, "$ "):
			continue
		case transcript:
			l = strings.TrimPrefix(l, "$ ")
		case strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#"):
			continue
		}
		cmd := l
		for strings.HasSuffix(cmd, `\`) && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i] // bash reads backslash-newline as a continuation
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// startCommands returns the commands of the demo's start message: its
// indented lines that start with a command.
func startCommands(stdout string) []string {
	var cmds []string
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		l = strings.TrimSpace(l)
		switch first, _, _ := strings.Cut(l, " "); first {
		case "curl", "kcat", "echo", "printf":
			cmds = append(cmds, l)
		}
	}
	return cmds
}

// TestReadmeBlockParsing: commands, output and markers of README blocks.
func TestReadmeBlockParsing(t *testing.T) {
	text := "text\n```sh\n$ curl -s a\n{\"x\":1}\n\n$ curl -s b \\\n  -H 'X: y'\n```\n" +
		"<!-- not-demo: production -->\n```sh\ngo build ./x   # build\n# a comment\necho a \\\n  | kcat -P\n```\n" +
		"<!-- demo --admin-key: keyed -->\n```sh\n$ curl -s c\n```\n```json\n{}\n```\n"
	got := readmeBlocks(text)
	want := []readmeBlock{
		{line: 2, cmds: []string{"curl -s a", "curl -s b \\\n  -H 'X: y'"}},
		{line: 10, marker: "not-demo: production", cmds: []string{"go build ./x   # build", "echo a \\\n  | kcat -P"}},
		{line: 17, marker: "demo --admin-key: keyed", cmds: []string{"curl -s c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("blocks:\n%+v\nwant\n%+v", got, want)
	}
	msg := "porttrack demo is running\n  HTTP API      http://x\n  curl -s http://x/readyz; echo\nA line\n  kcat -C -b y -e\n"
	if got := startCommands(msg); fmt.Sprintf("%q", got) != `["curl -s http://x/readyz; echo" "kcat -C -b y -e"]` {
		t.Errorf("start message commands: %q", got)
	}
}

// curlCheck is put first on PATH as curl while the examples run: the real
// curl, failing unless the answer is 2xx with a body (curl -s alone exits 0
// on a 404).
const curlCheck = `#!/usr/bin/env bash
body=$(mktemp) || exit 1
trap 'rm -f "$body"' EXIT
code=$(%q "$@" -o "$body" -w '%%{http_code}')
rc=$?
cat "$body"
if [ $rc -ne 0 ]; then exit $rc; fi
case $code in
2??) ;;
*) echo "curl: HTTP $code for: $*" >&2; exit 22 ;;
esac
if [ ! -s "$body" ]; then echo "curl: empty body for: $*" >&2; exit 23; fi
`

// TestReadmeExamples starts the demo as the README says (defaults, on free
// ports), runs every command of its start message and of the README's sh
// blocks in order with bash, and requires each to exit 0 with every curl
// answered 2xx with a body. A command that depends on records just produced
// (a curl after a kcat) is retried until it works, for at most 30 s. Blocks
// marked not-demo are not run; blocks marked demo --admin-key run against a
// second demo started with a key.
func TestReadmeExamples(t *testing.T) {
	requireKcat(t) // the examples produce with kcat
	realCurl, err := exec.LookPath("curl")
	if err != nil {
		t.Skipf("curl is not on PATH: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(string(readme))

	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "curl"), fmt.Appendf(nil, curlCheck, realCurl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	d := startDemoArgs(t, "--partitions", "6") // the README's demo: every default but the ports
	key := "readme-test-key-0123456789abcdef"
	var keyed *demoRun

	deadline := time.Now().Add(3 * time.Minute) // for all of them, on a loaded 2-core CI machine
	ran, curls := 0, 0
	runAll := func(where string, cmds []string, demo *demoRun, env ...string) {
		t.Helper()
		for _, c := range cmds {
			c = strings.ReplaceAll(c, "127.0.0.1:8080", demo.httpAddr)
			c = strings.ReplaceAll(c, "127.0.0.1:9092", demo.broker)
			runExample(t, where, c, root, append([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, env...), deadline)
			ran++
			curls += strings.Count(c, "curl ")
		}
	}
	start := startCommands(d.stdout.String())
	if len(start) < 8 {
		t.Fatalf("the demo's start message has %d commands:\n%s", len(start), d.stdout.String())
	}
	runAll("the demo's start message", start, d)
	skipped := 0
	for _, b := range blocks {
		where := fmt.Sprintf("README.md:%d", b.line)
		switch {
		case strings.HasPrefix(b.marker, "not-demo:"):
			skipped++
			t.Logf("%s not run (%s)", where, b.marker)
		case strings.HasPrefix(b.marker, "demo --admin-key:"):
			if keyed == nil {
				keyed = startDemoArgs(t, "--sim", "off", "--admin-key", key, "--data-dir", t.TempDir())
			}
			runAll(where, b.cmds, keyed, "PORTTRACK_ADMIN_KEY="+key)
		default:
			runAll(where, b.cmds, d, "PORTTRACK_ADMIN_KEY=")
		}
	}
	t.Logf("%d commands (%d curl) run, %d blocks not run", ran, curls, skipped)
	if curls < 25 || skipped > 6 {
		t.Errorf("ran %d curl commands and skipped %d blocks: the README has more examples than that", curls, skipped)
	}
	d.stop(t)
	if keyed != nil {
		keyed.stop(t)
	}
}

// runExample runs cmd with bash (-e, pipefail) in dir until it exits 0,
// retrying a failure every 200 ms for at most 30 s (or until deadline).
func runExample(t *testing.T, where, cmd, dir string, env []string, deadline time.Time) {
	t.Helper()
	stop := time.Now().Add(30 * time.Second)
	if deadline.Before(stop) {
		stop = deadline
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var out, errOut bytes.Buffer
	var err error
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithDeadline(t.Context(), stop.Add(5*time.Second))
		c := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", cmd)
		c.Dir, c.Env = dir, append(os.Environ(), env...)
		out.Reset()
		errOut.Reset()
		c.Stdout, c.Stderr = &out, &errOut
		err = c.Run()
		cancel()
		if err == nil {
			if attempt > 1 {
				t.Logf("%s: worked at attempt %d: %s", where, attempt, firstLine(cmd))
			}
			return
		}
		if time.Now().After(stop) {
			break
		}
		<-tick.C
	}
	t.Errorf("%s: %s\n%v\nstdout: %s\nstderr: %s", where, cmd, err, tail(out.String(), 5), tail(errOut.String(), 10))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 120 {
		l = l[:120] + "…"
	}
	return l
}
