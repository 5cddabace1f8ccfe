package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// ownedSubscription stores a port-role subscription owned by a new key of
// owner.
func ownedSubscription(tb testing.TB, s *portstate.State, owner, callback string) *dcsa.Subscription {
	tb.Helper()
	k, err := s.Tenants.CreateAPIKey("key-of-"+owner+"-0123456789", tenant.APIKey{Tenant: owner, Role: state.RolePort})
	if err != nil {
		tb.Fatal(err)
	}
	sub := &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: owner, Role: state.RolePort, KeyID: k.ID,
		CallbackURL: callback, Secret: make([]byte, 32)}
	if err := s.DCSA.PutSubscription(sub, true, nil); err != nil {
		tb.Fatal(err)
	}
	return sub
}

// TestIdleSubscriptionsDoNotPoll: with nothing new in the event log, the
// subscriptions read nothing: one loop watches the log and wakes them,
// instead of each polling it.
func TestIdleSubscriptionsDoNotPoll(t *testing.T) {
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s"), NoSync: true, MaxSubscriptions: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 100
	for i := range n {
		ownedSubscription(t, s, fmt.Sprintf("t%d", i), "http://127.0.0.1:9/hook")
	}
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Poll: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "every subscription's first look at the log", func() bool { return d.m.reads.Load() >= n })
	reads, rounds := d.m.reads.Load(), d.m.rounds.Load()
	waitFor(t, 10*time.Second, "50 rounds of the watcher", func() bool { return d.m.rounds.Load() >= rounds+50 })
	if got := d.m.reads.Load() - reads; got >= n {
		t.Errorf("%d idle subscriptions read the log %d times in 50 rounds", n, got)
	}
	// A new event still reaches every subscription's reader.
	reads = d.m.reads.Load()
	applyEvents(t, s, 0, 1)
	waitFor(t, 10*time.Second, "every subscription to read the new event", func() bool { return d.m.reads.Load() >= reads+n })
}

// BenchmarkIdleSubscriptions measures the CPU time the deliverer takes with
// idle subscriptions (nothing new in the log), as a share of one core
// (cpu%): each iteration is one second of wall time.
//
//	go test ./ingest/deliver -run '^$' -bench IdleSubscriptions -benchtime 10x -count 3
func BenchmarkIdleSubscriptions(b *testing.B) {
	for _, n := range []int{0, 500} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchIdle(b, n) })
	}
}

func benchIdle(b *testing.B, n int) {
	s, err := portstate.Open(state.Options{Dir: filepath.Join(b.TempDir(), "s"), NoSync: true, MaxSubscriptions: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		ownedSubscription(b, s, fmt.Sprintf("t%d", i), "http://127.0.0.1:9/hook")
	}
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for d.m.reads.Load() < uint64(n) { // every subscription has started
		time.Sleep(10 * time.Millisecond)
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	c0, t0 := cpu(), time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.ReportMetric(100*float64(cpu()-c0)/float64(time.Since(t0)), "cpu%")
}

// countingReceiver is a webhook receiver on loopback that acknowledges
// every POST; received returns how many events it was sent.
func countingReceiver(t *testing.T) (srv *httptest.Server, received func() int) {
	t.Helper()
	var mu sync.Mutex
	got := 0
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var evs []json.RawMessage
		json.NewDecoder(r.Body).Decode(&evs)
		mu.Lock()
		got += len(evs)
		mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return got }
}

// TestRevokedOwnerPausesDelivery: issue 14 item 4. Once the key that owns
// a subscription is revoked, nothing more is delivered to it (it is
// paused, its position kept); a key of its tenant that updates it resumes
// it, from where it stopped.
func TestRevokedOwnerPausesDelivery(t *testing.T) {
	srv, received := countingReceiver(t)
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub := ownedSubscription(t, s, "acme", srv.URL)
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Poll: 5 * time.Millisecond, Allow: allowLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	applyEvents(t, s, 0, 4)
	waitFor(t, 10*time.Second, "4 events delivered", func() bool { return received() == 4 })

	if err := s.Tenants.RevokeAPIKey(sub.KeyID); err != nil {
		t.Fatal(err)
	}
	applyEvents(t, s, 4, 6)
	waitFor(t, 10*time.Second, "the subscription to pause", func() bool { return d.m.paused.Load() == 1 })
	if n := received(); n != 4 {
		t.Errorf("%d events delivered after the owner's key was revoked, want 4", n)
	}
	var m bytes.Buffer
	d.WritePrometheus(&m)
	if !strings.Contains(m.String(), "porttrack_webhook_paused_subscriptions 1") {
		t.Errorf("metrics:\n%s", m.String())
	}

	k2, err := s.Tenants.CreateAPIKey("second-key-acme-0123456789", tenant.APIKey{Tenant: "acme", Role: state.RolePort})
	if err != nil {
		t.Fatal(err)
	}
	sub.KeyID = k2.ID
	if err := s.DCSA.PutSubscription(sub, false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rest delivered after the update", func() bool { return received() == 10 })
	waitFor(t, 10*time.Second, "the pause to end", func() bool { return d.m.paused.Load() == 0 })
}

// TestPausedSubscriptionsDoNotReadTheLog: a paused subscription (its
// owner's key revoked) does not read the event log when new events
// arrive, however many there are: it looks at its owner first and waits
// for the subscriptions to change. A PUT with another key of its tenant
// still resumes it, from where it stopped.
func TestPausedSubscriptionsDoNotReadTheLog(t *testing.T) {
	srv, received := countingReceiver(t)
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s"), NoSync: true, MaxSubscriptions: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n, events = 50, 20
	var subs []*dcsa.Subscription
	for i := range n {
		sub := ownedSubscription(t, s, fmt.Sprintf("t%d", i), srv.URL)
		if err := s.Tenants.RevokeAPIKey(sub.KeyID); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	applyEvents(t, s, 0, 1)
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Poll: 2 * time.Millisecond, Allow: allowLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "every subscription to pause", func() bool { return d.m.paused.Load() == n })

	reads := d.m.reads.Load()
	for i := 1; i <= events; i++ {
		applyEvents(t, s, i, 1)
		// Two rounds of the watcher: it has seen the event and woken those
		// that wait for new events.
		r := d.m.rounds.Load()
		waitFor(t, 10*time.Second, "the watcher to see the event", func() bool { return d.m.rounds.Load() >= r+2 })
	}
	if got := d.m.reads.Load() - reads; got != 0 {
		t.Errorf("%d paused subscriptions read the log %d times for %d new events, want 0", n, got, events)
	}
	if received() != 0 {
		t.Errorf("%d events delivered to paused subscriptions", received())
	}

	sub := subs[0]
	k2, err := s.Tenants.CreateAPIKey("second-key-of-t0-0123456789", tenant.APIKey{Tenant: sub.Tenant, Role: state.RolePort})
	if err != nil {
		t.Fatal(err)
	}
	sub.KeyID = k2.ID
	if err := s.DCSA.PutSubscription(sub, false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the updated subscription to receive every event", func() bool { return received() == events+1 })
	waitFor(t, 10*time.Second, "one subscription to resume", func() bool { return d.m.paused.Load() == n-1 })
}

// TestPausedResumesOnKeyChange: a key that comes without any change of the
// subscriptions (here: the first key of the tenant of a subscription stored
// before owners were recorded) still resumes a paused subscription, since
// paused subscriptions look at their owner every relistRounds rounds.
func TestPausedResumesOnKeyChange(t *testing.T) {
	srv, received := countingReceiver(t)
	s, err := portstate.Open(state.Options{Dir: filepath.Join(t.TempDir(), "s"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub := &dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: "acme", Role: state.RolePort,
		CallbackURL: srv.URL, Secret: make([]byte, 32)}
	if err := s.DCSA.PutSubscription(sub, true, nil); err != nil {
		t.Fatal(err)
	}
	applyEvents(t, s, 0, 3)
	d, err := New(Config{Log: s.DCSA, Links: s.Tenants, Poll: 2 * time.Millisecond, Allow: allowLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "the subscription to pause", func() bool { return d.m.paused.Load() == 1 })
	version := s.DCSA.SubscriptionsVersion()
	if _, err := s.Tenants.CreateAPIKey("first-key-of-acme-0123456789", tenant.APIKey{Tenant: "acme", Role: state.RolePort}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the events delivered after the key was created", func() bool { return received() == 3 })
	if d.m.paused.Load() != 0 {
		t.Errorf("%d subscriptions paused, want 0", d.m.paused.Load())
	}
	if v := s.DCSA.SubscriptionsVersion(); v != version {
		t.Fatalf("the subscriptions changed (version %d to %d): the test would not show the key change alone resumes", version, v)
	}
}
