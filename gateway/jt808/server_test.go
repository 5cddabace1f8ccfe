package jt808

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/transport"
	"github.com/porttrack/porttrack/state"
	"github.com/segmentio/kafka-go"
)

// fakeProducer records what it is given; gate, when set, holds each call
// until it receives; err fails every call.
type fakeProducer struct {
	mu     sync.Mutex
	msgs   []kafka.Message
	gate   chan struct{}
	called chan struct{}
	err    error
}

func (p *fakeProducer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if p.called != nil {
		p.called <- struct{}{}
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.err != nil {
		return p.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *fakeProducer) values() []kafka.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]kafka.Message{}, p.msgs...)
}

// startServer runs a server on a loopback port until the test ends.
func startServer(t *testing.T, cfg Config, allow map[string]string, prod Producer) (*Server, string) {
	t.Helper()
	store, err := OpenStore(t.TempDir(), allow)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(cfg, store, prod)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, ln.Addr().String()
}

// terminal is the test's client: it writes hand-written frames and reads
// replies with its own unescaping and check-code test.
type terminal struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *terminal {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &terminal{t: t, c: c, br: bufio.NewReader(c)}
}

func (m *terminal) send(frames ...[]byte) {
	m.t.Helper()
	for _, f := range frames {
		if _, err := m.c.Write(f); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *terminal) sendHex(s string) { m.t.Helper(); m.send(unhex(m.t, s)) }

// reply is a platform message as the terminal reads it (2013 header).
type reply struct {
	id     uint16
	serial uint16
	body   []byte
}

func (m *terminal) read() reply {
	m.t.Helper()
	m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := m.br.ReadByte(); err != nil || b != 0x7e {
		m.t.Fatalf("reply start: %x %v", b, err)
	}
	esc, err := m.br.ReadBytes(0x7e)
	if err != nil {
		m.t.Fatalf("reply: %v", err)
	}
	esc = esc[:len(esc)-1]
	var raw []byte
	for i := 0; i < len(esc); i++ {
		if esc[i] == 0x7d {
			i++
			raw = append(raw, 0x7c+esc[i])
			continue
		}
		raw = append(raw, esc[i])
	}
	var cs byte
	for _, c := range raw[:len(raw)-1] {
		cs ^= c
	}
	if cs != raw[len(raw)-1] || len(raw) < 13 {
		m.t.Fatalf("reply % x: bad check code or short", raw)
	}
	if hex.EncodeToString(raw[4:10]) != "013912345678" && hex.EncodeToString(raw[4:10]) != "013900000002" {
		m.t.Fatalf("reply to phone % x", raw[4:10])
	}
	return reply{id: uint16(raw[0])<<8 | uint16(raw[1]), serial: uint16(raw[10])<<8 | uint16(raw[11]), body: raw[12 : len(raw)-1]}
}

// general reads a 0x8001 and checks what it answers.
func (m *terminal) general(serial, id uint16, result byte) {
	m.t.Helper()
	r := m.read()
	want := []byte{byte(serial >> 8), byte(serial), byte(id >> 8), byte(id), result}
	if r.id != 0x8001 || string(r.body) != string(want) {
		m.t.Fatalf("reply %04x % x, want 8001 % x", r.id, r.body, want)
	}
}

// register sends a registration frame and returns the result and code.
func (m *terminal) register(frame string) (byte, string) {
	m.t.Helper()
	m.sendHex(frame)
	r := m.read()
	if r.id != 0x8100 || len(r.body) < 3 || r.body[0] != 0 || r.body[1] != 1 {
		m.t.Fatalf("registration reply %04x % x", r.id, r.body)
	}
	return r.body[2], string(r.body[3:])
}

func (m *terminal) authenticate(code string, serial uint16) {
	m.t.Helper()
	m.send(wireFrame(m.t, "0102"+hex.EncodeToString([]byte{0, byte(len(code))})+"013912345678"+
		hex.EncodeToString([]byte{byte(serial >> 8), byte(serial)})+hex.EncodeToString([]byte(code))))
}

func decodeRecords(t *testing.T, msgs []kafka.Message) []state.TruckReport {
	t.Helper()
	var b state.Batch
	d := transport.NewDecoder()
	for _, m := range msgs {
		ignored, err := d.Decode(&b, m.Value)
		if err != nil {
			t.Fatalf("the engine's decoder refuses %s: %v", m.Value, err)
		}
		if strings.Contains(string(m.Value), `"truck.position"`) != (ignored == "") {
			t.Fatalf("record %s: ignored %q", m.Value, ignored)
		}
		if m.Topic != "port.transport" || string(m.Key) != "浙B12345" {
			t.Fatalf("record %s on %s keyed %q", m.Value, m.Topic, m.Key)
		}
	}
	return b.Trucks
}

func TestServerSession(t *testing.T) {
	prod := &fakeProducer{}
	s, addr := startServer(t, Config{}, nil, prod)
	m := dial(t, addr)

	result, code := m.register(hexRegister2013)
	if result != RegisterOK || len(code) == 0 {
		t.Fatalf("registration result %d code %q", result, code)
	}
	m.sendHex(hexLocation) // before authentication
	m.general(3, IDLocation, ResultFailure)
	m.authenticate(code, 2)
	m.general(2, IDAuth, ResultOK)

	m.sendHex(hexLocation)
	m.general(3, IDLocation, ResultOK)
	trucks := decodeRecords(t, prod.values())
	if len(trucks) != 1 || trucks[0].Plate != "浙B12345" || trucks[0].Lat != 29.9339 || trucks[0].SpeedKmh != 12.5 || trucks[0].Heading != 90 {
		t.Fatalf("trucks %+v", trucks)
	}

	bad := unhex(t, hexLocation)
	bad[len(bad)-2] ^= 1
	m.send(bad)
	m.sendHex(hexHeartbt) // the connection goes on after a bad check code
	m.general(7, IDHeartbeat, ResultOK)
	if got := s.Metrics.Snapshot().Malformed; got != 1 {
		t.Fatalf("malformed %d, want 1", got)
	}

	m.sendHex(hexBatch)
	m.general(4, IDBatchLocation, ResultOK)
	msgs := prod.values()
	if trucks := decodeRecords(t, msgs); len(trucks) != 3 {
		t.Fatalf("%d trucks after the batch, want 3", len(trucks))
	}
	if last := string(msgs[len(msgs)-1].Value); !strings.Contains(last, `"kind":"truck_alarm"`) || !strings.Contains(last, `"alarm":"emergency"`) {
		t.Fatalf("last record %s, want the emergency alarm", last)
	}

	m.sendHex(hexSplit1)
	m.sendHex(hexSplit2)
	m.general(6, IDLocation, ResultOK)
	if trucks := decodeRecords(t, prod.values()); len(trucks) != 4 || trucks[3].Lat != 29.935 {
		t.Fatalf("trucks after the split message %+v", trucks)
	}

	m.sendHex(hexUnknown)
	m.general(8, 0x0900, ResultUnsupported)
	snap := s.Metrics.Snapshot()
	if snap.Unsupported != 1 || snap.Reassembled != 1 || snap.Locations != 4 || snap.Produced != 5 || snap.Alarms != 1 {
		t.Fatalf("metrics %+v", snap)
	}
}

func TestServerSecondDeviceSamePlate(t *testing.T) {
	for _, c := range []struct {
		name  string
		allow map[string]string
		want  byte
	}{
		{"no allow-list", nil, RegisterPlateTaken},
		{"allow-list", map[string]string{"13912345678": "浙B12345"}, RegisterNoSuchDevice},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, addr := startServer(t, Config{}, c.allow, &fakeProducer{})
			if r, _ := dial(t, addr).register(hexRegister2013); r != RegisterOK {
				t.Fatalf("first device: result %d", r)
			}
			if r, code := dial(t, addr).register(hexRegisterSecond); r != c.want || code != "" {
				t.Fatalf("second device: result %d code %q, want %d", r, code, c.want)
			}
			if got := s.Metrics.Snapshot().RefusedRegistrations; got != 1 {
				t.Fatalf("refused %d", got)
			}
		})
	}
}

// TestServerAcksOnlyAfterBroker: the reply to a location waits for the
// producer, and a failed produce is answered as a failure.
func TestServerAcksOnlyAfterBroker(t *testing.T) {
	prod := &fakeProducer{gate: make(chan struct{}), called: make(chan struct{}, 1)}
	s, addr := startServer(t, Config{}, nil, prod)
	m := dial(t, addr)
	_, code := m.register(hexRegister2013)
	m.authenticate(code, 2)
	m.general(2, IDAuth, ResultOK)
	m.sendHex(hexLocation)
	<-prod.called
	m.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := m.br.ReadByte(); err == nil {
		t.Fatal("a reply arrived before the broker acknowledged")
	}
	prod.gate <- struct{}{}
	m.general(3, IDLocation, ResultOK)

	prod.err = errors.New("broker down")
	m.sendHex(hexLocation)
	<-prod.called
	prod.gate <- struct{}{}
	m.general(3, IDLocation, ResultFailure)
	if got := s.Metrics.Snapshot().ProduceErrors; got != 1 {
		t.Fatalf("produce errors %d", got)
	}
}

func TestServerLimits(t *testing.T) {
	_, addr := startServer(t, Config{MaxConnsPerIP: 1, IdleTimeout: 200 * time.Millisecond, MaxFrame: 64}, nil, &fakeProducer{})
	first := dial(t, addr)
	first.sendHex(hexHeartbt)
	first.general(7, IDHeartbeat, ResultOK) // admitted
	second := dial(t, addr)
	second.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := second.br.ReadByte(); err == nil {
		t.Fatal("a second connection from one IP was served over the limit of 1")
	}
	// An oversize frame is skipped up to its end; the next frame is served.
	first.send(append(append([]byte{0x7e}, make([]byte, 500)...), 0x7e))
	first.sendHex(hexHeartbt)
	first.general(7, IDHeartbeat, ResultOK)
	// Idle: the server closes the connection.
	first.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := first.br.ReadByte(); err == nil {
		t.Fatal("idle connection not closed")
	}
}
