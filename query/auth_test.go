package query

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestTenantsDoNotCross: two logistics tenants with interleaved containers
// each see only their own boxes and events through every route; the port
// role sees all; no key or an unknown key gets 401.
func TestTenantsDoNotCross(t *testing.T) {
	f := newDCSAFixture(t, false)
	tenants := []struct {
		key        string
		own, other []string
	}{
		{keyA, boxesA, boxesB},
		{keyB, boxesB, boxesA},
		{keyNone, nil, append(slices.Clone(boxesA), boxesB...)},
	}
	allBoxes := append(slices.Clone(boxesA), boxesB...)

	t.Run("/v1/containers/{id}", func(t *testing.T) {
		for _, tn := range tenants {
			for _, box := range tn.own {
				if code, _, body := f.do(t, "GET", "/v1/containers/"+box, tn.key, nil); code != 200 {
					t.Errorf("own box %s: %d %s", box, code, body)
				}
			}
			for _, box := range tn.other {
				code, _, body := f.do(t, "GET", "/v1/containers/"+box, tn.key, nil)
				_, _, unknown := f.do(t, "GET", "/v1/containers/MSKU1234565", tn.key, nil)
				if code != 404 || string(body) != string(unknown[:len(unknown)-len("MSKU1234565 not found\"}}")])+box+" not found\"}}" {
					t.Errorf("other tenant's box %s: %d %s (an unknown box answers %s)", box, code, body, unknown)
				}
			}
		}
		for _, box := range allBoxes {
			if code, _, body := f.do(t, "GET", "/v1/containers/"+box, keyPort, nil); code != 200 {
				t.Errorf("port role, box %s: %d %s", box, code, body)
			}
		}
	})
	t.Run("/v1/containers/{id}/events", func(t *testing.T) {
		for _, tn := range tenants {
			for _, box := range tn.own {
				if code, _, body := f.do(t, "GET", "/v1/containers/"+box+"/events", tn.key, nil); code != 200 {
					t.Errorf("own box %s: %d %s", box, code, body)
				}
			}
			for _, box := range tn.other {
				if code, _, body := f.do(t, "GET", "/v1/containers/"+box+"/events", tn.key, nil); code != 404 {
					t.Errorf("other tenant's box %s: %d %s", box, code, body)
				}
			}
		}
	})
	t.Run("/v2/events", func(t *testing.T) {
		for _, tn := range tenants {
			code, _, body := f.do(t, "GET", "/v2/events?limit=1000", tn.key, nil)
			var evs []dcsaEv
			if code != 200 || json.Unmarshal(body, &evs) != nil {
				t.Fatalf("%d %s", code, body)
			}
			seen := map[string]int{}
			for _, e := range evs {
				if e.s("eventType") == "TRANSPORT" {
					seen["TRANSPORT"]++
					continue
				}
				if !slices.Contains(tn.own, e.box()) {
					t.Errorf("tenant %s sees event %s of %s", tn.key, e.s("eventID"), e.box())
				}
				seen[e.box()]++
			}
			for _, box := range tn.own {
				if seen[box] != 6 {
					t.Errorf("tenant %s sees %d events of own box %s, want 6", tn.key, seen[box], box)
				}
			}
			if seen["TRANSPORT"] != 2 {
				t.Errorf("tenant %s sees %d TRANSPORT events, want 2", tn.key, seen["TRANSPORT"])
			}
			// Filters cannot reach the other tenant's boxes either.
			for _, box := range tn.other {
				code, _, body := f.do(t, "GET", "/v2/events?equipmentReference="+box, tn.key, nil)
				if code != 200 || string(body) != "[]" {
					t.Errorf("tenant %s, equipmentReference=%s: %d %s", tn.key, box, code, body)
				}
			}
			code, _, body = f.do(t, "GET", "/v2/events?carrierBookingReference=BKG-A", tn.key, nil)
			if tn.key != keyA && (code != 200 || string(body) != "[]") {
				t.Errorf("tenant %s, carrierBookingReference=BKG-A: %d %s", tn.key, code, body)
			}
		}
	})
	t.Run("/v2/events/{eventID}", func(t *testing.T) {
		code, _, body := f.do(t, "GET", "/v2/events?limit=1000", keyPort, nil)
		var all []dcsaEv
		if code != 200 || json.Unmarshal(body, &all) != nil {
			t.Fatalf("%d %s", code, body)
		}
		for _, tn := range tenants {
			for _, e := range all {
				want := 404
				if e.s("eventType") == "TRANSPORT" || slices.Contains(tn.own, e.box()) {
					want = 200
				}
				if code, _, body := f.do(t, "GET", "/v2/events/"+e.s("eventID"), tn.key, nil); code != want {
					t.Errorf("tenant %s, event of %s: %d, want %d: %s", tn.key, e.box(), code, want, body)
				}
			}
		}
	})
	t.Run("/v1/trucks", func(t *testing.T) {
		for _, uri := range []string{"/v1/trucks?near=29.93,121.86", "/v1/trucks/浙B12345", "/v1/trucks/浙B12345/track"} {
			for _, tn := range tenants {
				if code, _, body := f.do(t, "GET", uri, tn.key, nil); code != 403 {
					t.Errorf("logistics %s %s: %d %s", tn.key, uri, code, body)
				}
			}
			if code, _, _ := f.do(t, "GET", uri, keyPort, nil); code == 403 || code == 401 {
				t.Errorf("port %s: %d", uri, code)
			}
		}
	})
	t.Run("/v1/geofences", func(t *testing.T) {
		for _, tn := range tenants {
			for _, uri := range []string{"/v1/geofences", "/v1/geofences/nbct-berth-1"} {
				if code, _, body := f.do(t, "GET", uri, tn.key, nil); code != 200 {
					t.Errorf("logistics %s %s: %d %s", tn.key, uri, code, body)
				}
			}
			// Memberships are kept for tenants' fences only.
			if code, _, body := f.do(t, "GET", "/v1/geofences/nbct-berth-1/inside", tn.key, nil); code != 409 {
				t.Errorf("logistics %s inside: %d %s", tn.key, code, body)
			}
		}
	})
	t.Run("/v1/vessels", func(t *testing.T) {
		for _, tn := range tenants {
			if code, _, body := f.do(t, "GET", "/v1/vessels/413000001", tn.key, nil); code != 200 {
				t.Errorf("logistics %s: %d %s", tn.key, code, body)
			}
		}
	})
	t.Run("401", func(t *testing.T) {
		for _, uri := range []string{"/v1/containers/" + boxesA[0], "/v1/vessels/413000001", "/v2/events"} {
			for _, key := range []string{"", "unknown-key-unknown-key"} {
				code, h, body := f.do(t, "GET", uri, key, nil)
				if code != 401 || len(h.Peek("WWW-Authenticate")) == 0 || len(body) == 0 {
					t.Errorf("%s with key %q: %d %s", uri, key, code, body)
				}
			}
		}
		if code, _, _ := f.do(t, "GET", "/healthz", "", nil); code != 200 {
			t.Errorf("/healthz without a key: %d", code)
		}
	})
}

// TestOpenServerWithoutKey: with Config.Open a request without a key acts
// as the port operator, and a request with an unknown key is still refused.
func TestOpenServerWithoutKey(t *testing.T) {
	f := newDCSAFixture(t, true)
	if code, _, body := f.do(t, "GET", "/v1/containers/"+boxesB[0], "", nil); code != 200 {
		t.Errorf("no key: %d %s", code, body)
	}
	if code, _, _ := f.do(t, "GET", "/v1/containers/"+boxesB[0], "unknown-key-unknown-key", nil); code != 401 {
		t.Errorf("unknown key: %d", code)
	}
	if code, _, _ := f.do(t, "GET", "/v1/containers/"+boxesB[0], keyA, nil); code != 404 {
		t.Errorf("tenant A on B's box: %d", code)
	}
}

// logisticsSamples are requests to every route open to logistics callers
// (logisticsRoutes), for TestLogisticsEveryRoute; leaks marks the answers
// that list containers or trucks, where the port's answer names another
// tenant's and the logistics caller's must not.
var logisticsSamples = map[string][]struct {
	uri   string
	leaks bool
}{
	"/v1/vessels":               {{"/v1/vessels?near=29.93,121.86&radius=50000", false}, {"/v1/vessels?fence=beilun-anchorage", false}},
	"/v1/vessels/{id}":          {{"/v1/vessels/413000001", false}},
	"/v1/vessels/{id}/track":    {{"/v1/vessels/413000001/track", false}},
	"/v1/geofences":             {{"/v1/geofences", false}},
	"/v1/geofences/{id}":        {{"/v1/geofences/square", false}},
	"/v1/geofences/{id}/inside": {{"/v1/geofences/square/inside", true}},
	"/v1/containers": {
		{"/v1/containers?facility=nbct-yard-c&count=true", true},
		{"/v1/containers?facility=nbct-yard-c&at=2026-11-20T01:00:00Z", true},
		{"/v1/containers?dwell_gt=1h&count=true", true},
	},
	"/v1/customs/holds":    {{"/v1/customs/holds", true}},
	"/v1/customs/released": {{"/v1/customs/released", true}},
}

// logisticsTestedElsewhere are the routes open to logistics callers whose
// answers do not end (a stream) or are not GETs, with the test that checks
// what a logistics caller gets from them.
var logisticsTestedElsewhere = map[string]string{
	"/v1/stream":       "TestStreamTenantScope",
	"/v1/stream/token": "TestStreamToken",
}

// TestLogisticsEveryRoute walks every registered route as tenant A: routes
// under /v1/containers/{id} answer 404 for tenant B's box; the GET of every
// route open to logistics callers (logisticsRoutes) answers 200 to each of
// its logisticsSamples without naming B's boxes or the truck carrying one
// (when the port's answer names them: the check is not empty); /v2 is
// checked by the DCSA tests; every other non-public route answers 403, so a
// route added later stays closed to logistics callers until it filters by
// tenant and has samples here.
func TestLogisticsEveryRoute(t *testing.T) {
	f := newDCSAFixture(t, false)
	f.addTenantYard(t)
	foreign := append(append(slices.Clone(boxesB), yardB...), plateB, plateEmpty)
	n := 0
	for _, r := range f.srv.router.routes {
		if r.public || strings.HasPrefix(r.pattern, "/v2/") {
			continue
		}
		if test, ok := logisticsTestedElsewhere[r.pattern]; ok {
			t.Logf("%s: checked by %s", r.pattern, test)
			continue
		}
		if !strings.HasPrefix(r.pattern, "/v1/containers/{id}") && logisticsRoute(r.pattern) {
			samples := logisticsSamples[r.pattern]
			if len(samples) == 0 {
				t.Errorf("%s is open to logistics callers and has no logisticsSamples", r.pattern)
			}
			for _, sm := range samples {
				code, _, body := f.do(t, "GET", sm.uri, keyA, nil)
				if code != 200 {
					t.Errorf("GET %s as a logistics tenant: %d, want 200: %s", sm.uri, code, body)
				}
				for _, id := range foreign {
					if strings.Contains(string(body), id) {
						t.Errorf("GET %s as tenant A names %s of tenant B: %s", sm.uri, id, body)
					}
				}
				if sm.leaks {
					_, _, all := f.do(t, "GET", sm.uri, keyPort, nil)
					if !slices.ContainsFunc(foreign, func(id string) bool { return strings.Contains(string(all), id) }) {
						t.Errorf("GET %s as the port names none of tenant B's boxes or trucks: the check is empty: %s", sm.uri, all)
					}
				}
				n++
			}
			continue
		}
		path := r.pattern
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + boxesB[0] + path[j+1:]
		}
		want := 403
		if strings.HasPrefix(r.pattern, "/v1/containers/{id}") {
			want = 404
		}
		for m := range r.methods {
			code, _, body := f.do(t, m, path, keyA, nil)
			if code != want {
				t.Errorf("%s %s (%s) as a logistics tenant: %d, want %d: %s", m, path, r.pattern, code, want, body)
			}
			n++
		}
	}
	if n < 20 {
		t.Fatalf("only %d requests checked", n)
	}
	t.Logf("%d requests checked", n)
}

// logisticsRoute reports whether authorize lets a logistics caller use the
// pattern (besides /v1/containers/{id}...).
func logisticsRoute(pattern string) bool {
	for _, p := range logisticsRoutes {
		if pattern == p || strings.HasSuffix(p, "/") && strings.HasPrefix(pattern, p) {
			return true
		}
	}
	return false
}
