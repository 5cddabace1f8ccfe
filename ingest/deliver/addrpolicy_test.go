package deliver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
)

// ipv6Server starts a test server on [::1], skipping when the host has no
// IPv6 loopback.
func ipv6Server(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func openStore(t *testing.T) *portstate.State {
	t.Helper()
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestZonedCallbackDenied: http://[::1%25lo]:port/ names the loopback
// address with a zone; it must be refused like ::1 itself (a zoned
// address is not in any netip.Prefix).
func TestZonedCallbackDenied(t *testing.T) {
	var hits atomic.Int32
	srv := ipv6Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	st := openStore(t)
	d, err := New(Config{Log: st.DCSA, Links: st.Tenants, Deny: []netip.Prefix{netip.MustParsePrefix("::1/128")}})
	if err != nil {
		t.Fatal(err)
	}
	sub := &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), CallbackURL: "http://[::1%25lo]:" + port + "/hook", Secret: make([]byte, 32)}
	if _, _, err := d.post(context.Background(), sub, []byte("[]")); err == nil || hits.Load() != 0 {
		t.Fatalf("post to %s: err %v, reached the receiver %d times", sub.CallbackURL, err, hits.Load())
	}
}

// TestCallbackDefaultDenyAndAllow: with no settings the deliverer refuses
// loopback (by name or literal, IPv4, IPv6, mapped, zoned); an allow list
// re-opens loopback; an explicit deny still wins.
func TestCallbackDefaultDenyAndAllow(t *testing.T) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(204) })
	v4 := httptest.NewServer(h)
	defer v4.Close()
	_, port4, _ := net.SplitHostPort(v4.Listener.Addr().String())
	urls := []string{v4.URL, "http://localhost:" + port4 + "/", "http://[::ffff:127.0.0.1]:" + port4 + "/"}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		v6 := ipv6Server(t, h)
		_, port6, _ := net.SplitHostPort(v6.Listener.Addr().String())
		urls = append(urls, v6.URL, "http://[::1%25lo]:"+port6+"/")
	}
	post := func(cfg Config, u string) (int, error) {
		t.Helper()
		st := openStore(t)
		cfg.Log, cfg.Links = st.DCSA, st.Tenants
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		status, _, err := d.post(context.Background(), &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), CallbackURL: u, Secret: make([]byte, 32)}, []byte("[]"))
		return status, err
	}
	for _, u := range urls {
		before := hits.Load()
		status, err := post(Config{}, u)
		if err == nil || hits.Load() != before {
			t.Errorf("default policy, %s: status %d err %v, reached %v", u, status, err, hits.Load() != before)
		} else if r := Reason(status, err); r != "denied" {
			t.Errorf("default policy, %s: reason %q, want denied (%v)", u, r, err)
		}
		loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		if status, err := post(Config{Allow: loopback}, u); err != nil || status != 204 || hits.Load() != before+1 {
			t.Errorf("loopback allowed, %s: status %d err %v", u, status, err)
		}
		if _, err := post(Config{Allow: loopback, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}, u); err == nil {
			t.Errorf("loopback allowed, 127.0.0.1 and ::1 denied, %s: delivered", u)
		}
	}
}

// TestDeliveryReasons: the delivery log shows the tenant a classified
// reason, never the resolver's or the network's error text; the operator's
// log keeps the raw error.
func TestDeliveryReasons(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s := openStore(t)
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(block); slow.Close() }() // the handler ends first
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer busy.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer tlsSrv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()

	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Allow: loopback, Timeout: 3 * time.Second}) // a TLS handshake under -race on a loaded machine can take longer than a short timeout
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]string{
		refusedURL:                     "refused",
		slow.URL:                       "timeout",
		busy.URL:                       "http_503",
		tlsSrv.URL:                     "tls",
		"http://10.0.0.1:9/":           "denied",
		"http://no-such-host.invalid/": "dns",
	} {
		status, _, err := d.post(context.Background(), &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), CallbackURL: u, Secret: make([]byte, 32)}, []byte("[]"))
		if got := Reason(status, err); got != want {
			t.Errorf("%s: reason %q, want %q (status %d, err %v)", u, got, want, status, err)
		}
	}

	// Through the deliverer: the log and the dead letter carry the reason.
	var logBuf strings.Builder
	d, err = New(Config{Log: s.DCSA, Links: s.Tenants, Allow: loopback, MaxFailures: 2, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Poll: 5 * time.Millisecond, Logger: newTextLogger(&logBuf)})
	if err != nil {
		t.Fatal(err)
	}
	sub := ownedSubscription(t, s, "port", refusedURL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop := func() { cancel(); <-done }
	defer func() {
		if ctx.Err() == nil {
			stop()
		}
	}()
	applyEvents(t, s, 0, 3)
	var dead []dcsa.DeadLetter
	waitFor(t, 10*time.Second, "a dead letter", func() bool {
		dead = dead[:0]
		s.DCSA.DeadLetters(sub.ID, func(dl *dcsa.DeadLetter) bool { dead = append(dead, *dl); return true })
		return len(dead) > 0
	})
	stop()
	if dead[0].LastError != "refused" {
		t.Errorf("dead letter's last error %q, want refused", dead[0].LastError)
	}
	n := 0
	s.DCSA.DeliveryLog(sub.ID, func(r *dcsa.DeliveryRecord) bool {
		n++
		if r.Error != "refused" {
			t.Errorf("delivery log error %q, want refused", r.Error)
		}
		return true
	})
	if n == 0 {
		t.Error("no delivery log")
	}
	if !strings.Contains(logBuf.String(), "connection refused") {
		t.Errorf("the operator's log lacks the raw error:\n%s", logBuf.String())
	}
}

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
