package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest/customs"
	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/ingest/transport"
	"github.com/porttrack/porttrack/state"
)

// recordDecoder decodes the records of one partition into a state batch.
// The partition goroutine owns it: a decoder may keep state between records
// (AIS fragments). On error it must leave the batch as it found it.
type recordDecoder interface {
	decode(b *state.Batch, msg *fetch.Record) error
}

// eventDecoder adapts a pure decoder of container events (ingest/rfid).
type eventDecoder struct {
	dec interface {
		Decode(dst []state.Event, value []byte) ([]state.Event, error)
	}
}

func (d eventDecoder) decode(b *state.Batch, msg *fetch.Record) error {
	n := len(b.Events)
	var err error
	b.Events, err = d.dec.Decode(b.Events, msg.Value)
	if err == nil {
		for i := n; i < len(b.Events); i++ {
			if verr := b.Events[i].Validate(); verr != nil {
				err = decode.Errorf(decode.ReasonInvalidEvent, "%v", verr)
				break
			}
		}
	}
	if err != nil {
		b.Events = b.Events[:n]
	}
	return err
}

// Engine consumes the input topics into the store and publishes the store's
// outbox. Run owns every goroutine it starts and returns after they stopped.
type Engine struct {
	cfg   Config
	store *state.Store
	log   *slog.Logger
	// decoders makes the decoder of a partition of each input topic.
	decoders map[string]func() recordDecoder
	dialer   *kafka.Dialer

	mu struct {
		sync.Mutex
		joined     bool                   // a generation (or static assignment) is active
		notReady   string                 // why not ready before any assignment ("" none)
		partitions map[tp]*partitionState // current assignment
	}
	outboxKick chan struct{}
	outboxAge  outboxAge
	metrics    metrics
}

type tp struct {
	topic     string
	partition int32
}

// partitionState is written by the partition's goroutine and read by
// readiness and metrics.
type partitionState struct {
	startHWM atomic.Int64 // high-water mark seen when consumption started; -1 before
	hwm      atomic.Int64 // latest high-water mark seen
	next     atomic.Int64 // next offset to consume (stored)
	caughtUp atomic.Bool
}

// New builds an engine; Run starts it.
func New(cfg Config, store *state.Store) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dec, err := rfid.NewDecoder(rfid.Config{Readers: cfg.Readers})
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:        cfg,
		store:      store,
		log:        cfg.Logger.With("component", "ingest"),
		decoders:   map[string]func() recordDecoder{cfg.Topics.RFID: func() recordDecoder { return eventDecoder{dec} }},
		dialer:     &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, ClientID: "porttrack"},
		outboxKick: make(chan struct{}, 1),
	}
	e.metrics.init()
	if cfg.Topics.AIS != "-" {
		// Validated above: NewDecoder cannot fail on this config.
		e.decoders[cfg.Topics.AIS] = func() recordDecoder {
			d, err := newAISDecoder(cfg.AIS, &e.metrics.ais)
			if err != nil {
				panic(err)
			}
			return d
		}
	}
	if cfg.Topics.Transport != "-" {
		td := transportDecoder{dec: transport.NewDecoder(), m: &e.metrics.transport}
		e.decoders[cfg.Topics.Transport] = func() recordDecoder { return td }
	}
	if cfg.Topics.Customs != "-" {
		cd := customsDecoder{dec: customs.NewDecoder(cfg.Customs), m: &e.metrics.customs}
		e.decoders[cfg.Topics.Customs] = func() recordDecoder { return cd }
	}
	e.mu.partitions = map[tp]*partitionState{}
	return e, nil
}

// Topics returns the input topics.
func (e *Engine) Topics() []string {
	ts := []string{e.cfg.Topics.RFID}
	if e.cfg.Topics.AIS != "-" {
		ts = append(ts, e.cfg.Topics.AIS)
	}
	if e.cfg.Topics.Transport != "-" {
		ts = append(ts, e.cfg.Topics.Transport)
	}
	if e.cfg.Topics.Customs != "-" {
		ts = append(ts, e.cfg.Topics.Customs)
	}
	return ts
}

// Run consumes until ctx is cancelled. It returns nil on cancellation.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.publishOutbox(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.tickCustoms(ctx)
	}()
	var err error
	if e.cfg.GroupID == "" {
		err = e.runStatic(ctx)
	} else {
		err = e.runGroup(ctx)
	}
	cancel()
	wg.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// runGroup joins the consumer group and runs one goroutine per assigned
// partition per generation. Offsets come from the store, never from the
// group; the group's committed offsets only report progress.
func (e *Engine) runGroup(ctx context.Context) error {
	resolved, err := e.resolveTopics(ctx)
	if err != nil {
		return nil // ctx ended
	}
	topics := make([]string, len(resolved))
	for i, t := range resolved {
		topics[i] = t.name
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                e.cfg.GroupID,
		Brokers:           e.cfg.Brokers,
		Dialer:            e.dialer,
		Topics:            topics,
		HeartbeatInterval: e.cfg.HeartbeatInterval,
		SessionTimeout:    e.cfg.SessionTimeout,
		RebalanceTimeout:  e.cfg.RebalanceTimeout,
		JoinGroupBackoff:  e.cfg.JoinGroupBackoff,
		StartOffset:       kafka.FirstOffset,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { e.log.Debug(fmt.Sprintf(msg, args...), "source", "kafka-go") }),
	})
	if err != nil {
		return fmt.Errorf("ingest: consumer group: %w", err)
	}
	defer group.Close()
	go func() {
		<-ctx.Done()
		group.Close()
	}()
	var prev []tp // the assignment last logged
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			// Transient ("Rebalance In Progress", coordinator moves): keep
			// going, or partitions stay unconsumed (KAFKA.md pitfall 4).
			e.log.Warn("consumer group", "err", err)
			e.setAssignment(nil, false)
			continue
		}
		var parts []tp
		for topic, as := range gen.Assignments {
			for _, a := range as {
				parts = append(parts, tp{topic, int32(a.ID)})
			}
		}
		states := e.setAssignment(parts, true)
		for _, p := range parts {
			ps := states[p]
			gen.Start(func(ctx context.Context) {
				e.runPartition(ctx, p, ps, func(next int64) {
					_ = gen.CommitOffsets(map[string]map[int]int64{p.topic: {int(p.partition): next}})
				})
			})
		}
		prev = e.logAssignment(ctx, gen.ID, parts, prev) // after the start: it asks the coordinator
	}
}

// runStatic owns every partition of the input topics without a group.
func (e *Engine) runStatic(ctx context.Context) error {
	topics, err := e.resolveTopics(ctx)
	if err != nil {
		return nil // ctx ended
	}
	var parts []tp
	for _, t := range topics {
		for _, p := range t.partitions {
			parts = append(parts, tp{t.name, p})
		}
	}
	states := e.setAssignment(parts, true)
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runPartition(ctx, p, states[p], nil)
		}()
	}
	wg.Wait()
	return nil
}

type topicPartitions struct {
	name       string
	partitions []int32
}

// resolveTopics returns the input topics that exist, with their partitions.
// A missing input topic is logged and left out (consuming it takes a
// restart once it exists): one absent feed must not stop the others. It
// retries while no broker answers or no input topic exists, and returns an
// error only when ctx ends.
func (e *Engine) resolveTopics(ctx context.Context) ([]topicPartitions, error) {
	retry := newBackoff(e.cfg.ConnectBackoff, e.cfg.ConnectBackoffMax)
	for {
		var found []topicPartitions
		var missing []string
		var lastErr error
		for _, topic := range e.Topics() {
			ps, err := e.lookupPartitions(ctx, topic)
			switch {
			case err == nil && len(ps) > 0:
				found = append(found, topicPartitions{topic, ps})
			case err == nil || errors.Is(err, kafka.UnknownTopicOrPartition):
				missing = append(missing, topic)
			default:
				lastErr = err
			}
		}
		if lastErr == nil && len(found) > 0 {
			for _, t := range missing {
				e.log.Warn("input topic does not exist; not consuming it (restart after creating it)", "topic", t)
			}
			e.setNotReady("")
			return found, nil
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("none of the input topics %q exists", e.Topics())
		}
		d := retry.next()
		e.setNotReady(fmt.Sprintf("looking up the input topics failed, retrying in %s: %v", d, lastErr))
		e.log.Warn("looking up input topics", "err", lastErr, "retry_in", d)
		if !sleep(ctx, d) {
			return nil, ctx.Err()
		}
	}
}

func (e *Engine) lookupPartitions(ctx context.Context, topic string) ([]int32, error) {
	var lastErr error
	for _, b := range e.cfg.Brokers {
		ps, err := e.dialer.LookupPartitions(ctx, "tcp", b, topic)
		if err != nil {
			lastErr = err
			continue
		}
		ids := make([]int32, 0, len(ps))
		for _, p := range ps {
			if p.Topic == topic {
				ids = append(ids, int32(p.ID))
			}
		}
		return ids, nil
	}
	return nil, lastErr
}

func (e *Engine) setAssignment(parts []tp, joined bool) map[tp]*partitionState {
	m := make(map[tp]*partitionState, len(parts))
	for _, p := range parts {
		ps := &partitionState{}
		ps.startHWM.Store(-1)
		m[p] = ps
	}
	e.mu.Lock()
	e.mu.partitions = m
	e.mu.joined = joined
	e.mu.Unlock()
	return m
}

// Ready reports whether this node has its assignment and every assigned
// partition has caught up to the high-water mark seen when it started.
func (e *Engine) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.mu.joined {
		return false
	}
	for _, ps := range e.mu.partitions {
		if !ps.caughtUp.Load() {
			return false
		}
	}
	return true
}

// runPartition consumes one partition until ctx ends, reconnecting after
// errors. commit, if not nil, reports progress to the group.
func (e *Engine) runPartition(ctx context.Context, p tp, ps *partitionState, commit func(int64)) {
	log := e.log.With("topic", p.topic, "partition", p.partition)
	retry := newBackoff(e.cfg.ConnectBackoff, e.cfg.ConnectBackoffMax)
	for ctx.Err() == nil {
		start := time.Now()
		err := e.consume(ctx, p, ps, commit)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > e.cfg.ConnectBackoffMax {
			retry.reset() // it ran: a new failure, not the same one again
		}
		d := retry.next()
		e.metrics.partitionErrors.Add(1)
		log.Warn("partition consumer restarting", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
}

// consume reads one partition from the offset stored in the state. It
// returns on the first error; the caller reconnects and resumes from the
// stored offset, so nothing is applied twice.
func (e *Engine) consume(ctx context.Context, p tp, ps *partitionState, commit func(int64)) error {
	conn, err := e.dialLeader(ctx, p)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	defer conn.Release()

	// last is the last stable offset: the fetch reads committed records
	// only, so the end of the log for this consumer is there.
	first, last, err := conn.Offsets(ctx)
	if err != nil {
		return fmt.Errorf("read offsets: %w", err)
	}
	next, ok, err := e.store.NextOffset(p.topic, p.partition)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		next = first
	case next < first:
		// Retention deleted records we never applied: they are gone.
		e.log.Error("records lost to retention before they were applied", "topic", p.topic, "partition", p.partition, "stored", next, "first", first)
		e.metrics.retentionGaps.Add(uint64(first - next))
		next = first
	case next > last:
		e.log.Warn("stored offset beyond the log end (topic recreated?)", "topic", p.topic, "partition", p.partition, "stored", next, "end", last)
	}
	if ps.startHWM.Load() < 0 {
		ps.startHWM.Store(last)
	}
	ps.hwm.Store(last)
	ps.next.Store(next)
	ps.caughtUp.Store(next >= ps.startHWM.Load())

	newDec := e.decoders[p.topic]
	if newDec == nil {
		return fmt.Errorf("no decoder for topic %q", p.topic)
	}
	w := worker{e: e, p: p, ps: ps, dec: newDec()}
	lastCommit := time.Now()
	for {
		w.reset(next)
		res, err := conn.Fetch(ctx, next, w.add)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Records read before the error and not yet applied are
			// dropped; the next connection refetches them from the stored
			// offset.
			return fmt.Errorf("fetch at %d: %w", next, err)
		}
		e.metrics.control.Add(uint64(res.Control))
		e.metrics.aborted.Add(uint64(res.Aborted))
		e.metrics.consumed.Add(uint64(res.Control + res.Aborted))
		// Control batches and aborted records move the offset too: store
		// it even when the fetch held nothing to apply.
		w.batch.Next = max(w.batch.Next, res.Next)
		if w.records > 0 || w.batch.Next > ps.next.Load() {
			if err := w.apply(); err != nil {
				return err
			}
		}
		applied := w.applied
		next = w.batch.Next
		// Under read_committed the log ends at the last stable offset.
		if end := res.LastStableOffset; end >= 0 {
			ps.hwm.Store(end)
		} else if res.HighWatermark >= 0 {
			ps.hwm.Store(res.HighWatermark)
		}
		if !ps.caughtUp.Load() && next >= ps.startHWM.Load() {
			ps.caughtUp.Store(true)
			e.log.Info("partition caught up", "topic", p.topic, "partition", p.partition, "offset", next)
		}
		if commit != nil && applied && time.Since(lastCommit) > 5*time.Second {
			commit(next)
			lastCommit = time.Now()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// dialLeader connects to the leader of p for fetching.
func (e *Engine) dialLeader(ctx context.Context, p tp) (*fetch.Conn, error) {
	var lastErr error
	for _, b := range e.cfg.Brokers {
		leader, err := e.dialer.LookupLeader(ctx, "tcp", b, p.topic, int(p.partition))
		if err != nil {
			lastErr = err
			continue
		}
		conn, err := fetch.Dial(ctx, net.JoinHostPort(leader.Host, strconv.Itoa(leader.Port)), p.topic, p.partition, e.fetchConfig())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("dial leader of %s/%d: %w", p.topic, p.partition, lastErr)
}

func (e *Engine) fetchConfig() fetch.Config {
	return fetch.Config{
		MaxBytes:       int32(e.cfg.FetchMaxBytes),
		MaxWait:        e.cfg.FetchMaxWait,
		MaxRecordBytes: e.cfg.MaxRecordBytes,
		PrefixBytes:    e.cfg.DeadLetterMaxBytes,
		MaxBatchBytes:  e.cfg.MaxBatchBytes,
		ClientID:       "porttrack",
	}
}

// flushBytes bounds the record bytes (and dead letters) a worker holds
// before it applies them: a fetch of many large records is applied in
// several state batches instead of one that holds them all.
const flushBytes = 32 << 20

// worker turns one fetched run of records into state batches.
type worker struct {
	e       *Engine
	p       tp
	ps      *partitionState
	dec     recordDecoder
	batch   state.Batch
	records int
	decoded int  // records of the batch that decoded into events
	bytes   int  // record and dead-letter bytes (headers included) held by the batch
	applied bool // a batch was applied since reset
}

func (w *worker) reset(next int64) {
	w.batch = state.Batch{Topic: w.p.topic, Partition: w.p.partition, Next: next,
		Events: w.batch.Events[:0], Vessels: w.batch.Vessels[:0], Trucks: w.batch.Trucks[:0], Customs: w.batch.Customs[:0], Outbox: w.batch.Outbox[:0]}
	w.records, w.decoded, w.bytes, w.applied = 0, 0, 0, false
}

// add takes one record (or a range of offsets the fetch could not read)
// into the batch. The fetch calls it in offset order.
func (w *worker) add(rec *fetch.Record) error {
	w.records++
	m := &w.e.metrics
	m.consumed.Add(1)
	var err error
	switch {
	case rec.Problem != "":
		w.batch.Next = rec.LastOffset + 1
		reason := rec.Problem
		if reason == fetch.ProblemBatchTooLarge {
			reason = decode.ReasonOversize
		}
		err = decode.Errorf(reason, "offsets %d-%d: %s", rec.Offset, rec.LastOffset, rec.Detail)
	case rec.Oversize:
		w.batch.Next = rec.Offset + 1
		if rec.Size > int64(w.e.cfg.MaxRecordBytes) {
			err = decode.Errorf(decode.ReasonOversize, "record value has %d bytes, limit %d", rec.Size, w.e.cfg.MaxRecordBytes)
		} else {
			err = decode.Errorf(decode.ReasonOversize, "record key or headers exceed the limit of %d bytes", w.e.cfg.MaxRecordBytes)
		}
	case len(rec.Value) == 0:
		w.batch.Next = rec.Offset + 1
		err = decode.Errorf(decode.ReasonEmpty, "record value is empty")
	default:
		w.batch.Next = rec.Offset + 1
		w.bytes += len(rec.Key) + len(rec.Value)
		for _, h := range rec.Headers {
			w.bytes += headerSize(h.Key, h.Value)
		}
		err = w.dec.decode(&w.batch, rec)
	}
	if err == nil {
		w.decoded++
	} else {
		reason := decode.Reason(err)
		m.deadLetter(reason)
		if w.e.log.Enabled(context.Background(), slog.LevelDebug) {
			w.e.log.Debug("dead letter", "topic", w.p.topic, "partition", w.p.partition, "offset", rec.Offset, "err", err)
		}
		dl := deadLetter(w.e.cfg.Topics.DLQ, w.p, rec, err, w.e.cfg.DeadLetterMaxBytes)
		w.bytes += len(dl.Key) + len(dl.Value)
		for _, h := range dl.Headers {
			w.bytes += headerSize(h.Key, h.Value)
		}
		w.batch.Outbox = append(w.batch.Outbox, dl)
	}
	if w.bytes >= flushBytes {
		return w.apply()
	}
	return nil
}

// apply applies the batch and starts the next one at its end.
func (w *worker) apply() error {
	res, err := w.e.store.Apply(&w.batch)
	if err != nil {
		return fmt.Errorf("apply batch ending at %d: %w", w.batch.Next, err)
	}
	m := &w.e.metrics
	m.stored.Add(uint64(res.Stored))
	m.duplicates.Add(uint64(res.Duplicates))
	m.late.Add(uint64(res.Late))
	m.batches.Add(1)
	m.decoded.Add(uint64(w.decoded))
	w.ps.next.Store(w.batch.Next)
	// Dead letters and the derived events Apply wrote wait in the outbox.
	w.e.kickOutbox(len(w.batch.Outbox) + res.Events)
	w.reset(w.batch.Next)
	w.applied = true
	return nil
}

// Dead-letter headers: the contract of porttrack.dlq.
const (
	HeaderError           = "error"
	HeaderSourceTopic     = "source-topic"
	HeaderSourcePartition = "source-partition"
	HeaderSourceOffset    = "source-offset"
	HeaderID              = "porttrack-id"
	// HeaderSourceLastOffset is on the dead letter of a range of offsets
	// that could not be read (a corrupt or oversize record batch): the
	// range is source-offset..source-last-offset.
	HeaderSourceLastOffset = "source-last-offset"
	// HeaderValueSize is the size of the whole original value in bytes
	// (absent for a null value or a range); HeaderValueSHA256 its SHA-256,
	// hex.
	HeaderValueSize   = "value-size"
	HeaderValueSHA256 = "value-sha256"
	// HeaderValueTruncated ("true") says the dead letter carries only the
	// first DeadLetterMaxBytes of the value; HeaderKeyTruncated and
	// HeaderHeadersTruncated the same of the key and the original headers.
	HeaderValueTruncated   = "value-truncated"
	HeaderKeyTruncated     = "key-truncated"
	HeaderHeadersTruncated = "headers-truncated"
)

// deadLetter builds the dead letter of rec: at most limit bytes of its value
// and key, its headers while they fit in limit, and the porttrack headers.
func deadLetter(topic string, p tp, rec *fetch.Record, err error, limit int) state.Message {
	part := strconv.Itoa(int(p.partition))
	off := strconv.FormatInt(rec.Offset, 10)
	hs := make([]state.Header, 0, len(rec.Headers)+10)
	hbytes, hdropped := 0, rec.HeadersTruncated
	for _, h := range rec.Headers {
		if hbytes += headerSize(h.Key, h.Value); hbytes > limit {
			hdropped = true
			break
		}
		hs = append(hs, state.Header{Key: h.Key, Value: h.Value})
	}
	hs = append(hs,
		state.Header{Key: HeaderError, Value: []byte(err.Error())},
		state.Header{Key: HeaderSourceTopic, Value: []byte(p.topic)},
		state.Header{Key: HeaderSourcePartition, Value: []byte(part)},
		state.Header{Key: HeaderSourceOffset, Value: []byte(off)},
		state.Header{Key: HeaderID, Value: []byte(p.topic + "/" + part + "/" + off)},
	)
	if rec.Problem != "" {
		hs = append(hs, state.Header{Key: HeaderSourceLastOffset, Value: []byte(strconv.FormatInt(rec.LastOffset, 10))})
		return state.Message{Topic: topic, Headers: hs}
	}
	value, key := rec.Value, rec.Key
	if rec.Size >= 0 {
		sum := rec.SHA256
		if !rec.Oversize {
			sum = sha256.Sum256(value)
		}
		hs = append(hs,
			state.Header{Key: HeaderValueSize, Value: []byte(strconv.FormatInt(rec.Size, 10))},
			state.Header{Key: HeaderValueSHA256, Value: []byte(hex.EncodeToString(sum[:]))})
	}
	if len(value) > limit || int64(len(value)) < rec.Size {
		value = value[:min(len(value), limit)]
		hs = append(hs, state.Header{Key: HeaderValueTruncated, Value: []byte("true")})
	}
	// The fetch already cut a key over max_record_bytes to its prefix.
	if len(key) > limit || rec.KeyTruncated {
		key = key[:min(len(key), limit)]
		hs = append(hs, state.Header{Key: HeaderKeyTruncated, Value: []byte("true")})
	}
	if hdropped {
		hs = append(hs, state.Header{Key: HeaderHeadersTruncated, Value: []byte("true")})
	}
	return state.Message{Topic: topic, Key: key, Value: value, Headers: hs}
}

// headerSize is the bytes a record header takes in a record batch: its key
// and value with their length varints. It counts toward size limits so that
// many empty headers cannot pass them.
func headerSize(key string, value []byte) int {
	vlen := int64(-1)
	if value != nil {
		vlen = int64(len(value))
	}
	return varintLen(int64(len(key))) + len(key) + varintLen(vlen) + len(value)
}

func varintLen(x int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], x)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
