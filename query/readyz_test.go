package query

import (
	"encoding/json"
	"net"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

// TestReadyzReason: /readyz answers 503 with the engine's reason (a broker
// that does not answer, say) in its JSON body, and 200 once ready.
func TestReadyzReason(t *testing.T) {
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reason := `looking up the input topics failed, retrying in 4s: dial tcp 127.0.0.1:9092: connect: connection "refused"`
	srv, err := New(Config{Store: store, Open: true, Ready: func() bool { return reason == "" }, ReadyReason: func() string { return reason }})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()
	client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	get := func() (int, map[string]string) {
		t.Helper()
		status, body, err := client.Get(nil, "http://localhost/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		return status, m
	}
	if status, m := get(); status != 503 || m["status"] != "not_ready" || m["reason"] != reason {
		t.Errorf("not ready: %d %v", status, m)
	}
	reason = ""
	if status, m := get(); status != 200 || m["status"] != "ready" {
		t.Errorf("ready: %d %v", status, m)
	}
}
