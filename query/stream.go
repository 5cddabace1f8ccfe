package query

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/truck"
)

// GET /v1/stream?kinds=vessels,trucks,containers,trains,alerts,customs&bbox=minLon,minLat,maxLon,maxLat
//
// Server-Sent Events: one "data:" line per event, a JSON object with kind,
// id, time (when the change was applied, RFC 3339) and the object's
// current fields as its own endpoint returns them (/v1/vessels/{id},
// /v1/trucks/{plate}, /v1/containers/{id}, /v1/trains/{id}; "customs" is
// the container's answer too), without a second "id"; an alert's record,
// as published on its Kafka topic, is the member "alert". SSE rather than WebSocket: the stream flows one way,
// SSE is plain HTTP (proxies, curl, the CORS and authentication of every
// other route apply unchanged), and browsers reconnect by themselves,
// sending the last "id:" back as Last-Event-ID. See stream_hub.go for the
// ring, coalescing and positions.
//
// A client first gets a snapshot: a {"kind":"reset"} event, then every
// vessel and truck in its box (containers, trains and customs states are
// read from their lists; the stream then sends their changes). A
// Last-Event-ID that the ring still covers continues without a snapshot.
// Vessels, trucks, containers (by their position or their facility) and
// trains (by their departure station) are filtered by bbox; alerts and
// customs changes are not (they are a feed). An object that leaves the box
// is not sent again until it comes back: clients age out markers.

// StreamConfig configures /v1/stream.
type StreamConfig struct {
	// MaxClients bounds concurrent streams; beyond it a request answers
	// 503. Default 1000.
	MaxClients int
	// Ring is how many changed objects the hub holds (about 100 bytes
	// each, shared by all clients). A client further behind than this gets
	// a snapshot. Default 65536.
	Ring int
	// Stall drops a client whose connection accepts nothing for this long
	// (its kernel buffers full): a client that does not read costs no more
	// than its buffers. Default 10s.
	Stall time.Duration
	// Heartbeat is the interval of comment lines that keep proxies from
	// closing an idle stream. Default 15s.
	Heartbeat time.Duration
	// Flush is how long a client waits after a change before it writes, so
	// that changes of one object in that time are one event. Default 250ms.
	Flush time.Duration
	// TokenTTL is the lifetime of a stream token (POST /v1/stream/token).
	// Default 60s.
	TokenTTL time.Duration
	// TokenSecret signs stream tokens; nil: 32 random bytes per process
	// (a token then works only on the node that issued it).
	TokenSecret []byte
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.MaxClients == 0 {
		c.MaxClients = 1000
	}
	if c.Ring == 0 {
		c.Ring = 1 << 16
	}
	if c.Stall == 0 {
		c.Stall = 10 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Flush == 0 {
		c.Flush = 250 * time.Millisecond
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = time.Minute
	}
	return c
}

// Validate checks the settings.
func (c StreamConfig) Validate() error {
	switch {
	case c.MaxClients < 0, c.Ring < 0, c.Stall < 0, c.Heartbeat < 0, c.Flush < 0, c.TokenTTL < 0:
		return errors.New("query: stream settings may not be negative")
	case c.Ring > 1<<24:
		return errors.New("query: stream ring: at most 16777216 changes")
	case c.TokenTTL > time.Hour:
		return errors.New("query: stream token lifetime: at most 1h")
	case c.TokenSecret != nil && len(c.TokenSecret) < 32:
		return errors.New("query: stream token secret: at least 32 bytes")
	}
	return nil
}

func (s *Server) streamRoutes() []route {
	return []route{
		{pattern: "/v1/stream", token: true, methods: map[string]handler{"GET": s.stream}},
		{pattern: "/v1/stream/token", methods: map[string]handler{"POST": s.streamToken}},
	}
}

// kindSet is a set of state.ChangeKind as bits.
type kindSet uint8

func (k kindSet) has(c state.ChangeKind) bool { return k&(1<<c) != 0 }

var streamKinds = []struct {
	param string
	kind  state.ChangeKind
	name  string // the event's kind
}{
	{"vessels", state.ChangeVessel, "vessel"},
	{"trucks", state.ChangeTruck, "truck"},
	{"containers", state.ChangeContainer, "container"},
	{"trains", state.ChangeTrain, "train"},
	{"alerts", state.ChangeAlert, "alert"},
	{"customs", state.ChangeCustoms, "customs"},
}

func kindName(k state.ChangeKind) string {
	for _, sk := range streamKinds {
		if sk.kind == k {
			return sk.name
		}
	}
	return "unknown"
}

// streamAllowed reports whether who may receive kind: a logistics caller
// gets neither trucks nor trains, as /v1/trucks and /v1/trains refuse it.
func streamAllowed(who Principal, k state.ChangeKind) bool {
	return who.SeesAll() || (k != state.ChangeTruck && k != state.ChangeTrain)
}

func parseKinds(ctx *fasthttp.RequestCtx, who Principal) (kindSet, bool) {
	v := ctx.QueryArgs().Peek("kinds")
	var set kindSet
	if len(v) == 0 {
		for _, sk := range streamKinds {
			if streamAllowed(who, sk.kind) {
				set |= 1 << sk.kind
			}
		}
		return set, true
	}
next:
	for _, p := range strings.Split(string(v), ",") {
		for _, sk := range streamKinds {
			if p == sk.param {
				if !streamAllowed(who, sk.kind) {
					writeError(ctx, fasthttp.StatusForbidden, "forbidden", "role "+string(who.Role)+" may not stream "+p)
					return 0, false
				}
				set |= 1 << sk.kind
				continue next
			}
		}
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("kinds: %.40q is not one of vessels, trucks, containers, trains, alerts, customs", p))
		return 0, false
	}
	return set, true
}

// bbox is a box in degrees; the zero box (all == false) holds everything.
type bbox struct {
	minLon, minLat, maxLon, maxLat float64
	set                            bool
}

func (b *bbox) has(lat, lon float64) bool {
	return !b.set || lat >= b.minLat && lat <= b.maxLat && lon >= b.minLon && lon <= b.maxLon
}

func parseBBox(ctx *fasthttp.RequestCtx) (bbox, bool) {
	v := ctx.QueryArgs().Peek("bbox")
	if len(v) == 0 {
		return bbox{}, true
	}
	parts := strings.Split(string(v), ",")
	var f [4]float64
	ok := len(parts) == 4
	for i := 0; ok && i < 4; i++ {
		var err error
		f[i], err = strconv.ParseFloat(parts[i], 64)
		ok = err == nil && !math.IsNaN(f[i]) && !math.IsInf(f[i], 0)
	}
	b := bbox{f[0], f[1], f[2], f[3], true}
	if !ok || b.minLon < -180 || b.maxLon > 180 || b.minLat < -90 || b.maxLat > 90 || b.minLon > b.maxLon || b.minLat > b.maxLat {
		writeError(ctx, fasthttp.StatusBadRequest, "bad_parameter", fmt.Sprintf("bbox: want minLon,minLat,maxLon,maxLat in degrees (for example 121.75,29.85,122.10,30.05), got %.100q", v))
		return bbox{}, false
	}
	return b, true
}

// stream answers GET /v1/stream.
func (s *Server) stream(ctx *fasthttp.RequestCtx, r *request) {
	kinds, ok := parseKinds(ctx, r.who)
	if !ok {
		return
	}
	box, ok := parseBBox(ctx)
	if !ok {
		return
	}
	var from position
	resume := false
	if id := ctx.Request.Header.Peek("Last-Event-ID"); len(id) > 0 {
		p, err := parsePosition(string(id))
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "bad_last_event_id", "Last-Event-ID: "+err.Error())
			return
		}
		from, resume = p, true
	}
	if n := s.hub.clients.Add(1); n > int64(s.cfg.Stream.MaxClients) {
		s.hub.clients.Add(-1)
		s.hub.refused.Add(1)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "5")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "too_many_streams", fmt.Sprintf("this server already serves %d streams (stream.max_clients)", s.cfg.Stream.MaxClients))
		return
	}
	h := &ctx.Response.Header
	h.SetContentType("text/event-stream; charset=utf-8")
	h.Set(fasthttp.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	if ctx.IsHead() {
		s.hub.clients.Add(-1)
		return
	}
	// The connection is kept (not the context) for its write deadlines:
	// fasthttp set one deadline for the whole response, which a stream
	// outlives; the body writer below runs before the connection is reused.
	c := &streamClient{s: s, who: r.who, kinds: kinds, box: box, conn: ctx.Conn()}
	if r.who.Scope != nil {
		sc := *r.who.Scope // the principal's scope outlives the request
		c.who.Scope = &sc
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.hub.clients.Add(-1)
		c.run(w, from, resume)
	})
}

// streamPass bounds the entries a client reads from the ring at a time:
// its coalescing map and its copy of entries hold at most this many.
const streamPass = 1024

type objKey struct {
	kind state.ChangeKind
	id   string
}

// streamClient is one stream's state, owned by its writer goroutine.
type streamClient struct {
	s     *Server
	who   Principal
	kinds kindSet
	box   bbox
	conn  net.Conn // for write deadlines; nil in tests without one

	cursor    uint64
	pos       position
	skip      position // after a resume: what the client had already
	skipUntil uint64   // ... for entries before this sequence number
	entries   []ringEntry
	latest    map[objKey]int
	order     []int
	ready     []readyEvent
	buf       []byte
	lastID    string
	ictx      fasthttp.RequestCtx // renders through the API's own handlers
	blocked   time.Time           // start of the write in progress
}

// errStalled ends a client whose writes did not progress for Stall.
var errStalled = errors.New("stream client stalled")

func (c *streamClient) run(w *bufio.Writer, from position, resume bool) {
	h := c.s.hub
	c.entries = make([]ringEntry, 0, streamPass)
	c.latest = make(map[objKey]int, 64)
	err := c.loop(w, from, resume)
	if err != nil && !errors.Is(err, errClosed) {
		if time.Since(c.blocked) >= c.s.cfg.Stream.Stall/2 {
			h.dropped.Add(1)
		}
	}
}

var errClosed = errors.New("stream closed")

func (c *streamClient) loop(w *bufio.Writer, from position, resume bool) error {
	h := c.s.hub
	cfg := &c.s.cfg.Stream
	c.deadline()
	if _, err := w.WriteString("retry: 3000\n\n"); err != nil {
		return err
	}
	ok := false
	if resume {
		c.cursor, c.skipUntil, ok = h.resume(from)
		if ok {
			c.pos, c.skip = from, from
		}
	}
	if !ok {
		if err := c.snapshot(w); err != nil {
			return err
		}
	}
	beat := time.NewTimer(cfg.Heartbeat)
	defer beat.Stop()
	// An idle stream, too, ends soon after its key is revoked.
	keyCheck := time.NewTicker(keyCheckEvery)
	defer keyCheck.Stop()
	var flush *time.Timer
	for {
		entries, next, wake, lost := h.read(c.cursor, c.entries)
		if lost {
			if err := c.snapshot(w); err != nil {
				return err
			}
			continue
		}
		if len(entries) > 0 {
			// Nothing more for a key revoked since the stream opened.
			if err := c.keyStands(); err != nil {
				return err
			}
			if err := c.pass(w, entries); err != nil {
				return err
			}
			c.cursor = next
			if len(entries) == cap(c.entries) {
				continue // more waiting
			}
		}
		if err := c.writeID(w); err != nil {
			return err
		}
		if err := c.flush(w); err != nil {
			return err
		}
		select {
		case <-wake:
			// Let changes gather: one event per object per Flush.
			if flush == nil {
				flush = time.NewTimer(cfg.Flush)
			} else {
				flush.Reset(cfg.Flush)
			}
			select {
			case <-flush.C:
			case <-h.done:
				return errClosed
			}
		case <-keyCheck.C:
			if err := c.keyStands(); err != nil {
				return err
			}
		case <-beat.C:
			c.deadline()
			if _, err := w.WriteString(": heartbeat\n\n"); err != nil {
				return err
			}
			if err := c.flush(w); err != nil {
				return err
			}
			beat.Reset(cfg.Heartbeat)
		case <-h.done:
			return errClosed
		}
	}
}

// keyCheckEvery bounds how long an idle stream outlives the revocation of
// its key; a stream with changes to send checks before each pass.
const keyCheckEvery = 5 * time.Second

// errKeyRevoked ends a stream whose key was revoked (or changed tenant or
// role) after it opened.
var errKeyRevoked = errors.New("stream: its API key was revoked")

// keyStands returns errKeyRevoked unless the stream's key (none on the open
// API) is still stored with the tenant and role it had when the stream
// opened.
func (c *streamClient) keyStands() error {
	if c.who.KeyID == "" {
		return nil
	}
	k, err := c.s.cfg.Store.Tenants.APIKeyByID(c.who.KeyID)
	if errors.Is(err, state.ErrNotFound) || (err == nil && (k.Tenant != c.who.Tenant || Role(k.Role) != c.who.Role)) {
		c.s.log.Info("stream ended: its API key was revoked", "key", c.who.KeyID)
		return errKeyRevoked
	}
	return err
}

func (c *streamClient) deadline() {
	c.blocked = time.Now()
	if c.conn != nil {
		_ = c.conn.SetWriteDeadline(c.blocked.Add(c.s.cfg.Stream.Stall))
	}
}

func (c *streamClient) flush(w *bufio.Writer) error {
	c.deadline()
	return w.Flush()
}

// pass writes the newest state of each object changed in entries.
func (c *streamClient) pass(w *bufio.Writer, entries []ringEntry) error {
	clear(c.latest)
	c.order = c.order[:0]
	for i := range entries {
		e := &entries[i]
		seq := c.cursor + uint64(i)
		if c.pos == nil {
			c.pos = position{}
		}
		if seq < c.skipUntil {
			if n, ok := c.skip[e.at]; ok && e.next <= n {
				continue // sent before the client resumed
			}
		}
		if e.next > c.pos[e.at] {
			c.pos[e.at] = e.next
		}
		if !c.kinds.has(e.kind) {
			continue
		}
		k := objKey{e.kind, e.id}
		if e.kind == state.ChangeAlert {
			c.order = append(c.order, i) // every alert is its own event
			continue
		}
		if j, ok := c.latest[k]; ok {
			c.order[j] = -1
		}
		c.latest[k] = len(c.order)
		c.order = append(c.order, i)
	}
	if c.skipUntil != 0 && c.cursor+uint64(len(entries)) >= c.skipUntil {
		c.skip, c.skipUntil = nil, 0
	}
	// What to send is decided with a slot of hub.render (the stream's share
	// of the processor); the writes, which wait for the client, without.
	h := c.s.hub
	select {
	case h.render <- struct{}{}:
	case <-h.done:
		return errClosed
	}
	c.ready = c.ready[:0]
	for _, i := range c.order {
		if i >= 0 {
			if r, ok := c.prepare(&entries[i]); ok {
				c.ready = append(c.ready, readyEvent{&entries[i], r})
			}
		}
	}
	<-h.render
	for n := range c.ready {
		if n%64 == 0 {
			c.deadline()
		}
		if err := c.write(w, &c.ready[n]); err != nil {
			return err
		}
	}
	clear(c.ready) // let renderings go
	return nil
}

// readyEvent is an event a pass will send: the change and, but for
// alerts, the object's rendering.
type readyEvent struct {
	e *ringEntry
	r *rendered
}

// writeID writes the client's position as the SSE id when it moved.
func (c *streamClient) writeID(w *bufio.Writer) error {
	id := c.pos.String()
	if id == c.lastID {
		return nil
	}
	c.lastID = id
	_, err := fmt.Fprintf(w, "id: %s\n\n", id)
	return err
}

// snapshot sends a reset and every vessel and truck in the box, and moves
// the client to the ring's head.
func (c *streamClient) snapshot(w *bufio.Writer) error {
	h := c.s.hub
	h.snapshot.Add(1)
	c.cursor, c.pos, _ = h.start()
	c.skip, c.skipUntil = nil, 0
	now := c.s.now()
	c.buf = c.head(c.buf[:0], "reset", "", now)
	c.buf = append(c.buf[:len(c.buf)-1], '}')
	if err := c.send(w); err != nil {
		return err
	}
	n := 0
	st := c.s.cfg.Store
	var werr error
	if c.kinds.has(state.ChangeVessel) {
		err := st.EachVessel(func(v *state.Vessel) error {
			if !v.HasPosition || !c.box.has(v.Lat, v.Lon) {
				return nil
			}
			if n++; n%64 == 0 {
				c.deadline()
			}
			c.buf = appendVessel(c.head(c.buf[:0], "vessel", strconv.FormatUint(uint64(v.MMSI), 10), now), v, -1)
			werr = c.sendObject(w)
			return werr
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			c.s.log.Error("stream snapshot: vessels", "err", err)
		}
	}
	if c.kinds.has(state.ChangeTruck) {
		err := st.Trucks.Each(func(t *truck.Truck) error {
			if !c.box.has(t.Lat, t.Lon) {
				return nil
			}
			if n++; n%64 == 0 {
				c.deadline()
			}
			c.buf = appendTruck(c.head(c.buf[:0], "truck", t.Plate, now), t, -1)
			werr = c.sendObject(w)
			return werr
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			c.s.log.Error("stream snapshot: trucks", "err", err)
		}
	}
	if err := c.writeID(w); err != nil {
		return err
	}
	return c.flush(w)
}

// head starts an event: {"kind":..,"id":..,"time":.., with the object's
// fields to follow (appended from a '{'-started object: see sendObject).
func (c *streamClient) head(b []byte, kind, id string, t int64) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, kind)
	b = append(b, `,"id":`...)
	b = appendString(b, id)
	b = append(b, `,"time":`...)
	b = appendTime(b, t)
	return append(b, ',')
}

// sendObject joins the head and the object appended after it ("," then
// "{...}") into one object and sends it. The object's own leading "id"
// member (containers, trains: the same value as the event's) is left out so
// that no key appears twice.
func (c *streamClient) sendObject(w *bufio.Writer) error {
	i := bytes.Index(c.buf, []byte(",{"))
	if i < 0 {
		return nil
	}
	obj := c.buf[i+1:]
	rest := obj[1:]
	if r, ok := bytes.CutPrefix(rest, []byte(`"id":"`)); ok {
		if j := stringEnd(r); j >= 0 {
			rest = bytes.TrimPrefix(r[j+1:], []byte(","))
		}
	}
	if len(rest) == 1 { // "}": nothing more than the head
		c.buf = append(c.buf[:i], '}')
	} else {
		c.buf = append(c.buf[:i+1], rest...)
	}
	return c.send(w)
}

// stringEnd returns the index of the quote ending a JSON string whose
// opening quote precedes b, or -1.
func stringEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func (c *streamClient) send(w *bufio.Writer) error {
	if _, err := w.WriteString("data: "); err != nil {
		return err
	}
	if _, err := w.Write(c.buf); err != nil {
		return err
	}
	_, err := w.WriteString("\n\n")
	if err == nil {
		c.s.hub.events.Add(1)
	}
	return err
}

// prepare decides whether the client gets the change e (it may see the
// object, the object is in its box) and returns the object's rendering
// (nil for an alert).
func (c *streamClient) prepare(e *ringEntry) (*rendered, bool) {
	if e.kind == state.ChangeAlert {
		return nil, c.alertVisible(e.body)
	}
	if (e.kind == state.ChangeContainer || e.kind == state.ChangeCustoms) && !c.who.SeesAll() {
		if ok, err := c.s.cfg.Store.Tenants.Visible(e.id, c.who.scope()); err != nil || !ok {
			return nil, false
		}
	}
	r := c.object(e)
	if !r.ok || c.box.set && e.kind != state.ChangeCustoms && (!r.hasPos || !c.box.has(r.lat, r.lon)) {
		return nil, false
	}
	return r, true
}

// write sends a prepared event.
func (c *streamClient) write(w *bufio.Writer, ev *readyEvent) error {
	e := ev.e
	name := kindName(e.kind)
	if e.kind == state.ChangeAlert {
		// Nested: the alert's own kind, id and time keep their names.
		c.buf = append(c.head(c.buf[:0], name, e.id, e.time), `{"alert":`...)
		c.buf = append(append(c.buf, e.body...), '}')
		return c.sendObject(w)
	}
	c.buf = append(c.head(c.buf[:0], name, e.id, e.time), ev.r.body...)
	return c.sendObject(w)
}

// render runs one of the API's handlers for the client and returns the
// body of a 200 answer. The body is the client's scratch context's: valid
// until the next render.
func (c *streamClient) render(h func(ctx *fasthttp.RequestCtx)) ([]byte, bool) {
	ctx := &c.ictx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.SetRequestURI("/")
	h(ctx)
	return ctx.Response.Body(), ctx.Response.StatusCode() == fasthttp.StatusOK
}

func parseMMSI(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// alertVisible reports whether the client may see an alert: a connection
// alert when it may see the container; a geofence alert when the fence is
// its tenant's, or the port model's and it may see the object.
func (c *streamClient) alertVisible(body []byte) bool {
	if c.who.SeesAll() {
		return true
	}
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return false
	}
	box := string(v.GetStringBytes("container"))
	if string(v.GetStringBytes("kind")) == "geofence" {
		tenant := string(v.GetStringBytes("tenant"))
		if tenant != "" {
			return tenant == c.who.Tenant
		}
		switch string(v.GetStringBytes("object", "type")) {
		case "vessel":
			return true
		case "container":
			box = string(v.GetStringBytes("object", "id"))
		default:
			return false
		}
	}
	if box == "" {
		return false
	}
	ok, err := c.s.cfg.Store.Tenants.Visible(box, c.who.scope())
	return err == nil && ok
}

// writeStreamMetrics writes the stream's gauges and counters.
func (h *hub) writePrometheus(w io.Writer) {
	fmt.Fprintf(w, "# HELP porttrack_stream_clients Open /v1/stream connections.\n# TYPE porttrack_stream_clients gauge\nporttrack_stream_clients %d\n", h.clients.Load())
	fmt.Fprintf(w, "# HELP porttrack_stream_events_total Events sent on /v1/stream.\n# TYPE porttrack_stream_events_total counter\nporttrack_stream_events_total %d\n", h.events.Load())
	fmt.Fprintf(w, "# HELP porttrack_stream_dropped_total Stream clients dropped because they stopped reading (stream.stall).\n# TYPE porttrack_stream_dropped_total counter\nporttrack_stream_dropped_total %d\n", h.dropped.Load())
	fmt.Fprintf(w, "# HELP porttrack_stream_refused_total Stream requests refused 503 beyond stream.max_clients.\n# TYPE porttrack_stream_refused_total counter\nporttrack_stream_refused_total %d\n", h.refused.Load())
	fmt.Fprintf(w, "# HELP porttrack_stream_snapshots_total Snapshots sent to stream clients (at connection, or after falling behind the ring).\n# TYPE porttrack_stream_snapshots_total counter\nporttrack_stream_snapshots_total %d\n", h.snapshot.Load())
}
