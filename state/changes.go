package state

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// Change notification. After Apply commits a batch it tells one listener
// (the query API's live stream) which objects the batch changed, with the
// partition's next offset, so that a reader can fetch their current state
// and name its position in the input. The listener is called under Apply's
// lock: it must not block and must not call Apply. It gets identities only
// (and the body of each alert, which has no state to read back); states are
// read through the ordinary read methods afterwards.

// ChangeKind is the kind of a changed object.
type ChangeKind uint8

// Kinds of changed objects.
const (
	ChangeVessel    ChangeKind = iota + 1 // ID: the MMSI in decimal
	ChangeTruck                           // ID: the plate
	ChangeContainer                       // ID: the container number
	ChangeTrain                           // ID: the rail plan id
	ChangeCustoms                         // ID: the container number whose customs state changed
	ChangeAlert                           // ID: the alert id; Body: its JSON
)

// Change is one object a committed batch changed.
type Change struct {
	Kind ChangeKind
	ID   string
	// Body is the alert's JSON (ChangeAlert only); it is the listener's to
	// keep.
	Body []byte
}

// Committed is what one committed batch changed. The listener may keep
// nothing of it but copies: Changes is reused by the next batch.
type Committed struct {
	Topic     string
	Partition int32
	Next      int64 // the partition's next offset after this batch
	Time      int64 // when the batch was applied (Options.Now, Unix ns)
	Changes   []Change
}

// changeHook is the listener and the changes of the batch in flight (only
// Apply, under s.mu, touches changes).
type changeHook struct {
	fn      atomic.Pointer[func(*Committed)]
	changes []Change
}

// maxAlertBody bounds an alert body passed to the listener: alerts are a few
// hundred bytes; a larger one is left out rather than copied.
const maxAlertBody = 16 << 10

// OnCommit sets the listener told of every batch Apply commits from now on,
// replacing any other, and returns the function that removes it (when it
// is still the listener). fn runs under Apply's lock: it must be quick,
// must not block and must not call Apply.
func (s *Store) OnCommit(fn func(*Committed)) (remove func()) {
	p := &fn
	s.hook.fn.Store(p)
	return func() { s.hook.fn.CompareAndSwap(p, nil) }
}

// noteOutbox remembers the alerts among the messages Apply writes to the
// outbox (connection and geofence alerts carry an event-type header).
func (s *Store) noteOutbox(m *Message) {
	if s.hook.fn.Load() == nil || len(m.Value) > maxAlertBody {
		return
	}
	var id []byte
	alert := false
	for _, h := range m.Headers {
		switch h.Key {
		case "event-type":
			alert = string(h.Value) == "connection" || string(h.Value) == "geofence"
		case "porttrack-id":
			id = h.Value
		}
	}
	if alert && len(id) > 0 {
		s.hook.changes = append(s.hook.changes, Change{Kind: ChangeAlert, ID: string(id), Body: bytes.Clone(m.Value)})
	}
}

// publishCommitted tells the listener what the committed batch b changed.
// Called by Apply under s.mu after the commit.
func (s *Store) publishCommitted(b *Batch, now int64) {
	fn := s.hook.fn.Load()
	if fn == nil {
		s.hook.changes = s.hook.changes[:0]
		return
	}
	sc := &s.mu.scratch
	ch := s.hook.changes
	for id := range sc.changed {
		ch = append(ch, Change{Kind: ChangeContainer, ID: id})
	}
	for i := range b.Vessels {
		ch = append(ch, Change{Kind: ChangeVessel, ID: uitoa(b.Vessels[i].MMSI)})
	}
	for i := range b.Trucks {
		ch = append(ch, Change{Kind: ChangeTruck, ID: b.Trucks[i].Plate})
	}
	for i := range b.Plans {
		if b.Plans[i].Mode == ModeRail {
			ch = append(ch, Change{Kind: ChangeTrain, ID: b.Plans[i].ID})
		}
	}
	for i := range b.PlanEvents {
		if b.PlanEvents[i].Mode == ModeRail {
			ch = append(ch, Change{Kind: ChangeTrain, ID: b.PlanEvents[i].Plan})
		}
	}
	if s.opts.CustomsBlocks != nil {
		s.opts.CustomsBlocks.ChangedBoxes(func(box string) {
			ch = append(ch, Change{Kind: ChangeCustoms, ID: box})
		})
	}
	if len(ch) > 0 {
		(*fn)(&Committed{Topic: b.Topic, Partition: b.Partition, Next: b.Next, Time: now, Changes: ch})
	}
	clear(ch) // drop the alert bodies and ids for the collector
	s.hook.changes = ch[:0]
}

func uitoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// Offsets calls fn with every input partition's stored next offset, in key
// order (by topic, then partition).
func (s *Store) Offsets(fn func(topic string, partition int32, next int64) bool) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixOffset}, UpperBound: []byte{prefixOffset + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) < 2 || len(k) != 2+int(k[1])+4 || len(v) != 8 {
			return errCorrupt
		}
		topic := string(k[2 : 2+int(k[1])])
		p := int32(binary.BigEndian.Uint32(k[2+int(k[1]):]))
		if !fn(topic, p, int64(binary.BigEndian.Uint64(v))) {
			break
		}
	}
	return it.Error()
}
