package query

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
	"github.com/porttrack/porttrack/state/tenant"
)

// The DCSA fixture: two logistics tenants whose containers are
// interleaved in one stream of events, plus a vessel's port call.
//
//	tenant A (booking BKG-A, transport document TD-A): CSQU3054383, APZU4812090, CICU3789922
//	tenant B (party PARTY-B):                          MSKU9070323, TGHU0436455, CSQU3054300
const (
	keyPort = "test-port-key-0123456789"
	keyA    = "test-tenant-a-key-0123456789"
	keyB    = "test-tenant-b-key-0123456789"
	keyNone = "test-tenant-c-key-0123456789" // logistics, linked to nothing
)

var (
	boxesA = []string{"CSQU3054383", "APZU4812090", "CICU3789922"}
	boxesB = []string{"MSKU9070323", "TGHU0436455", "CSQU3054300"}
)

type dcsaFixture struct {
	store  *portstate.State
	srv    *Server
	client *fasthttp.Client
	t0     time.Time
}

// newDCSAFixture loads the fixture; the store's clock advances one second
// per call so that events have distinct eventCreatedDateTime values.
// Each of opts may change the server's Config.
func newDCSAFixture(t *testing.T, open bool, opts ...func(*Config)) *dcsaFixture {
	t.Helper()
	features, err := geo.ParseFeatureCollection(bytes.NewReader(portmodel.GeoJSON()))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := t0
	store, err := portstate.Open(state.Options{Dir: "db", FS: vfs.NewMem(), PortModel: pm,
		PortCalls: state.PortCallConfig{EventTopic: "porttrack.events", MinDwell: 2 * time.Minute},
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, k := range []struct {
		secret string
		key    tenant.APIKey
	}{
		{keyPort, tenant.APIKey{Tenant: "port", Role: state.RolePort}},
		{keyA, tenant.APIKey{Tenant: "a", Role: state.RoleLogistics, Scope: state.Scope{Bookings: []string{"BKG-A"}, TransportDocs: []string{"TD-A"}}}},
		{keyB, tenant.APIKey{Tenant: "b", Role: state.RoleLogistics, Scope: state.Scope{Parties: []string{"PARTY-B"}}}},
		{keyNone, tenant.APIKey{Tenant: "c", Role: state.RoleLogistics, Scope: state.Scope{Parties: []string{"PARTY-C"}}}},
	} {
		if _, err := store.Tenants.CreateAPIKey(k.secret, k.key); err != nil {
			t.Fatal(err)
		}
	}
	codes := []state.Code{state.CodeGTIN, state.CodeLOAD, state.CodeDISC, state.CodeHOLD, state.CodeINSP, state.CodeGTOT}
	next := int64(0)
	for i, code := range codes {
		var evs []state.Event
		for j := range boxesA {
			for _, box := range []string{boxesA[j], boxesB[j]} {
				e := state.Event{ID: fmt.Sprintf("ev-%s-%d", box, i), Container: box, Code: code,
					Time: t0.Add(time.Duration(i)*time.Hour + time.Duration(j)*time.Minute).UnixNano(), Location: "CNNGB-BLCT", Source: "test"}
				if i == 0 { // the links come with the first event only
					if box == boxesA[j] {
						e.Refs = []state.Ref{{Kind: state.LinkBooking, Value: "BKG-A"}}
						if j == 0 {
							e.Refs = append(e.Refs, state.Ref{Kind: state.LinkTransport, Value: "TD-A"})
						}
					} else {
						e.Refs = []state.Ref{{Kind: state.LinkParty, Value: "PARTY-B"}}
					}
				}
				evs = append(evs, e)
			}
		}
		next++
		if _, err := store.Apply(&state.Batch{Topic: "port.rfid", Next: next, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	// A port call: static data, then approach, berth (ARRI) and leave (DEPA).
	const mmsi = 413000001
	at := func(min int) int64 { return t0.Add(time.Duration(min) * time.Minute).UnixNano() }
	p := func(min int, lat, lon, speed float64) state.VesselReport {
		return state.VesselReport{MMSI: mmsi, Time: at(min), MsgType: 1, HasPosition: true, Lat: lat, Lon: lon,
			Speed: speed, Course: 310, Heading: 309, Turn: state.UnknownTurn,
			ShipType: state.UnknownInt, ToBow: state.UnknownInt, ToStern: state.UnknownInt, ToPort: state.UnknownInt, ToStarbd: state.UnknownInt}
	}
	reports := []state.VesselReport{
		{MMSI: mmsi, Time: at(0), MsgType: 5, IMO: 9321483, Name: "EVER TEST", CallSign: "3FOF8", ShipType: 70,
			ToBow: state.UnknownInt, Speed: state.UnknownFloat, Course: state.UnknownFloat, Heading: state.UnknownInt, Status: state.UnknownInt, Turn: state.UnknownTurn},
		p(1, 29.93000, 121.9000, 8), p(4, 29.93000, 121.9000, 8),
		p(330, 29.93964, 121.86461, 0), p(340, 29.93964, 121.86461, 0),
		p(1000, 29.93000, 121.8800, 9), p(1005, 29.90000, 121.9500, 11),
	}
	for _, r := range reports {
		next++
		if _, err := store.Apply(&state.Batch{Topic: "port.ais", Next: next, Vessels: []state.VesselReport{r}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Store: store, Open: open}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { srv.Shutdown() })
	return &dcsaFixture{store: store, srv: srv, t0: t0,
		client: &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}}
}

// do sends a request with an optional key and returns status, headers and
// body.
func (f *dcsaFixture) do(t *testing.T, method, uri, key string, body []byte) (int, *fasthttp.ResponseHeader, []byte) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://localhost" + uri)
	req.Header.SetMethod(method)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := f.client.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	h := new(fasthttp.ResponseHeader)
	resp.Header.CopyTo(h)
	return resp.StatusCode(), h, bytes.Clone(resp.Body())
}
