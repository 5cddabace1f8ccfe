package query

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata scripts")

// Scripts in testdata/*.txt: blocks separated by a line "----" after the
// command and a blank line after the expected output.
//
//	load                         events, one per line: id box code time [location [readpoint]]
//	                             ("-" for an empty location)
//	vessels                      reports, one per line:
//	                             pos mmsi time lat lon speed course station
//	                             static mmsi time imo name
//	trucks                       truck reports, one per line:
//	                             truck plate time lat lon [speed heading [container]]
//	                             ("-" for an unknown speed or heading)
//	customs                      customs documents, one JSON object per line
//	                             (see parseCustomsLine)
//	get <path> [method] [as=<tenant>]
//	                             expected: status line, then the body; lines
//	                             before "----" are the request body; as= acts
//	                             for a tenant (scriptHandler)
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
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm, Now: func() time.Time {
		return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ready := true
	srv, err := New(Config{Store: store, Open: true, Ready: func() bool { return ready }, Now: func() time.Time {
		return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.srv.Handler = scriptHandler(srv)
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
				if len(f) > 4 && f[4] != "-" {
					e.Location = f[4]
				}
				if len(f) > 5 {
					e.ReadPoint = f[5]
				}
				evs = append(evs, e)
			}
			offset++
			if _, err := store.Apply(&state.Batch{Topic: "t", Next: offset, Events: evs}); err != nil {
				t.Fatalf("load: %v", err)
			}
		case "vessels":
			var rs []state.VesselReport
			for _, l := range strings.Split(b.input, "\n") {
				rs = append(rs, parseVesselLine(t, l))
			}
			offset++
			if _, err := store.Apply(&state.Batch{Topic: "t", Next: offset, Vessels: rs}); err != nil {
				t.Fatalf("vessels: %v", err)
			}
		case "trucks":
			var rs []state.TruckReport
			for _, l := range strings.Split(b.input, "\n") {
				rs = append(rs, parseTruckLine(t, l))
			}
			offset++
			if _, err := store.Apply(&state.Batch{Topic: "t", Next: offset, Trucks: rs}); err != nil {
				t.Fatalf("trucks: %v", err)
			}
		case "customs":
			var docs []state.CustomsDoc
			for _, l := range strings.Split(b.input, "\n") {
				docs = append(docs, parseCustomsLine(t, l))
			}
			offset++
			if _, err := store.Apply(&state.Batch{Topic: "t", Next: offset, Customs: docs}); err != nil {
				t.Fatalf("customs: %v", err)
			}
		case "ready":
			ready = fields[1] == "true"
		case "get":
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.SetRequestURI("http://localhost" + fields[1])
			for _, f := range fields[2:] {
				if tenant, ok := strings.CutPrefix(f, "as="); ok {
					req.Header.Set(scriptTenantHeader, tenant)
				} else {
					req.Header.SetMethod(f)
				}
			}
			if b.input != "" {
				req.Header.SetContentType("application/json")
				req.SetBodyString(b.input)
			}
			if err := client.Do(req, resp); err != nil {
				t.Fatal(err)
			}
			got = fmt.Sprintf("%d %s", resp.StatusCode(), resp.Header.ContentType())
			if len(resp.Body()) > 0 {
				got += "\n" + string(resp.Body())
			}
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

func parseVesselLine(t *testing.T, l string) state.VesselReport {
	t.Helper()
	f := strings.Fields(l)
	bad := func() { t.Fatalf("vessels line %q", l) }
	if len(f) < 5 {
		bad()
	}
	mmsi, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		bad()
	}
	ts, err := time.Parse(time.RFC3339Nano, f[2])
	if err != nil {
		bad()
	}
	r := state.VesselReport{MMSI: uint32(mmsi), Time: ts.UnixNano(), Speed: state.UnknownFloat, Course: state.UnknownFloat,
		Heading: state.UnknownInt, Status: state.UnknownInt, Turn: state.UnknownTurn, ShipType: state.UnknownInt,
		ToBow: state.UnknownInt, ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			bad()
		}
		return v
	}
	switch {
	case f[0] == "pos" && len(f) == 8:
		r.MsgType, r.HasPosition = 1, true
		r.Lat, r.Lon, r.Speed, r.Course, r.Station = num(f[3]), num(f[4]), num(f[5]), num(f[6]), f[7]
		r.Status = 5
	case f[0] == "static" && len(f) >= 5:
		r.MsgType = 5
		r.IMO = uint32(num(f[3]))
		r.Name = strings.Join(f[4:], " ")
	default:
		bad()
	}
	return r
}
