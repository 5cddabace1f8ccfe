package deliver

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// The receiver runs in a child process: this test binary started again
// with PORTTRACK_TEST_RECEIVER set. It verifies every signature on its own
// (it knows the secrets, not the deliverer's code paths), misbehaves at
// random, and appends what it accepted to a file.
func TestMain(m *testing.M) {
	if os.Getenv("PORTTRACK_TEST_RECEIVER") != "" {
		runReceiver()
		return
	}
	os.Exit(m.Run())
}

// runReceiver serves POST / on PORTTRACK_TEST_RECEIVER (an address). For
// each request it checks Notification-Signature against the secret of the
// Subscription-ID (PORTTRACK_TEST_SECRETS: id=hex,...), then at random
// answers 500, 429 with Retry-After, accepts after a delay longer than the
// deliverer's timeout (the sender sees a failure, the events arrive twice),
// or accepts (204). Accepted batches are appended to PORTTRACK_TEST_OUT as
// "<subscription id> <eventID>,<eventID>,..." lines; a bad signature as
// "BADSIG <subscription id>".
func runReceiver() {
	secrets := map[string][]byte{}
	for _, kv := range strings.Split(os.Getenv("PORTTRACK_TEST_SECRETS"), ",") {
		id, h, _ := strings.Cut(kv, "=")
		secrets[id], _ = hex.DecodeString(h)
	}
	out, err := os.OpenFile(os.Getenv("PORTTRACK_TEST_OUT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
	record := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(line + "\n")
	}
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		sub := r.Header.Get("Subscription-ID")
		m := hmac.New(sha256.New, secrets[sub])
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		got := r.Header.Get("Notification-Signature")
		if secrets[sub] == nil || !hmac.Equal([]byte(strings.ToLower(got)), []byte(want)) || r.Header.Get("API-Version") == "" {
			record("BADSIG " + sub)
			w.WriteHeader(401)
			return
		}
		var evs []struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(body, &evs); err != nil {
			record("BADBODY " + sub)
			w.WriteHeader(400)
			return
		}
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.EventID
		}
		mu.Lock()
		x := rng.IntN(100)
		mu.Unlock()
		switch {
		case x < 15:
			w.WriteHeader(500)
		case x < 25:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		case x < 27:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		case x < 35:
			record(sub + " " + strings.Join(ids, ","))
			time.Sleep(400 * time.Millisecond) // past the sender's timeout
			w.WriteHeader(204)
		default:
			record(sub + " " + strings.Join(ids, ","))
			w.WriteHeader(204)
		}
	})
	srv := &http.Server{Addr: os.Getenv("PORTTRACK_TEST_RECEIVER"), ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type receiverProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startReceiver(t *testing.T, addr, out string, secrets map[string][]byte) *receiverProc {
	t.Helper()
	var kv []string
	for id, s := range secrets {
		kv = append(kv, id+"="+hex.EncodeToString(s))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PORTTRACK_TEST_RECEIVER="+addr, "PORTTRACK_TEST_OUT="+out, "PORTTRACK_TEST_SECRETS="+strings.Join(kv, ","))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &receiverProc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	waitFor(t, 10*time.Second, "receiver listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

func (p *receiverProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	tenantABoxes = []string{"CSQU3054383", "APZU4812090", "CICU3789922"}
	tenantBBoxes = []string{"MSKU9070323", "TGHU0436455", "CSQU3054300"}
)

// applyEvents stores n container events alternating between the tenants'
// boxes (the first event of each box carries its link).
func applyEvents(t *testing.T, s *portstate.State, first, n int) {
	t.Helper()
	codes := []state.Code{state.CodeGTIN, state.CodeLOAD, state.CodeDISC, state.CodeHOLD, state.CodeGTOT}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var evs []state.Event
	for i := first; i < first+n; i++ {
		boxes := tenantABoxes
		ref := state.Ref{Kind: state.LinkBooking, Value: "BKG-A"}
		if i%2 == 1 {
			boxes, ref = tenantBBoxes, state.Ref{Kind: state.LinkParty, Value: "PARTY-B"}
		}
		e := state.Event{ID: fmt.Sprintf("ev-%d", i), Container: boxes[(i/2)%3], Code: codes[i%len(codes)],
			Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), Location: "CNNGB-BLCT", Source: "test"}
		if i < 6 {
			e.Refs = []state.Ref{ref}
		}
		evs = append(evs, e)
		if len(evs) == 10 || i == first+n-1 {
			if _, err := s.Apply(&state.Batch{Topic: "port.rfid", Next: int64(i + 1), Events: evs}); err != nil {
				t.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}

type node struct {
	store  *portstate.State
	cancel context.CancelFunc
	done   chan error
	d      *Deliverer
}

// allowLoopback re-opens loopback, where the tests' receivers listen
// (callbacks are denied it by default).
var allowLoopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	s, err := portstate.Open(state.Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Timeout: 200 * time.Millisecond, MaxBatch: 7, MaxFailures: 1000,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Poll: 10 * time.Millisecond, Allow: allowLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{store: s, cancel: cancel, done: make(chan error, 1), d: d}
	go func() { n.done <- d.Run(ctx) }()
	return n
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		t.Fatal(err)
	}
	if err := n.store.Close(); err != nil {
		t.Fatal(err)
	}
}

// readReceived returns the accepted event ids per subscription, in
// arrival order with duplicates, and the bad-signature count.
func readReceived(t *testing.T, path string) (map[string][]string, int) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	bad := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		sub, ids, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(sub, "BAD") {
			bad++
			continue
		}
		got[sub] = append(got[sub], strings.Split(ids, ",")...)
	}
	return got, bad
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// TestDeliveryNeverLosesEvents: a receiver in another process verifies
// every signature while it fails at random, is stopped for a while, and
// porttrack itself restarts mid-way: at the end each subscription got
// every event it should, in log order, none of another tenant's.
func TestDeliveryNeverLosesEvents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	addr := freeAddr(t)
	out := filepath.Join(t.TempDir(), "received.txt")

	n := startNode(t, dir)
	subs := []*dcsa.Subscription{
		{ID: dcsa.NewSubscriptionID(), Tenant: "port", Role: state.RolePort},
		{ID: dcsa.NewSubscriptionID(), Tenant: "a", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"BKG-A"}}},
		{ID: dcsa.NewSubscriptionID(), Tenant: "b", Role: state.RoleLogistics, Scope: state.Scope{Parties: []string{"PARTY-B"}}, Filter: "eventType=EQUIPMENT"},
	}
	secrets := map[string][]byte{}
	for i, sub := range subs {
		sub.CallbackURL = "http://" + addr + "/hook"
		sub.Secret = []byte(strings.Repeat(string(rune('k'+i)), 32+i))
		secrets[sub.ID] = sub.Secret
		k, err := n.store.Tenants.CreateAPIKey("key-of-"+sub.Tenant+"-0123456789", tenant.APIKey{Tenant: sub.Tenant, Role: sub.Role, Scope: sub.Scope})
		if err != nil {
			t.Fatal(err)
		}
		sub.KeyID = k.ID
		if err := n.store.DCSA.PutSubscription(sub, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	rcv := startReceiver(t, addr, out, secrets)
	applyEvents(t, n.store, 0, 120)
	waitFor(t, 30*time.Second, "the first deliveries", func() bool {
		got, _ := readReceived(t, out)
		return len(got[subs[0].ID]) > 20
	})

	// The receiver goes away; events keep coming; attempts fail.
	rcv.stop()
	applyEvents(t, n.store, 120, 60)
	waitFor(t, 10*time.Second, "failed attempts while the receiver is down", func() bool {
		failed := false
		n.store.DCSA.DeliveryLog(subs[0].ID, func(r *dcsa.DeliveryRecord) bool {
			failed = r.Status == 0 && r.Error != ""
			return false
		})
		return failed
	})

	// porttrack restarts while the receiver is still down, then the
	// receiver comes back.
	n.stop(t)
	n = startNode(t, dir)
	defer n.stop(t)
	applyEvents(t, n.store, 180, 60)
	startReceiver(t, addr, out, secrets)
	applyEvents(t, n.store, 240, 60)

	// What each subscription should get, from the log.
	want := map[string][]string{}
	links := func(c string) ([]state.Ref, error) {
		var l []state.Ref
		err := n.store.Tenants.Links(c, func(r state.Ref) bool { l = append(l, r); return true })
		return l, err
	}
	err := n.store.DCSA.Scan(0, false, func(e *state.DCSAEvent) bool {
		for _, sub := range subs {
			if sub.Filter != "" && e.Type != state.DCSAEquipment {
				continue
			}
			if ok, _ := dcsa.SubscriptionVisible(sub, e, links); ok {
				want[sub.ID] = append(want[sub.ID], e.ID)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want[subs[0].ID]) != 300 || len(want[subs[1].ID]) != 150 || len(want[subs[2].ID]) >= 150 {
		t.Fatalf("expected counts %d %d %d", len(want[subs[0].ID]), len(want[subs[1].ID]), len(want[subs[2].ID]))
	}
	var got map[string][]string
	waitFor(t, 90*time.Second, "every event delivered", func() bool {
		got, _ = readReceived(t, out)
		for _, sub := range subs {
			if len(dedupe(got[sub.ID])) < len(want[sub.ID]) {
				return false
			}
		}
		return true
	})
	got, bad := readReceived(t, out)
	if bad != 0 {
		t.Errorf("%d requests with a bad signature or body", bad)
	}
	dups := 0
	for _, sub := range subs {
		if d := dedupe(got[sub.ID]); !slices.Equal(d, want[sub.ID]) {
			t.Errorf("subscription %s (tenant %s): received %d events, in this first-arrival order:\n%v\nwant %v", sub.ID, sub.Tenant, len(d), d, want[sub.ID])
		}
		dups += len(got[sub.ID]) - len(dedupe(got[sub.ID]))
	}
	m := n.d.Metrics()
	t.Logf("events per subscription %d/%d/%d; %d duplicate deliveries; this run (after the restart): %d posts, %d failed, %d delivered",
		len(want[subs[0].ID]), len(want[subs[1].ID]), len(want[subs[2].ID]), dups, m.Posts, m.Failures, m.Delivered)
}

// TestDeadLettersAndRedelivery: a receiver that always fails sends a batch
// to the dead letters after MaxFailures attempts, and delivery moves on;
// a redelivery request sends the events again once the receiver accepts.
func TestDeadLettersAndRedelivery(t *testing.T) {
	var mu sync.Mutex
	fail := true
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(503)
			return
		}
		var evs []struct{ EventID string }
		json.NewDecoder(r.Body).Decode(&evs)
		for _, e := range evs {
			got = append(got, e.EventID)
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub := ownedSubscription(t, s, "port", srv.URL)
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, MaxFailures: 3, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Poll: 5 * time.Millisecond, MaxBatch: 100, Allow: allowLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	applyEvents(t, s, 0, 10)
	var dead []dcsa.DeadLetter
	waitFor(t, 10*time.Second, "a dead letter", func() bool {
		dead = dead[:0]
		s.DCSA.DeadLetters(sub.ID, func(dl *dcsa.DeadLetter) bool { dead = append(dead, *dl); return true })
		return len(dead) > 0
	})
	if dead[0].From != 1 || dead[0].To != 10 || dead[0].Events != 10 || dead[0].Attempts != 3 {
		t.Errorf("dead letter %+v", dead[0])
	}
	st, _ := s.DCSA.DeliveryStateOf(sub.ID)
	if st.Next != 11 {
		t.Errorf("delivery state after the dead letter: %+v", st)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := s.DCSA.RequestRedelivery(sub.ID, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "redelivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 10
	})
	// The receiver has the events before the deliverer has its answer and
	// logs the attempt: wait for the redelivery's record.
	var log []dcsa.DeliveryRecord
	waitFor(t, 10*time.Second, "the redelivery in the delivery log", func() bool {
		log = log[:0]
		s.DCSA.DeliveryLog(sub.ID, func(r *dcsa.DeliveryRecord) bool { log = append(log, *r); return true })
		return len(log) >= 4
	})
	if len(log) != 4 || log[0].Status != 204 || log[1].Status != 503 || !log[1].Dead {
		t.Errorf("delivery log %+v", log)
	}
}

// TestDeniedCallbackAddress: the deny-list applies to the resolved
// address of every connection, and to literal addresses when subscribing.
func TestDeniedCallbackAddress(t *testing.T) {
	deny := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if err := dcsa.CheckCallbackURL("http://127.0.0.1:9/x", deny); err == nil {
		t.Error("a denied literal address was accepted")
	}
	for _, u := range []string{"ftp://example.com/", "http://user:pw@example.com/", "http:///x", "not a url"} {
		if err := dcsa.CheckCallbackURL(u, nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Deny: deny})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // a name, resolved at connect time
	_, _, err = d.post(context.Background(), &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), CallbackURL: host, Secret: make([]byte, 32)}, []byte("[]"))
	if err == nil || hit {
		t.Errorf("post to a denied address: err %v, reached %v", err, hit)
	}
}
