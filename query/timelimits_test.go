package query

import (
	"strings"
	"testing"

	"github.com/porttrack/porttrack/state"
)

// TestTimeParamsInRange sends every time parameter of every route a time
// that Unix nanoseconds cannot hold (or a window that ends past the
// range): each is refused 400 naming the supported range instead of
// wrapping around and selecting the wrong events.
func TestTimeParamsInRange(t *testing.T) {
	f := newDCSAFixture(t, false)
	const far, early = "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"
	for _, c := range []struct{ method, uri string }{
		{"GET", "/v1/containers/CSQU3054383/events?from=" + far},
		{"GET", "/v1/containers/CSQU3054383/events?to=" + early},
		{"GET", "/v1/containers/CSQU3054383/events?from=1600-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"},
		{"GET", "/v1/containers/CSQU3054383?at=" + far},
		{"GET", "/v1/containers/CSQU3054383?at=2262-04-12T00:00:00Z"},
		{"GET", "/v1/containers?facility=nbct-gate&at=" + far},
		{"GET", "/v1/vessels/413000001?at=" + far},
		{"GET", "/v1/vessels/413000001/track?from=" + early},
		{"GET", "/v1/trucks/ZA12345?at=" + far},
		{"GET", "/v1/trucks/ZA12345/track?to=" + far},
		{"GET", "/v1/trains?station=S1&from=" + far},
		{"GET", "/v1/trains?station=S1&from=2261-12-31T23:00:00Z&departing_within=24h"},
		{"GET", "/v1/gates/G1/arrivals?from=" + early},
		{"GET", "/v2/events?eventCreatedDateTime:gte=9999-01-01T00:00:00Z"},
		{"GET", "/v2/events?eventCreatedDateTime:lt=" + early},
	} {
		code, _, body := f.do(t, c.method, c.uri, keyPort, nil)
		if code != 400 || !strings.Contains(string(body), state.TimeRange) {
			t.Errorf("%s %s: %d %s, want 400 naming the range %s", c.method, c.uri, code, body, state.TimeRange)
		}
	}
	// Redelivery since a far time, on a subscription of the caller's.
	code, _, body := f.do(t, "POST", "/v2/event-subscriptions", keyA, []byte(`{"callbackUrl":"https://example.com/hook","secret":"`+testSecret+`"}`))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := between(string(body), `"subscriptionID":"`, `"`)
	if code, _, body := f.do(t, "POST", "/v2/event-subscriptions/"+id+"/redeliver?since="+far, keyA, nil); code != 400 || !strings.Contains(string(body), state.TimeRange) {
		t.Errorf("redeliver since %s: %d %s, want 400 naming the range", far, code, body)
	}
	// The edges of the range are accepted.
	for _, uri := range []string{
		"/v1/containers/CSQU3054383/events?from=" + state.MinTime.Format("2006-01-02T15:04:05Z07:00") + "&to=" + state.MaxTime.Format("2006-01-02T15:04:05Z07:00"),
		"/v2/events?eventCreatedDateTime:gte=1678-01-01T00:00:00Z",
	} {
		if code, _, body := f.do(t, "GET", uri, keyPort, nil); code != 200 {
			t.Errorf("GET %s: %d %s, want 200", uri, code, body)
		}
	}
}

// between returns the text of s between the first a and the next b.
func between(s, a, b string) string {
	_, s, _ = strings.Cut(s, a)
	s, _, _ = strings.Cut(s, b)
	return s
}
