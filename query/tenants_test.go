package query

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/dcsa"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// tenantServer is a query server over an empty in-memory store.
type tenantServer struct {
	store  *portstate.State
	client *fasthttp.Client
}

func newTenantServer(t *testing.T, cfg Config, opts state.Options) *tenantServer {
	t.Helper()
	opts.Dir, opts.FS = "db", vfs.NewMem()
	store, err := portstate.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.Store = store
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { srv.Shutdown() })
	return &tenantServer{store: store, client: &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}}
}

func (ts *tenantServer) key(t *testing.T, secret string, k tenant.APIKey) tenant.APIKey {
	t.Helper()
	k, err := ts.store.Tenants.CreateAPIKey(secret, k)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// do sends a request with the Authorization header auth ("" none).
func (ts *tenantServer) do(t *testing.T, method, uri, auth, body string) (int, *fasthttp.ResponseHeader, []byte) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://127.0.0.1" + uri) // a loopback Host, as the open API admits
	req.Header.SetMethod(method)
	req.Header.Set("API-Version", "2")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	if err := ts.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	h := new(fasthttp.ResponseHeader)
	resp.Header.CopyTo(h)
	return resp.StatusCode(), h, bytes.Clone(resp.Body())
}

// trucksURI is a port-role route.
const trucksURI = "/v1/trucks?near=29.93,121.86&radius=1000"

const (
	tenantPortKey  = "tenant-port-key-0123456789"
	tenantLogiKey  = "tenant-logi-key-0123456789"
	tenantLogiKey2 = "tenant-logi-key2-0123456789"
)

// TestBearerSchemeAnyCase: the scheme of Authorization is matched in any
// case (RFC 9110 §11.1); other schemes and empty credentials are refused.
func TestBearerSchemeAnyCase(t *testing.T) {
	ts := newTenantServer(t, Config{}, state.Options{})
	ts.key(t, tenantPortKey, tenant.APIKey{Tenant: "ops", Role: state.RolePort})
	for _, auth := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR  "} {
		if code, _, body := ts.do(t, "GET", trucksURI, auth+tenantPortKey, ""); code != 200 {
			t.Errorf("%q: %d %s", auth, code, body)
		}
	}
	for _, auth := range []string{"Basic " + tenantPortKey, "Bearer", "Bearer ", tenantPortKey, "Bearer " + tenantPortKey + " x"} {
		code, h, body := ts.do(t, "GET", trucksURI, auth, "")
		if code != 401 || len(h.Peek("WWW-Authenticate")) == 0 || !json.Valid(body) {
			t.Errorf("%q: %d %s", auth, code, body)
		}
	}
}

// TestOpenAPIWithKey: on the open API (the demo) a request without a key
// acts as the port operator, a valid key acts as its own principal, and an
// unknown or revoked key is refused with a JSON error, never ignored.
func TestOpenAPIWithKey(t *testing.T) {
	ts := newTenantServer(t, Config{Open: true}, state.Options{})
	k := ts.key(t, tenantLogiKey, tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}}})
	if code, _, body := ts.do(t, "GET", trucksURI, "", ""); code != 200 {
		t.Errorf("no key: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "GET", trucksURI, "Bearer "+tenantLogiKey, ""); code != 403 {
		t.Errorf("logistics key on a port route: %d %s", code, body)
	}
	if err := ts.store.Tenants.RevokeAPIKey(k.ID); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tenantLogiKey, "never-created-0123456789"} {
		code, _, body := ts.do(t, "GET", trucksURI, "Bearer "+key, "")
		var e struct {
			Error struct{ Code, Message string }
		}
		if code != 401 || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error.Message, "revoked or never created") {
			t.Errorf("key %s: %d %s", key, code, body)
		}
	}
}

// TestSubscriptionNotTakenOverByAnotherRole: issue 14 item 3. A logistics
// key whose tenant name is that of a port subscription's owner (as older
// versions let be created) neither lists, reads nor changes it.
func TestSubscriptionNotTakenOverByAnotherRole(t *testing.T) {
	ts := newTenantServer(t, Config{}, state.Options{})
	ts.key(t, tenantLogiKey, tenant.APIKey{Tenant: "admin-like", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"NOPE"}}})
	sub := dcsa.Subscription{ID: dcsa.NewSubscriptionID(), Tenant: "admin-like", Role: state.RolePort,
		CallbackURL: "http://port.example/hook", Secret: make([]byte, 32)}
	if err := ts.store.DCSA.PutSubscription(&sub, true, nil); err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + tenantLogiKey
	if code, _, body := ts.do(t, "GET", "/v2/event-subscriptions", auth, ""); code != 200 || string(body) != "[]" {
		t.Errorf("list: %d %s", code, body)
	}
	for _, c := range []struct{ method, uri, body string }{
		{"GET", "/v2/event-subscriptions/" + sub.ID, ""},
		{"PUT", "/v2/event-subscriptions/" + sub.ID, `{"callbackUrl":"http://attacker.example/hook"}`},
		{"PUT", "/v2/event-subscriptions/" + sub.ID + "/secret", `{"secret":"` + testSecret + `"}`},
		{"GET", "/v2/event-subscriptions/" + sub.ID + "/deliveries", ""},
		{"DELETE", "/v2/event-subscriptions/" + sub.ID, ""},
	} {
		if code, _, body := ts.do(t, c.method, c.uri, auth, c.body); code != 404 {
			t.Errorf("%s %s: %d %s", c.method, c.uri, code, body)
		}
	}
	got, err := ts.store.DCSA.Subscription(sub.ID)
	if err != nil || got.CallbackURL != "http://port.example/hook" || !bytes.Equal(got.Secret, sub.Secret) {
		t.Errorf("subscription changed: %+v %v", got, err)
	}
}

// TestRevokedKeyPausesSubscription: issue 14 item 4. The subscription of a
// revoked key is paused (its deliveries say so); another key of the tenant
// sees it and resumes it by updating it, becoming its owner.
func TestRevokedKeyPausesSubscription(t *testing.T) {
	ts := newTenantServer(t, Config{}, state.Options{})
	k1 := ts.key(t, tenantLogiKey, tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}}})
	k2 := ts.key(t, tenantLogiKey2, tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B2"}}})
	code, _, body := ts.do(t, "POST", "/v2/event-subscriptions", "Bearer "+tenantLogiKey,
		`{"callbackUrl":"http://acme.example/hook","secret":"`+testSecret+`"}`)
	var created struct{ SubscriptionID string }
	if code != 201 || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	id := created.SubscriptionID
	if sub, _ := ts.store.DCSA.Subscription(id); sub.KeyID != k1.ID {
		t.Fatalf("owner %q, want %q", sub.KeyID, k1.ID)
	}
	deliveries := func() string {
		t.Helper()
		code, _, body := ts.do(t, "GET", "/v2/event-subscriptions/"+id+"/deliveries", "Bearer "+tenantLogiKey2, "")
		if code != 200 {
			t.Fatalf("deliveries: %d %s", code, body)
		}
		return string(body)
	}
	if b := deliveries(); strings.Contains(b, `"paused"`) {
		t.Errorf("paused before revocation: %s", b)
	}
	if err := ts.store.Tenants.RevokeAPIKey(k1.ID); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := ts.do(t, "GET", "/v2/event-subscriptions/"+id, "Bearer "+tenantLogiKey, ""); code != 401 {
		t.Errorf("revoked key: %d", code)
	}
	if b := deliveries(); !strings.Contains(b, `"paused"`) {
		t.Errorf("not paused after revocation: %s", b)
	}
	if code, _, body := ts.do(t, "PUT", "/v2/event-subscriptions/"+id, "Bearer "+tenantLogiKey2, `{"callbackUrl":"http://acme.example/hook2"}`); code != 200 {
		t.Fatalf("update by the tenant's other key: %d %s", code, body)
	}
	sub, _ := ts.store.DCSA.Subscription(id)
	if sub.KeyID != k2.ID || !sub.Scope.Has(state.Ref{Kind: state.LinkBooking, Value: "B2"}) || sub.Scope.Has(state.Ref{Kind: state.LinkBooking, Value: "B1"}) {
		t.Errorf("after the update: owner %q scope %+v, want %q with B2 only", sub.KeyID, sub.Scope, k2.ID)
	}
	if b := deliveries(); strings.Contains(b, `"paused"`) {
		t.Errorf("still paused after the update: %s", b)
	}
}

// TestRateLimitPerKey: beyond RateBurst requests at RateLimit per second a
// key is answered 429 with Retry-After in the route's error body; other
// keys are not held by it.
func TestRateLimitPerKey(t *testing.T) {
	ts := newTenantServer(t, Config{RateLimit: 0.1, RateBurst: 2}, state.Options{})
	ts.key(t, tenantPortKey, tenant.APIKey{Tenant: "ops", Role: state.RolePort})
	ts.key(t, tenantLogiKey, tenant.APIKey{Tenant: "acme", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"B1"}}})
	for i := range 2 {
		if code, _, body := ts.do(t, "GET", trucksURI, "Bearer "+tenantPortKey, ""); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	code, h, body := ts.do(t, "GET", trucksURI, "Bearer "+tenantPortKey, "")
	var e struct {
		Error struct{ Code, Message string }
	}
	if code != 429 || json.Unmarshal(body, &e) != nil || e.Error.Code != "rate_limited" {
		t.Errorf("third request: %d %s", code, body)
	}
	if ra := string(h.Peek("Retry-After")); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	code, h, body = ts.do(t, "GET", "/v2/events", "Bearer "+tenantPortKey, "")
	var d struct {
		StatusCode int
		Errors     []struct{ Reason string }
	}
	if code != 429 || json.Unmarshal(body, &d) != nil || d.StatusCode != 429 || len(d.Errors) != 1 || len(h.Peek("Retry-After")) == 0 {
		t.Errorf("/v2 beyond the rate: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "GET", "/v1/vessels?near=29.93,121.86&radius=1000", "Bearer "+tenantLogiKey, ""); code != 200 {
		t.Errorf("another key: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "GET", "/metrics", "", ""); code != 200 || !strings.Contains(string(body), "porttrack_http_rate_limited_total 2") {
		t.Errorf("metrics: %d %s", code, body)
	}
}

// TestSubscriptionLimitAnswer: a create beyond max_subscriptions answers
// 409 with a DCSA error naming the limit.
func TestSubscriptionLimitAnswer(t *testing.T) {
	ts := newTenantServer(t, Config{}, state.Options{MaxSubscriptions: 2})
	ts.key(t, tenantPortKey, tenant.APIKey{Tenant: "ops", Role: state.RolePort})
	body := `{"callbackUrl":"http://ops.example/hook","secret":"` + testSecret + `"}`
	for i := range 2 {
		if code, _, b := ts.do(t, "POST", "/v2/event-subscriptions", "Bearer "+tenantPortKey, body); code != 201 {
			t.Fatalf("subscription %d: %d %s", i, code, b)
		}
	}
	code, _, b := ts.do(t, "POST", "/v2/event-subscriptions", "Bearer "+tenantPortKey, body)
	if code != 409 || !strings.Contains(string(b), "at most 2") || !strings.Contains(string(b), "max_subscriptions") {
		t.Errorf("third: %d %s", code, b)
	}
}
