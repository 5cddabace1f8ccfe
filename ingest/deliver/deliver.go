package deliver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
)

// Log is what the deliverer reads and writes of the DCSA event log and its
// subscriptions (state/dcsa's DCSA).
type Log interface {
	LastSeq() (uint64, error)
	Scan(from uint64, desc bool, fn func(*state.DCSAEvent) bool) error
	SubscriptionsVersion() uint64
	Subscriptions(after string, fn func(*dcsa.Subscription) bool) error
	Subscription(id string) (dcsa.Subscription, error)
	SubscriptionOwnerLive(sub *dcsa.Subscription, open bool) (bool, error)
	DeliveryStateOf(id string) (dcsa.DeliveryState, error)
	TakeRedelivery(id string, st *dcsa.DeliveryState) (bool, error)
	RecordDelivery(id string, st *dcsa.DeliveryState, rec *dcsa.DeliveryRecord, dead *dcsa.DeadLetter) error
}

// Links are the containers' links, which decide what a logistics
// subscriber sees (state/tenant's Tenants).
type Links interface {
	Links(container string, fn func(state.Ref) bool) error
}

// Config configures the deliverer.
type Config struct {
	// Log is the DCSA event log and its subscriptions; Links the
	// containers' links.
	Log   Log
	Links Links
	// Timeout bounds one POST, connection to last byte (default 10 s).
	Timeout time.Duration
	// MaxBatch is the most events per POST (default 100); MaxBodyBytes the
	// largest body (default 1 MiB; a batch is cut before it).
	MaxBatch     int
	MaxBodyBytes int
	// MaxFailures is the number of failed attempts after which a batch
	// moves to the subscription's dead letters (default 10).
	MaxFailures int
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts (defaults 1 s and 5 min); a Retry-After answer sets the
	// wait instead, capped at BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// Poll is how often the watcher looks for new events in the log and
	// for changed subscriptions (default 200 ms); idle subscriptions wait
	// for it to wake them.
	Poll time.Duration
	// Open is whether the API is open (the demo): subscriptions made there
	// without a key deliver only while it is (dcsa.DCSA.SubscriptionOwnerLive).
	Open bool
	// Callbacks may not connect to dcsa.DefaultCallbackDeny (loopback,
	// private, link-local, ...) unless Allow re-opens a range, nor to Deny
	// (which wins over Allow); checked on the resolved address of every
	// connection (addrpolicy.go).
	Deny, Allow []netip.Prefix
	Logger      *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 100
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 10
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.Poll == 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Log == nil || c.Links == nil:
		return errors.New("deliver: Log or Links is nil")
	case c.Timeout < 0 || c.MaxBatch < 0 || c.MaxBodyBytes < 0 || c.MaxFailures < 0 || c.BackoffMin < 0 || c.BackoffMax < 0 || c.Poll < 0:
		return errors.New("deliver: negative setting")
	case c.BackoffMax != 0 && c.BackoffMin > c.BackoffMax:
		return errors.New("deliver: BackoffMin exceeds BackoffMax")
	}
	return nil
}

// Deliverer posts the DCSA event log to subscriptions' callback URLs.
type Deliverer struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	m      metrics
	// wake wakes the subscriptions when the log or the subscriptions
	// change; owners wakes the paused ones, only when the subscriptions
	// change or every relistRounds rounds (an owner's key may come or go
	// without a change of the subscriptions), so new events cost a paused
	// subscription nothing.
	wake, owners wakeup
}

// wakeup wakes every waiting subscription at once: a waiter takes the
// current channel before it looks at the log, and the watcher closes it
// (and makes the next) when the log or the subscriptions change, so no
// change between the look and the wait is missed.
type wakeup struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *wakeup) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *wakeup) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

type metrics struct {
	posts, delivered, failures, deadBatches, events atomic.Uint64
	// reads counts reads of the event log for a subscription; rounds the
	// rounds of the loop that watches for new events and subscriptions.
	reads, rounds atomic.Uint64
	paused        atomic.Int64 // subscriptions whose owner key is gone
}

// Metrics are the deliverer's counters since New.
type Metrics struct {
	Posts       uint64 // POSTs sent
	Delivered   uint64 // POSTs answered 2xx
	Failures    uint64 // POSTs failed (error or non-2xx)
	DeadBatches uint64 // batches moved to dead letters
	Events      uint64 // events delivered (2xx), redeliveries included
}

// New builds a deliverer; Run runs it.
func New(cfg Config) (*Deliverer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: dialControl(dcsa.CallbackDenyList(cfg.Deny, cfg.Allow))}
	tr := &http.Transport{
		DialContext:            dialer.DialContext,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Deliverer{cfg: cfg, log: cfg.Logger.With("component", "deliver"),
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Metrics returns the counters.
func (d *Deliverer) Metrics() Metrics {
	return Metrics{Posts: d.m.posts.Load(), Delivered: d.m.delivered.Load(), Failures: d.m.failures.Load(),
		DeadBatches: d.m.deadBatches.Load(), Events: d.m.events.Load()}
}

// WritePrometheus writes the counters in Prometheus text format.
func (d *Deliverer) WritePrometheus(w io.Writer) {
	m := d.Metrics()
	fmt.Fprintf(w, "# TYPE porttrack_webhook_posts_total counter\nporttrack_webhook_posts_total %d\n", m.Posts)
	fmt.Fprintf(w, "# TYPE porttrack_webhook_delivered_total counter\nporttrack_webhook_delivered_total %d\n", m.Delivered)
	fmt.Fprintf(w, "# TYPE porttrack_webhook_failures_total counter\nporttrack_webhook_failures_total %d\n", m.Failures)
	fmt.Fprintf(w, "# TYPE porttrack_webhook_dead_batches_total counter\nporttrack_webhook_dead_batches_total %d\n", m.DeadBatches)
	fmt.Fprintf(w, "# TYPE porttrack_webhook_events_total counter\nporttrack_webhook_events_total %d\n", m.Events)
	fmt.Fprintf(w, "# HELP porttrack_webhook_paused_subscriptions Subscriptions that deliver nothing because the API key that owns them was revoked.\n"+
		"# TYPE porttrack_webhook_paused_subscriptions gauge\nporttrack_webhook_paused_subscriptions %d\n", d.m.paused.Load())
}

// relistRounds is how many rounds of the watcher pass between reads of
// the subscription list when it has not changed.
const relistRounds = 25

// Run delivers until ctx ends: one goroutine per subscription, started
// when the subscription appears and ended when it is deleted, so a slow or
// dead receiver holds up only its own subscription. One watcher looks at
// the end of the event log and at the subscriptions' version every Poll
// and wakes the subscriptions when either moved: an idle subscription
// reads nothing and holds no timer.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer d.wake.broadcast()
	defer d.owners.broadcast()
	workers := map[string]chan struct{}{} // id -> closed when the worker ended
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	var lastSeq, lastVersion uint64
	first := true
	for {
		d.m.rounds.Add(1)
		version := d.cfg.Log.SubscriptionsVersion()
		seq, err := d.cfg.Log.LastSeq()
		if err != nil && !errors.Is(err, state.ErrClosed) {
			d.log.Error("reading the event log failed", "err", err)
		}
		// The list is read again when it changed, and now and then in case a
		// sender ended on an error while its subscription stayed.
		relist := d.m.rounds.Load()%relistRounds == 0
		if first || version != lastVersion || relist {
			var ids []string
			err := d.cfg.Log.Subscriptions("", func(sub *dcsa.Subscription) bool {
				ids = append(ids, sub.ID)
				return true
			})
			if err != nil && !errors.Is(err, state.ErrClosed) {
				d.log.Error("reading subscriptions failed", "err", err)
			}
			for _, id := range ids {
				if done, ok := workers[id]; ok {
					select {
					case <-done:
					default:
						continue // running
					}
				}
				done := make(chan struct{})
				workers[id] = done
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer close(done)
					d.work(ctx, id)
				}()
			}
			if err == nil { // forget the senders of deleted subscriptions
				for id, done := range workers {
					select {
					case <-done:
						if !slices.Contains(ids, id) {
							delete(workers, id)
						}
					default:
					}
				}
			}
		}
		if !first && (version != lastVersion || seq != lastSeq) {
			d.wake.broadcast()
		}
		if !first && (version != lastVersion || relist) {
			d.owners.broadcast()
		}
		first, lastVersion, lastSeq = false, version, seq
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// work delivers one subscription until it is deleted or ctx ends.
func (d *Deliverer) work(ctx context.Context, id string) {
	links := map[string][]state.Ref{}
	linksOf := func(c string) ([]state.Ref, error) {
		if l, ok := links[c]; ok {
			return l, nil
		}
		var l []state.Ref
		err := d.cfg.Links.Links(c, func(r state.Ref) bool { l = append(l, r); return true })
		if len(links) > 10000 {
			clear(links)
		}
		links[c] = l
		return l, err
	}
	// wait returns after dur (0: until woken), or false when ctx ended.
	wait := func(wake <-chan struct{}, dur time.Duration) bool {
		var tc <-chan time.Time
		if dur > 0 {
			t := time.NewTimer(dur)
			defer t.Stop()
			tc = t.C
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
			return true
		case <-tc:
			return true
		}
	}
	paused := false
	defer func() {
		if paused {
			d.m.paused.Add(-1)
		}
	}()
	for ctx.Err() == nil {
		wake, owners := d.wake.wait(), d.owners.wait() // before looking, so no change is missed
		sub, err := d.cfg.Log.Subscription(id)
		if errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrClosed) {
			return
		}
		if err != nil {
			d.log.Error("reading subscription failed", "subscription", id, "err", err)
			if !wait(nil, d.cfg.Poll) {
				return
			}
			continue
		}
		st, err := d.cfg.Log.DeliveryStateOf(id)
		if err != nil {
			if errors.Is(err, state.ErrNotFound) {
				return
			}
			d.log.Error("reading delivery state failed", "subscription", id, "err", err)
			if !wait(nil, d.cfg.Poll) {
				return
			}
			continue
		}
		if _, err := d.cfg.Log.TakeRedelivery(id, &st); err != nil {
			d.log.Error("redelivery request failed", "subscription", id, "err", err)
		}
		// Deliver only while the owner's key exists: a revoked key's
		// subscription pauses (it keeps its position) until a key of its
		// tenant updates it. Checked before the log is read, so a paused
		// subscription costs no read however many events arrive.
		live, err := d.cfg.Log.SubscriptionOwnerLive(&sub, d.cfg.Open)
		if err != nil {
			d.log.Error("reading the subscription's owner failed", "subscription", id, "err", err)
			if !wait(nil, d.cfg.Poll) {
				return
			}
			continue
		}
		if live != !paused {
			paused = !live
			if paused {
				d.m.paused.Add(1)
				d.log.Warn("subscription paused: the API key that owns it was revoked", "subscription", id, "tenant", sub.Tenant)
			} else {
				d.m.paused.Add(-1)
				d.log.Info("subscription resumed", "subscription", id, "tenant", sub.Tenant)
			}
		}
		if !live { // no new event changes that: wait for the subscriptions
			if !wait(owners, 0) {
				return
			}
			continue
		}
		if now := time.Now().UnixNano(); st.RetryAt > now {
			if !wait(wake, time.Duration(st.RetryAt-now)) {
				return
			}
			continue
		}
		body, from, to, n, err := d.batch(&sub, st.Next, linksOf)
		if err != nil {
			d.log.Error("reading the event log failed", "subscription", id, "err", err)
			if !wait(nil, d.cfg.Poll) {
				return
			}
			continue
		}
		if to < st.Next { // nothing new: wait for the watcher
			if !wait(wake, 0) {
				return
			}
			continue
		}
		if n == 0 { // only events this subscription does not want
			st.Next = to + 1
			if err := d.cfg.Log.RecordDelivery(id, &st, nil, nil); err != nil {
				return
			}
			continue
		}
		d.attempt(ctx, &sub, &st, body, from, to, n)
	}
}

// batch reads the log from seq next and renders the JSON array of the
// events the subscription matches: at most MaxBatch events and MaxBodyBytes
// bytes. to is the last sequence number read (< next when none).
func (d *Deliverer) batch(sub *dcsa.Subscription, next uint64, links func(string) ([]state.Ref, error)) (body []byte, from, to uint64, n int, err error) {
	q, _ := url.ParseQuery(sub.Filter)
	f, err := dcsa.ParseFilter(q, 1, false)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("subscription %s filter: %w", sub.ID, err)
	}
	d.m.reads.Add(1)
	to = next - 1
	body = append(body, '[')
	scanned := 0
	var ferr error
	err = d.cfg.Log.Scan(next, false, func(e *state.DCSAEvent) bool {
		ok, err := f.Match(e, links)
		if err == nil && ok {
			ok, err = dcsa.SubscriptionVisible(sub, e, links)
		}
		if err != nil {
			ferr = err
			return false
		}
		if ok {
			if n > 0 && len(body)+1+len(e.Body)+1 > d.cfg.MaxBodyBytes {
				return false
			}
			if n == 0 {
				from = e.Seq
			} else {
				body = append(body, ',')
			}
			body = append(body, e.Body...)
			n++
		}
		to = e.Seq
		scanned++
		return n < d.cfg.MaxBatch && scanned < 100*d.cfg.MaxBatch
	})
	return append(body, ']'), from, to, n, errors.Join(err, ferr)
}

// Sign returns the Notification-Signature header value of body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// attempt posts one batch and records the outcome.
func (d *Deliverer) attempt(ctx context.Context, sub *dcsa.Subscription, st *dcsa.DeliveryState, body []byte, from, to uint64, n int) {
	start := time.Now()
	status, retryAfter, perr := d.post(ctx, sub, body)
	if ctx.Err() != nil && perr != nil {
		return // shutting down: the batch is sent again after the restart
	}
	st.Attempts++
	rec := dcsa.DeliveryRecord{Attempt: st.Attempts, At: start.UnixNano(), From: from, To: to, Events: n, Status: status, Nanos: int64(time.Since(start))}
	var dead *dcsa.DeadLetter
	if perr == nil {
		d.m.delivered.Add(1)
		d.m.events.Add(uint64(n))
		st.Next, st.Failures, st.RetryAt = to+1, 0, 0
	} else {
		d.m.failures.Add(1)
		rec.Error = Reason(status, perr) // the tenant's view; the error itself only in the operator's log
		d.log.Warn("callback failed", "subscription", sub.ID, "reason", rec.Error, "err", perr)
		st.Failures++
		if st.Failures >= d.cfg.MaxFailures {
			d.m.deadBatches.Add(1)
			rec.Dead = true
			dead = &dcsa.DeadLetter{From: from, To: to, Events: n, Attempts: st.Failures, LastError: rec.Error, At: rec.At}
			st.Next, st.Failures, st.RetryAt = to+1, 0, 0
		} else {
			wait := d.backoff(st.Failures)
			if retryAfter > 0 {
				wait = min(retryAfter, d.cfg.BackoffMax)
			}
			st.RetryAt = time.Now().Add(wait).UnixNano()
		}
	}
	if err := d.cfg.Log.RecordDelivery(sub.ID, st, &rec, dead); err != nil && !errors.Is(err, state.ErrNotFound) {
		d.log.Error("recording a delivery failed", "subscription", sub.ID, "err", err)
	}
}

// backoff is BackoffMin·2^(failures-1), capped at BackoffMax.
func (d *Deliverer) backoff(failures int) time.Duration {
	w := d.cfg.BackoffMin
	for i := 1; i < failures && w < d.cfg.BackoffMax; i++ {
		w *= 2
	}
	return min(w, d.cfg.BackoffMax)
}

// post sends the body; it returns the status, the Retry-After wait (0 if
// none) and an error for anything but a 2xx answer.
func (d *Deliverer) post(ctx context.Context, sub *dcsa.Subscription, body []byte) (int, time.Duration, error) {
	d.m.posts.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Subscription-ID", sub.ID)
	req.Header.Set("API-Version", "2.2.0")
	req.Header.Set("Notification-Signature", Sign(sub.Secret, body))
	req.Header.Set("User-Agent", "porttrack-webhook")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	// Read a bounded part of the answer so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("callback answered %d", resp.StatusCode)
}

// retryAfter parses a Retry-After value (seconds or an HTTP date).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
