package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// sseBlock is one SSE block: its data (an event) or its id.
type sseBlock struct {
	data, id string
}

type sseClient struct {
	resp   *http.Response
	blocks chan sseBlock
	cancel context.CancelFunc
}

// openStream opens a stream on the fixture's server over TCP and reads its
// blocks in the background.
func openStream(t *testing.T, addr, uri string, header map[string]string) (*sseClient, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+uri, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, b.String()
	}
	c := &sseClient{resp: resp, blocks: make(chan sseBlock, 1024), cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(c.blocks)
		r := bufio.NewReader(resp.Body)
		var b sseBlock
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if b != (sseBlock{}) {
					c.blocks <- b
				}
				b = sseBlock{}
			case strings.HasPrefix(line, "data: "):
				b.data = line[6:]
			case strings.HasPrefix(line, "id: "):
				b.id = line[4:]
			}
		}
	}()
	return c, 200, ""
}

// until reads blocks until ok says stop, failing after 10 s; it returns the
// events read (as maps) and the last id seen.
func (c *sseClient) until(t *testing.T, ok func(ev map[string]any, id string) bool) (evs []map[string]any, lastID string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b, open := <-c.blocks:
			if !open {
				t.Fatalf("stream ended; read %v", evs)
			}
			var ev map[string]any
			if b.data != "" {
				if err := json.Unmarshal([]byte(b.data), &ev); err != nil {
					t.Fatalf("event %q: %v", b.data, err)
				}
				evs = append(evs, ev)
			}
			if b.id != "" {
				lastID = b.id
			}
			if ok(ev, lastID) {
				return evs, lastID
			}
		case <-deadline:
			t.Fatalf("timed out; read %v", evs)
		}
	}
}

func tcpServe(t *testing.T, f *dcsaFixture) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	return ln.Addr().String()
}

func fastStream(c *Config) { c.Stream.Flush = time.Millisecond }

func vesselAt(mmsi uint32, t int64, lat, lon float64) state.VesselReport {
	return state.VesselReport{MMSI: mmsi, Time: t, MsgType: 1, HasPosition: true, Lat: lat, Lon: lon,
		Speed: 5, Course: 90, Heading: 91, Status: 0, Turn: state.UnknownTurn,
		ShipType: state.UnknownInt, ToBow: state.UnknownInt, ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt}
}

const portBox = "121.75,29.85,122.10,30.05"

// TestStreamSnapshotLiveAndAPIAgree: a new client gets a reset and the
// vessels in its box, then each change as the API's own JSON with kind, id
// and time; an id line carries the input position.
func TestStreamSnapshotLiveAndAPIAgree(t *testing.T) {
	f := newDCSAFixture(t, false, fastStream)
	addr := tcpServe(t, f)
	auth := map[string]string{"Authorization": "Bearer " + keyPort}
	far, _, _ := openStream(t, addr, "/v1/stream?kinds=vessels&bbox=1,1,2,2", auth)
	if evs, _ := far.until(t, func(_ map[string]any, id string) bool { return id != "" }); len(evs) != 1 || evs[0]["kind"] != "reset" {
		t.Fatalf("snapshot of an empty box: %v", evs)
	}
	if _, code, _ := openStream(t, addr, "/v1/stream?bbox=2,1,1,2", auth); code != 400 {
		t.Fatalf("inverted bbox: %d", code)
	}
	// The fixture's boxes have no place in the port model: no bbox here.
	c, code, body := openStream(t, addr, "/v1/stream?kinds=vessels,containers", auth)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	evs, id := c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	if len(evs) != 2 || evs[0]["kind"] != "reset" || evs[1]["kind"] != "vessel" || evs[1]["id"] != "413000001" {
		t.Fatalf("snapshot: %v", evs)
	}
	if !strings.HasPrefix(id, "port.ais:0=") || !strings.Contains(id, "port.rfid:0=6") {
		t.Fatalf("id %q", id)
	}
	inBox, _, _ := openStream(t, addr, "/v1/stream?kinds=vessels&bbox="+portBox, auth)
	inBox.until(t, func(_ map[string]any, id string) bool { return id != "" })
	// A vessel moves; a container moves on.
	t1 := f.t0.Add(48 * time.Hour).UnixNano()
	if _, err := f.store.Apply(&state.Batch{Topic: "port.ais", Partition: 1, Next: 3, Vessels: []state.VesselReport{vesselAt(413000001, t1, 29.95, 121.95)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Apply(&state.Batch{Topic: "port.rfid", Partition: 0, Next: 7, Events: []state.Event{
		{ID: "live-1", Container: boxesA[0], Code: state.CodeGTIN, Time: t1, Location: "CNNGB-BLCT", Source: "test"}}}); err != nil {
		t.Fatal(err)
	}
	var vessel, box map[string]any
	_, id = c.until(t, func(ev map[string]any, id string) bool {
		switch {
		case ev == nil:
		case ev["kind"] == "vessel":
			vessel = ev
		case ev["kind"] == "container":
			box = ev
		}
		return vessel != nil && box != nil && strings.Contains(id, "port.ais:0=") && strings.Contains(id, ",1=3") && strings.Contains(id, "port.rfid:0=7")
	})
	if vessel["lat"] != 29.95 || vessel["time"] == nil {
		t.Fatalf("vessel event %v", vessel)
	}
	if evs, _ := inBox.until(t, func(ev map[string]any, _ string) bool { return ev != nil }); evs[0]["lat"] != 29.95 {
		t.Fatalf("in the box: %v", evs)
	}
	for path, ev := range map[string]map[string]any{"/v1/vessels/413000001": vessel, "/v1/containers/" + boxesA[0]: box} {
		_, _, b := f.do(t, "GET", path, keyPort, nil)
		var api map[string]any
		if err := json.Unmarshal(b, &api); err != nil {
			t.Fatal(err)
		}
		delete(ev, "kind")
		delete(ev, "time")
		if _, ok := api["id"]; !ok { // a vessel's id is its mmsi
			delete(ev, "id")
		}
		if a, e := fmt.Sprint(api), fmt.Sprint(ev); a != e {
			t.Errorf("%s: stream %s, API %s", path, e, a)
		}
	}
}

// TestStreamResume: a client that comes back with its Last-Event-ID gets
// what it missed without a snapshot; one whose position the ring no longer
// covers gets a reset and a snapshot.
func TestStreamResume(t *testing.T) {
	f := newDCSAFixture(t, false, fastStream, func(c *Config) { c.Stream.Ring = 4 })
	addr := tcpServe(t, f)
	auth := map[string]string{"Authorization": "Bearer " + keyPort}
	c, _, _ := openStream(t, addr, "/v1/stream?kinds=vessels", auth)
	_, id := c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	c.cancel()

	t1 := f.t0.Add(48 * time.Hour).UnixNano()
	if _, err := f.store.Apply(&state.Batch{Topic: "port.ais", Next: 100, Vessels: []state.VesselReport{vesselAt(413000002, t1, 29.95, 121.95)}}); err != nil {
		t.Fatal(err)
	}
	auth["Last-Event-ID"] = id
	c, _, _ = openStream(t, addr, "/v1/stream?kinds=vessels", auth)
	evs, _ := c.until(t, func(ev map[string]any, _ string) bool { return ev != nil && ev["id"] == "413000002" })
	if len(evs) != 1 {
		t.Fatalf("resumed: %v, want only the missed vessel", evs)
	}
	c.cancel()

	for i := range 5 { // more changes than the ring holds
		if _, err := f.store.Apply(&state.Batch{Topic: "port.ais", Next: 101 + int64(i), Vessels: []state.VesselReport{vesselAt(413000010+uint32(i), t1, 29.95, 121.95)}}); err != nil {
			t.Fatal(err)
		}
	}
	c, _, _ = openStream(t, addr, "/v1/stream?kinds=vessels", auth)
	evs, _ = c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	if evs[0]["kind"] != "reset" || len(evs) != 1+7 {
		t.Fatalf("behind the ring: %d events %v, want a reset and 7 vessels", len(evs), evs)
	}

	if _, code, _ := openStream(t, addr, "/v1/stream", map[string]string{"Authorization": "Bearer " + keyPort, "Last-Event-ID": "bogus"}); code != 400 {
		t.Fatalf("bad Last-Event-ID: %d", code)
	}
}

// TestStreamCoalesces: many changes of one object read in one pass are one
// event, each alert its own.
func TestStreamCoalesces(t *testing.T) {
	f := newDCSAFixture(t, false)
	c := &streamClient{s: f.srv, who: Principal{Role: RolePort}, kinds: ^kindSet(0), latest: map[objKey]int{}}
	var entries []ringEntry
	at := tp{"port.ais", 0}
	for i := range 50 {
		entries = append(entries, ringEntry{kind: state.ChangeVessel, id: "413000001", at: at, next: int64(i + 1)})
	}
	entries = append(entries, ringEntry{kind: state.ChangeAlert, id: "a1", body: []byte(`{"id":"a1","kind":"connection"}`), at: at, next: 51},
		ringEntry{kind: state.ChangeAlert, id: "a2", body: []byte(`{"id":"a2","kind":"connection"}`), at: at, next: 51})
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if err := c.pass(w, entries); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if n := strings.Count(out.String(), "data: "); n != 3 {
		t.Fatalf("%d events, want 3 (one vessel, two alerts):\n%s", n, out.String())
	}
	if c.pos[at] != 51 {
		t.Fatalf("position %v", c.pos)
	}
}

// TestStreamTenantScope: a logistics tenant streams only its own
// containers, may not stream trucks or trains, and gets vessels.
func TestStreamTenantScope(t *testing.T) {
	f := newDCSAFixture(t, false, fastStream)
	addr := tcpServe(t, f)
	if _, code, _ := openStream(t, addr, "/v1/stream?kinds=trucks", map[string]string{"Authorization": "Bearer " + keyA}); code != 403 {
		t.Fatalf("logistics trucks: %d", code)
	}
	if _, code, _ := openStream(t, addr, "/v1/stream", nil); code != 401 {
		t.Fatalf("no key: %d", code)
	}
	c, code, body := openStream(t, addr, "/v1/stream?kinds=containers,vessels", map[string]string{"Authorization": "Bearer " + keyA})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	t1 := f.t0.Add(48 * time.Hour).UnixNano()
	var evs []state.Event
	for i, box := range append(append([]string{}, boxesB...), boxesA[1]) {
		evs = append(evs, state.Event{ID: fmt.Sprintf("scope-%d", i), Container: box, Code: state.CodeGTOT, Time: t1, Location: "CNNGB-BLCT", Source: "test"})
	}
	if _, err := f.store.Apply(&state.Batch{Topic: "port.rfid", Next: 50, Events: evs}); err != nil {
		t.Fatal(err)
	}
	got, _ := c.until(t, func(ev map[string]any, id string) bool { return strings.Contains(id, "port.rfid:0=50") })
	for _, ev := range got {
		if ev["kind"] == "container" && ev["id"] != boxesA[1] {
			t.Errorf("tenant A sees %v", ev["id"])
		}
	}
	if len(got) != 1 || got[0]["id"] != boxesA[1] {
		t.Fatalf("tenant A: %v, want only %s", got, boxesA[1])
	}
}

// TestStreamToken: the token works on /v1/stream only, carries no key,
// and a forged or expired one is refused.
func TestStreamToken(t *testing.T) {
	now := time.Now()
	f := newDCSAFixture(t, false, fastStream, func(c *Config) { c.Now = func() time.Time { return now } })
	addr := tcpServe(t, f)
	code, _, body := f.do(t, "POST", "/v1/stream/token", keyA, nil)
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(body, &tok) != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", code, body)
	}
	if strings.Contains(tok.Token, keyA) || bytes.Contains(body, []byte(keyA)) {
		t.Fatal("the token carries the key")
	}
	if code, _, _ := f.do(t, "POST", "/v1/stream/token", "", nil); code != 401 {
		t.Fatalf("token without a key: %d", code)
	}
	c, code, body2 := openStream(t, addr, "/v1/stream?kinds=containers&token="+tok.Token, nil)
	if code != 200 {
		t.Fatalf("stream with token: %d %s", code, body2)
	}
	c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	if code, _, _ := f.do(t, "GET", "/v1/containers/"+boxesA[0]+"?token="+tok.Token, "", nil); code != 401 {
		t.Fatalf("token on another route: %d", code)
	}
	forged := tok.Token[:len(tok.Token)-2] + "AA"
	if _, code, _ := openStream(t, addr, "/v1/stream?token="+forged, nil); code != 401 {
		t.Fatalf("forged token: %d", code)
	}
	if _, code, _ := openStream(t, addr, "/v1/stream?kinds=trucks&token="+tok.Token, nil); code != 403 {
		t.Fatalf("token keeps the role: %d", code)
	}
	now = now.Add(2 * time.Minute)
	if _, code, _ := openStream(t, addr, "/v1/stream?token="+tok.Token, nil); code != 401 {
		t.Fatalf("expired token: %d", code)
	}
}

// TestStreamMaxClients: beyond the limit a stream answers 503.
func TestStreamMaxClients(t *testing.T) {
	f := newDCSAFixture(t, false, fastStream, func(c *Config) { c.Stream.MaxClients = 1 })
	addr := tcpServe(t, f)
	auth := map[string]string{"Authorization": "Bearer " + keyPort}
	c, _, _ := openStream(t, addr, "/v1/stream?kinds=vessels", auth)
	c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	if _, code, _ := openStream(t, addr, "/v1/stream?kinds=vessels", auth); code != 503 {
		t.Fatalf("second client: %d", code)
	}
	if _, _, b := f.do(t, "GET", "/metrics", "", nil); !bytes.Contains(b, []byte("porttrack_stream_refused_total 1")) || !bytes.Contains(b, []byte("porttrack_stream_clients 1")) {
		t.Fatalf("metrics:\n%s", b)
	}
}

// TestStreamStalledClientBoundedMemory: a client that never reads while
// 100 MB of alerts go by holds no more than its buffers, and is dropped
// once its connection has accepted nothing for Stall.
func TestStreamStalledClientBoundedMemory(t *testing.T) {
	f := newDCSAFixture(t, false, func(c *Config) {
		c.Stream.Flush = time.Millisecond
		c.Stream.Stall = 300 * time.Millisecond
		c.Stream.Ring = 1024
	})
	addr := tcpServe(t, f)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/stream?kinds=alerts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n\r\n", keyPort)
	for f.srv.hub.clients.Load() != 1 {
		runtime.Gosched()
	}
	alert := bytes.Repeat([]byte("x"), 10<<10)
	alert = append(append([]byte(`{"kind":"connection","pad":"`), alert...), `"}`...)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	var peak uint64
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; f.srv.hub.dropped.Load() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("stalled client not dropped after %d alerts", i)
		}
		f.srv.hub.publish(&state.Committed{Topic: "t", Next: int64(i + 1), Changes: []state.Change{{Kind: state.ChangeAlert, ID: fmt.Sprint(i), Body: alert}}})
		if i%1000 == 999 {
			peak = max(peak, heap())
		}
	}
	// The ring holds 1024 alerts of 10 KB (shared by every client); the
	// client itself no more than its buffers.
	const bound = 1024*11<<10 + 8<<20
	if peak > base+bound {
		t.Fatalf("heap grew from %d to %d bytes with a client that never reads (bound %d)", base, peak, bound)
	}
	for f.srv.hub.clients.Load() != 0 {
		runtime.Gosched()
	}
	t.Logf("heap %d -> peak %d; dropped after %d events", base, peak, f.srv.hub.events.Load())
}

// TestRenderCache: a rendering serves the changes made before it began,
// never a later one; a full shard is emptied rather than grown.
func TestRenderCache(t *testing.T) {
	var c renderCache
	c.init()
	k := objKey{state.ChangeVessel, "413000001"}
	c.put(k, &rendered{upTo: 10, ok: true, body: []byte("v10")})
	if r := c.get(k, 9); r == nil || string(r.body) != "v10" {
		t.Fatalf("change 9, rendering from head 10: %v", r)
	}
	if r := c.get(k, 10); r != nil {
		t.Fatalf("change 10 served by a rendering that began before it: %s", r.body)
	}
	c.put(k, &rendered{upTo: 5, ok: true, body: []byte("v5")}) // older: ignored
	if r := c.get(k, 9); string(r.body) != "v10" {
		t.Fatalf("an older rendering replaced a newer one: %s", r.body)
	}
	big := bytes.Repeat([]byte("x"), cacheShardBytes/4)
	for i := range 10000 {
		c.put(objKey{state.ChangeTruck, fmt.Sprint(i)}, &rendered{upTo: 1, body: big})
	}
	for i := range c.shards {
		if c.shards[i].bytes > cacheShardBytes+len(big)+16 {
			t.Fatalf("shard %d holds %d bytes", i, c.shards[i].bytes)
		}
	}
}

// TestStreamEndsWhenKeyRevoked: a stream opened with a key delivers
// nothing more once the key is revoked, and ends.
func TestStreamEndsWhenKeyRevoked(t *testing.T) {
	f := newDCSAFixture(t, false, fastStream)
	addr := tcpServe(t, f)
	c, code, body := openStream(t, addr, "/v1/stream?kinds=containers", map[string]string{"Authorization": "Bearer " + keyA})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	c.until(t, func(_ map[string]any, id string) bool { return id != "" })
	k, err := f.store.Tenants.LookupAPIKey(keyA)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Tenants.RevokeAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	t1 := f.t0.Add(48 * time.Hour).UnixNano()
	ev := state.Event{ID: "after-revoke", Container: boxesA[1], Code: state.CodeGTOT, Time: t1, Location: "CNNGB-BLCT", Source: "test"}
	if _, err := f.store.Apply(&state.Batch{Topic: "port.rfid", Next: 60, Events: []state.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b, open := <-c.blocks:
			if !open {
				return // ended
			}
			if strings.Contains(b.data, boxesA[1]) {
				t.Fatalf("the stream of a revoked key delivered %s", b.data)
			}
		case <-deadline:
			t.Fatal("the stream of a revoked key did not end within 10 s")
		}
	}
}
