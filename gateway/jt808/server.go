package jt808

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Producer writes records and returns once the broker acknowledged them
// (a kafka.Writer with RequiredAcks RequireAll and Async false).
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config of a Server.
type Config struct {
	Topic          string        // topic of the records; "" means port.transport
	MaxConns       int           // connections at once; 0 means 20000
	MaxConnsPerIP  int           // connections at once from one remote IP; 0 means 1000
	IdleTimeout    time.Duration // no whole frame for this long closes the connection; 0 means 3m
	WriteTimeout   time.Duration // replies; 0 means 10s
	ProduceTimeout time.Duration // waiting for the broker's ack; 0 means 10s
	MaxFrame       int           // escaped bytes of one frame; 0 means 2200
	MaxPending     int           // split messages being assembled per connection; 0 means 2
	MaxPackets     int           // packets of one split message; 0 means 16
	Logger         *slog.Logger
	// ObserveAck, when set, is called with the time from a location
	// frame's arrival to the broker's acknowledgement of its records (the
	// bench's exact percentiles). It must be safe for concurrent use.
	ObserveAck func(time.Duration)
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = "port.transport"
	}
	if c.MaxConns == 0 {
		c.MaxConns = 20000
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 1000
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 3 * time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	if c.MaxFrame == 0 {
		// 1023 body bytes, a 2019 header with split fields (21) and the
		// check code, escaped in the worst case, and the delimiters.
		c.MaxFrame = 2200
	}
	// At most 2 × 16 × 1023 bytes of split bodies per connection.
	if c.MaxPending == 0 {
		c.MaxPending = 2
	}
	if c.MaxPackets == 0 {
		c.MaxPackets = 16
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Validate reports a setting out of its range.
func (c Config) Validate() error {
	switch {
	case c.MaxConns < 0, c.MaxConnsPerIP < 0, c.MaxPending < 0, c.MaxPackets < 0:
		return errors.New("jt808: connection and split limits must not be negative")
	case c.IdleTimeout < 0, c.WriteTimeout < 0, c.ProduceTimeout < 0:
		return errors.New("jt808: timeouts must not be negative")
	case c.MaxFrame != 0 && c.MaxFrame < 64:
		return fmt.Errorf("jt808: max frame %d is below 64 bytes", c.MaxFrame)
	}
	return nil
}

// Server is the gateway's TCP side.
type Server struct {
	cfg     Config
	store   *Store
	prod    Producer
	Metrics *Metrics
	wg      sync.WaitGroup
	mu      struct {
		sync.Mutex
		conns map[net.Conn]struct{}
		perIP map[string]int
	}
}

// NewServer returns a server that registers terminals in store and
// produces their records with prod.
func NewServer(cfg Config, store *Store, prod Producer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg.withDefaults(), store: store, prod: prod, Metrics: newMetrics()}
	s.mu.conns = map[net.Conn]struct{}{}
	s.mu.perIP = map[string]int{}
	return s, nil
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection and waits for their goroutines.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.mu.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	defer s.wg.Wait()
	var tempDelay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				// Out of descriptors: back off instead of spinning.
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("accept failed; backing off", "err", err, "delay", tempDelay)
				select {
				case <-time.After(tempDelay):
				case <-ctx.Done():
				}
				continue
			}
			return fmt.Errorf("jt808: accept: %w", err)
		}
		tempDelay = 0
		if !s.admit(c) {
			s.Metrics.refused.Add(1)
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(c)
			newConn(s, c).serve(ctx)
		}()
	}
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

func (s *Server) admit(c net.Conn) bool {
	ip := remoteIP(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mu.conns) >= s.cfg.MaxConns || s.mu.perIP[ip] >= s.cfg.MaxConnsPerIP {
		return false
	}
	s.mu.conns[c] = struct{}{}
	s.mu.perIP[ip]++
	s.Metrics.connections.Add(1)
	s.Metrics.accepted.Add(1)
	return true
}

func (s *Server) release(c net.Conn) {
	c.Close()
	ip := remoteIP(c)
	s.mu.Lock()
	delete(s.mu.conns, c)
	if s.mu.perIP[ip]--; s.mu.perIP[ip] <= 0 {
		delete(s.mu.perIP, ip)
	}
	s.mu.Unlock()
	s.Metrics.connections.Add(-1)
}

// conn is one terminal connection; only its goroutine touches it.
type conn struct {
	s      *Server
	c      net.Conn
	reasm  Reassembler
	serial uint16 // the platform's message serial
	device string // set by a successful authentication
	plate  string
	raw    []byte // scratch: unescaped frame
	out    []byte // scratch: reply frame
	recs   []kafka.Message
}

func newConn(s *Server, c net.Conn) *conn {
	return &conn{s: s, c: c, reasm: Reassembler{MaxPending: s.cfg.MaxPending, MaxPackets: s.cfg.MaxPackets}}
}

func (k *conn) serve(ctx context.Context) {
	br := bufio.NewReaderSize(k.c, 4096)
	frame := make([]byte, 0, 256)
	overflow := false
	k.c.SetReadDeadline(time.Now().Add(k.s.cfg.IdleTimeout))
	for {
		b, err := br.ReadByte()
		if err != nil {
			return // EOF, idle timeout, or closed at shutdown
		}
		if b != flag {
			if len(frame) >= k.s.cfg.MaxFrame {
				overflow = true
				continue
			}
			frame = append(frame, b)
			continue
		}
		switch {
		case overflow:
			k.s.Metrics.malformed.Add(1)
			k.s.Metrics.oversize.Add(1)
		case len(frame) > 0:
			k.c.SetReadDeadline(time.Now().Add(k.s.cfg.IdleTimeout))
			if !k.frame(ctx, frame, time.Now()) {
				return
			}
		}
		frame, overflow = frame[:0], false
	}
}

// frame handles one escaped frame. It returns false when the connection
// must close (a reply could not be written).
func (k *conn) frame(ctx context.Context, esc []byte, received time.Time) bool {
	m := k.s.Metrics
	m.frames.Add(1)
	var err error
	if k.raw, err = Unescape(k.raw[:0], esc); err != nil {
		m.malformed.Add(1)
		return true
	}
	h, body, err := Parse(k.raw)
	if err != nil {
		m.malformed.Add(1)
		return true
	}
	if h.Split() {
		whole, done, err := k.reasm.Add(h, body)
		if err != nil {
			m.malformed.Add(1)
			return true
		}
		if !done {
			return true
		}
		m.reassembled.Add(1)
		body = whole
	}
	return k.message(ctx, h, body, received)
}

func (k *conn) message(ctx context.Context, h Header, body []byte, received time.Time) bool {
	m := k.s.Metrics
	switch h.ID {
	case IDRegister:
		return k.register(h, body)
	case IDAuth:
		a, err := DecodeAuth(body, h.V2019())
		if err != nil {
			m.malformed.Add(1)
			return k.respond(h, ResultBadMessage)
		}
		dev := DeviceID(h.Phone)
		plate, ok := k.s.store.Authenticate(dev, a.Code)
		if !ok {
			m.authFailed.Add(1)
			k.device, k.plate = "", ""
			return k.respond(h, ResultFailure)
		}
		k.device, k.plate = dev, plate
		m.authenticated.Add(1)
		return k.respond(h, ResultOK)
	case IDHeartbeat:
		return k.respond(h, ResultOK)
	case IDLogout:
		k.device, k.plate = "", ""
		return k.respond(h, ResultOK)
	case IDTerminalResponse:
		return true
	case IDLocation:
		if !k.authed(h) {
			return k.respond(h, ResultFailure)
		}
		l, err := DecodeLocation(body)
		if err != nil {
			m.malformed.Add(1)
			return k.respond(h, ResultBadMessage)
		}
		k.recs = k.appendRecords(k.recs[:0], h.Serial, &l)
		return k.produce(ctx, h, received)
	case IDBatchLocation:
		if !k.authed(h) {
			return k.respond(h, ResultFailure)
		}
		b, err := DecodeBatch(body)
		if err != nil {
			m.malformed.Add(1)
			return k.respond(h, ResultBadMessage)
		}
		k.recs = k.recs[:0]
		for i := range b.Locations {
			k.recs = k.appendRecords(k.recs, h.Serial, &b.Locations[i])
		}
		return k.produce(ctx, h, received)
	}
	m.unsupported.Add(1)
	return k.respond(h, ResultUnsupported)
}

// authed reports whether the connection authenticated as h's device.
func (k *conn) authed(h Header) bool {
	if k.device == "" || k.device != DeviceID(h.Phone) {
		k.s.Metrics.unauthenticated.Add(1)
		return false
	}
	return true
}

func (k *conn) register(h Header, body []byte) bool {
	m := k.s.Metrics
	r, err := DecodeRegister(body, h.V2019())
	if err != nil {
		m.malformed.Add(1)
		return k.respond(h, ResultBadMessage)
	}
	auth, err := k.s.store.Register(DeviceID(h.Phone), r.Plate)
	var result byte = RegisterOK
	switch {
	case err == nil:
		m.registered.Add(1)
	case errors.Is(err, ErrPlateTaken):
		result = RegisterPlateTaken
	case errors.Is(err, ErrNotAllowed), errors.Is(err, ErrStoreFull):
		result = RegisterNoSuchDevice
	case errors.Is(err, ErrWrongPlate), errors.Is(err, ErrBadPlate):
		result = RegisterNoSuchVehicle
	default:
		k.s.cfg.Logger.Error("registration not stored", "err", err)
		result = RegisterNoSuchDevice
	}
	if result != RegisterOK {
		m.refusedRegistrations.Add(1)
	}
	k.serial++
	k.out = AppendFrame(k.out[:0], Header{ID: IDRegisterResponse, Phone: h.Phone, Serial: k.serial, Version: h.Version},
		h.V2019(), AppendRegisterResponse(nil, h.Serial, result, auth))
	return k.write()
}

// appendRecords appends the records of one location: its position (when
// the terminal had a fix) and its truck alarms.
func (k *conn) appendRecords(dst []kafka.Message, serial uint16, l *Location) []kafka.Message {
	k.s.Metrics.locations.Add(1)
	id := RecordID(k.device, serial, l.Time)
	key := []byte(k.plate)
	if l.Located() {
		dst = append(dst, kafka.Message{Topic: k.s.cfg.Topic, Key: key, Value: AppendPosition(nil, id, k.plate, l)})
	} else {
		k.s.Metrics.unlocated.Add(1)
	}
	Alarms(l, func(name string) {
		k.s.Metrics.alarms.Add(1)
		dst = append(dst, kafka.Message{Topic: k.s.cfg.Topic, Key: key, Value: AppendAlarm(nil, id, k.plate, name, l)})
	})
	return dst
}

// produce writes k.recs and answers h once the broker acknowledged them;
// on failure it answers ResultFailure so that the terminal sends again.
func (k *conn) produce(ctx context.Context, h Header, received time.Time) bool {
	m := k.s.Metrics
	if len(k.recs) > 0 {
		pctx, cancel := context.WithTimeout(ctx, k.s.cfg.ProduceTimeout)
		err := k.s.prod.WriteMessages(pctx, k.recs...)
		cancel()
		if err != nil {
			m.produceErrors.Add(1)
			k.s.cfg.Logger.Warn("records not produced; terminal told to resend", "device", k.device, "err", err)
			return k.respond(h, ResultFailure)
		}
		m.produced.Add(uint64(len(k.recs)))
		d := time.Since(received)
		m.ack.observe(d)
		if k.s.cfg.ObserveAck != nil {
			k.s.cfg.ObserveAck(d)
		}
	}
	return k.respond(h, ResultOK)
}

// respond writes a platform general response to h.
func (k *conn) respond(h Header, result byte) bool {
	k.serial++
	k.out = AppendFrame(k.out[:0], Header{ID: IDPlatformResponse, Phone: h.Phone, Serial: k.serial, Version: h.Version},
		h.V2019(), AppendResponse(nil, Response{Serial: h.Serial, ID: h.ID, Result: result}))
	return k.write()
}

func (k *conn) write() bool {
	k.c.SetWriteDeadline(time.Now().Add(k.s.cfg.WriteTimeout))
	if _, err := k.c.Write(k.out); err != nil {
		return false
	}
	k.s.Metrics.replies.Add(1)
	return true
}
