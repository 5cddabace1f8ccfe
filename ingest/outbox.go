package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/state"
)

// outboxScan is how many outbox entries one publish attempt sends.
const outboxScan = 500

// Headers of the stub dead letter that stands in for an outbox entry the
// broker refused for good.
const (
	HeaderOutboxSeq   = "outbox-seq"
	HeaderOutboxTopic = "outbox-topic"
	HeaderOutboxSize  = "outbox-size"
)

func (e *Engine) kickOutbox(n int) {
	if n == 0 {
		return
	}
	select {
	case e.outboxKick <- struct{}{}:
	default:
	}
}

// outboxAge tracks when the publisher first saw outbox entries, to tell the
// age of the oldest unpublished one. Entries carry no time on disk: after a
// restart the age counts from the first scan.
type outboxAge struct {
	mu struct {
		sync.Mutex
		// marks are (highest sequence seen, when), in increasing order: an
		// entry was first seen at the time of the first mark at or above
		// its sequence.
		marks []ageMark
		// head is the lowest unpublished sequence and since when it has
		// waited; ok is false while the outbox is empty.
		head  uint64
		since time.Time
		ok    bool
	}
}

type ageMark struct {
	seq uint64
	at  time.Time
}

// observe records a scan that found entries first..last (none when
// !found) at now.
func (a *outboxAge) observe(first, last uint64, found bool, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !found {
		a.mu.marks, a.mu.ok = a.mu.marks[:0], false
		return
	}
	if n := len(a.mu.marks); n == 0 || a.mu.marks[n-1].seq < last {
		if n >= 1024 {
			// Keep it bounded: drop every other mark after the first (the
			// entries of a dropped mark then count from the next one).
			k := 1
			for i := 2; i < n; i += 2 {
				a.mu.marks[k] = a.mu.marks[i]
				k++
			}
			a.mu.marks = a.mu.marks[:k]
		}
		a.mu.marks = append(a.mu.marks, ageMark{last, now})
	}
	i := 0
	for i < len(a.mu.marks) && a.mu.marks[i].seq < first {
		i++
	}
	a.mu.marks = append(a.mu.marks[:0], a.mu.marks[i:]...)
	since := now
	if len(a.mu.marks) > 0 {
		since = a.mu.marks[0].at
	}
	if !a.mu.ok || a.mu.head != first {
		a.mu.head, a.mu.since, a.mu.ok = first, since, true
	}
}

// age returns the age of the oldest unpublished entry at now (0 when the
// outbox is empty).
func (a *outboxAge) age(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.mu.ok {
		return 0
	}
	return max(0, now.Sub(a.mu.since))
}

// Degraded lists what works but not as it should, for /healthz and /readyz:
// today the outbox, when its oldest unpublished entry is older than
// Config.OutboxDegradedAfter. Safe for concurrent use.
func (e *Engine) Degraded() []string {
	if age := e.outboxAge.age(time.Now()); age > e.cfg.OutboxDegradedAfter {
		return []string{fmt.Sprintf("outbox: oldest unpublished entry is %s old (threshold %s)",
			age.Truncate(time.Second), e.cfg.OutboxDegradedAfter)}
	}
	return nil
}

// publishOutbox sends outbox messages to Kafka, at least once, in sequence
// order, and deletes them once the broker acknowledged them. An entry the
// broker refuses for good (too large, invalid) is set aside: a small stub
// dead letter names it, it is deleted and counted, and publishing goes on.
// Any other error retries the scan with backoff.
func (e *Engine) publishOutbox(ctx context.Context) {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(e.cfg.Brokers...),
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll, // KAFKA.md pitfall 1
		BatchTimeout:           2 * time.Millisecond,
		AllowAutoTopicCreation: false,
		Transport:              &kafka.Transport{Dial: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, ClientID: "porttrack"},
	}
	defer w.Close()
	backoff := e.cfg.RetryBackoff
	var msgs []kafka.Message
	var seqs []uint64
	for ctx.Err() == nil {
		msgs, seqs = msgs[:0], seqs[:0]
		err := e.store.ScanOutbox(outboxScan, func(o *state.OutboxEntry) error {
			km := kafka.Message{Topic: o.Topic, Key: clone(o.Key), Value: clone(o.Value)}
			for _, h := range o.Headers {
				km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: clone(h.Value)})
			}
			msgs, seqs = append(msgs, km), append(seqs, o.Seq)
			return nil
		})
		if err == nil {
			if len(seqs) > 0 {
				e.outboxAge.observe(seqs[0], seqs[len(seqs)-1], true, time.Now())
			} else {
				e.outboxAge.observe(0, 0, false, time.Now())
			}
		}
		if err == nil && len(msgs) > 0 {
			err = e.publish(ctx, w, msgs, seqs)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.metrics.publishErrors.Add(1)
			e.log.Warn("publishing outbox", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = e.cfg.RetryBackoff
		if len(msgs) == outboxScan {
			continue
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-e.outboxKick:
		case <-t.C:
		}
		t.Stop()
	}
}

// publish writes msgs (outbox entries seqs, in order) and deletes them. An
// entry refused for good is set aside once every other entry is written
// (when the broker refused a batch of several, each is sent again alone, so
// that only an entry refused on its own is set aside); a
// transient error returns before anything is deleted (the retry may
// publish some entries twice: at least once).
func (e *Engine) publish(ctx context.Context, w *kafka.Writer, msgs []kafka.Message, seqs []uint64) error {
	type refused struct {
		i   int
		err error
	}
	var aside []refused
	idx := make([]int, len(msgs)) // pending[j] is msgs[idx[j]]
	for i := range idx {
		idx[i] = i
	}
	pending := append([]kafka.Message(nil), msgs...)
	for len(pending) > 0 {
		err := w.WriteMessages(ctx, pending...)
		if err == nil {
			break
		}
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			// The client refused it before sending anything; the rest
			// goes again.
			j := indexOf(pending, &tooLarge.Message)
			if j < 0 {
				return err
			}
			aside = append(aside, refused{idx[j], err})
			pending = append(pending[:j], pending[j+1:]...)
			idx = append(idx[:j], idx[j+1:]...)
			continue
		}
		var werrs kafka.WriteErrors
		if !errors.As(err, &werrs) || len(werrs) != len(pending) {
			return err
		}
		var transient error
		var refusedNow []refused
		for j, we := range werrs {
			switch {
			case we == nil:
			case permanentPublishError(we):
				refusedNow = append(refusedNow, refused{idx[j], we})
			default:
				transient = we
			}
		}
		if transient != nil {
			return fmt.Errorf("%d of %d messages failed: %w", werrs.Count(), len(pending), transient)
		}
		if len(refusedNow) == 1 {
			aside = append(aside, refusedNow[0])
			break
		}
		// The writer sends the messages of one partition as one batch, and
		// the broker refuses the batch as a whole: every message of it gets
		// the error. Send them one at a time, and set aside only a message
		// the broker refuses on its own.
		for _, r := range refusedNow {
			err := w.WriteMessages(ctx, msgs[r.i])
			var werrs kafka.WriteErrors
			if errors.As(err, &werrs) && len(werrs) == 1 {
				err = werrs[0]
			}
			switch {
			case err == nil:
			case permanentPublishError(err):
				aside = append(aside, refused{r.i, err})
			default:
				return fmt.Errorf("resending message %d of %d alone: %w", r.i+1, len(msgs), err)
			}
		}
		break
	}
	for _, r := range aside {
		m := &msgs[r.i]
		size := len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			size += headerSize(h.Key, h.Value)
		}
		seq := strconv.FormatUint(seqs[r.i], 10)
		stub := kafka.Message{Topic: e.cfg.Topics.DLQ, Key: m.Key[:min(len(m.Key), 256)], Headers: []kafka.Header{
			{Key: HeaderError, Value: []byte("outbox entry refused by the broker: " + r.err.Error())},
			{Key: HeaderOutboxSeq, Value: []byte(seq)},
			{Key: HeaderOutboxTopic, Value: []byte(m.Topic)},
			{Key: HeaderOutboxSize, Value: []byte(strconv.Itoa(size))},
			{Key: HeaderID, Value: []byte("outbox/" + seq)},
		}}
		for _, h := range m.Headers {
			if h.Key == HeaderID { // the porttrack-id of a dead letter names its source
				stub.Headers = append(stub.Headers, kafka.Header{Key: "outbox-" + HeaderID, Value: h.Value})
			}
		}
		if err := w.WriteMessages(ctx, stub); err != nil && !permanentPublishError(err) {
			return fmt.Errorf("stub of refused outbox entry %s: %w", seq, err)
		}
		e.metrics.outboxSetAside.Add(1)
		e.log.Error("outbox entry refused by the broker; set aside (a stub dead letter names it)",
			"seq", seqs[r.i], "topic", m.Topic, "bytes", size, "err", r.err)
	}
	if err := e.store.DeleteOutbox(seqs[0], seqs[len(seqs)-1]); err != nil {
		return err
	}
	e.metrics.published.Add(uint64(len(msgs) - len(aside)))
	return nil
}

// permanentPublishError reports whether the broker (or the client) refuses
// a message for what it is, so that sending it again cannot succeed.
func permanentPublishError(err error) bool {
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return true
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidTopic,
			kafka.InvalidTimestamp, kafka.InvalidRecord, kafka.InvalidMessageSize:
			return true
		}
	}
	return false
}

func indexOf(ms []kafka.Message, m *kafka.Message) int {
	for j := range ms {
		if ms[j].Topic == m.Topic && bytes.Equal(ms[j].Key, m.Key) && bytes.Equal(ms[j].Value, m.Value) {
			return j
		}
	}
	return -1
}
