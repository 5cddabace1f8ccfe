package query

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/porttrack/porttrack/state"
)

// The change ring of /v1/stream. The store tells the hub, under its Apply
// lock, which objects each committed batch changed (state.Store.OnCommit);
// the hub appends one entry per changed object to a ring of fixed size and
// wakes the stream clients. A client holds only a cursor (a sequence number
// into the ring) and its input position; it reads entries after its
// cursor, keeps the newest per object and reads each object's current
// state from the store when it writes. Many changes of one object between
// two writes are therefore one event (coalescing), and a client never
// queues anything: one that falls so far behind that the ring has
// overwritten its cursor gets a fresh snapshot of its box instead.
//
// Positions. Each entry carries its batch's partition and next offset; a
// client's position is, per input partition, the next offset of the newest
// batch whose changes it has been sent. The position is the stream's event
// id (Last-Event-ID): Kafka offsets mean the same on every node that
// applied the same input, so a client may resume on another node or after a
// restart. floor is, per partition, the next offset below which the ring no
// longer holds the batch's changes (evicted, or applied before this process
// started): a position at or above the floor of every partition can be
// resumed from the ring, any other is answered with a snapshot.

// tp names an input partition.
type tp struct {
	topic string
	part  int32
}

// ringEntry is one changed object.
type ringEntry struct {
	seq  uint64 // set by read
	kind state.ChangeKind
	id   string
	body []byte // the alert's JSON (alerts only)
	at   tp
	next int64
	time int64
}

// position is a client's input position: next offset per partition.
type position map[tp]int64

type hub struct {
	// mu: publish (under the store's Apply lock) takes it for writing, the
	// clients' reads for reading, so that Apply waits for no more than the
	// copies in progress.
	mu struct {
		sync.RWMutex
		ring   []ringEntry
		head   uint64 // sequence number of the next entry
		pos    position
		floor  position
		wake   chan struct{} // closed and replaced at each publish
		closed bool
	}
	done chan struct{} // closed by close
	// head mirrors mu.head for the render cache (stream_cache.go).
	head  atomic.Uint64
	cache renderCache
	// render bounds the clients deciding what to send (coalescing, access,
	// rendering) at once: GOMAXPROCS/2, at least 1, so that streams leave
	// the processor to ingest. Writes to the clients are outside it.
	render chan struct{}

	clients                            atomic.Int64
	events, dropped, refused, snapshot atomic.Uint64
}

func newHub(size int, offsets func(fn func(topic string, partition int32, next int64) bool) error) (*hub, error) {
	h := &hub{done: make(chan struct{}), render: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	h.cache.init()
	h.mu.ring = make([]ringEntry, size)
	h.mu.pos = position{}
	h.mu.floor = position{}
	h.mu.wake = make(chan struct{})
	if offsets != nil {
		err := offsets(func(topic string, partition int32, next int64) bool {
			h.mu.pos[tp{topic, partition}] = next
			h.mu.floor[tp{topic, partition}] = next
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("query: stream: read offsets: %w", err)
		}
	}
	return h, nil
}

// publish records a committed batch: the store's OnCommit listener. It runs
// under the store's Apply lock and only copies identities into the ring.
func (h *hub) publish(c *state.Committed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.closed {
		return
	}
	at := tp{c.Topic, c.Partition} // strings are immutable: kept as given
	n := uint64(len(h.mu.ring))
	for _, ch := range c.Changes {
		slot := &h.mu.ring[h.mu.head%n]
		if h.mu.head >= n && slot.next > h.mu.floor[slot.at] {
			h.mu.floor[slot.at] = slot.next
		}
		*slot = ringEntry{kind: ch.Kind, id: ch.ID, body: ch.Body, at: at, next: c.Next, time: c.Time}
		h.mu.head++
	}
	h.mu.pos[at] = c.Next
	h.head.Store(h.mu.head)
	close(h.mu.wake)
	h.mu.wake = make(chan struct{})
}

// close ends every stream.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.mu.closed {
		h.mu.closed = true
		close(h.done)
	}
}

// start returns the cursor and position of a client that gets a snapshot
// now, and the channel closed at the next publish.
func (h *hub) start() (cursor uint64, pos position, wake <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pos = make(position, len(h.mu.pos))
	for k, v := range h.mu.pos {
		pos[k] = v
	}
	return h.mu.head, pos, h.mu.wake
}

// resume returns the cursor from which a client at position from continues
// (the oldest entry held: the client skips, before head, what its
// position already covers), or false when the ring lacks changes it missed.
func (h *hub) resume(from position) (cursor, head uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, f := range h.mu.floor {
		if from[k] < f {
			return 0, 0, false
		}
	}
	if n := uint64(len(h.mu.ring)); h.mu.head > n {
		return h.mu.head - n, h.mu.head, true
	}
	return 0, h.mu.head, true
}

// read copies up to len(dst) entries from cursor into dst and returns them,
// the cursor after them, and the channel closed at the next publish. lost
// is true when the ring has overwritten entries after cursor.
func (h *hub) read(cursor uint64, dst []ringEntry) (out []ringEntry, next uint64, wake <-chan struct{}, lost bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := uint64(len(h.mu.ring))
	if h.mu.head > n && cursor < h.mu.head-n {
		return dst[:0], h.mu.head, h.mu.wake, true
	}
	out = dst[:0]
	for cursor < h.mu.head && len(out) < cap(dst) {
		out = append(out, h.mu.ring[cursor%n])
		out[len(out)-1].seq = cursor
		cursor++
	}
	return out, cursor, h.mu.wake, false
}

// Position text: "topic:partition=next,partition=next;topic:..." sorted by
// topic and partition. Topic names are Kafka's ([a-zA-Z0-9._-]).
const maxPositionParts = 4096

func (p position) String() string {
	keys := make([]tp, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].part < keys[j].part
	})
	var b []byte
	for i, k := range keys {
		if i == 0 || keys[i-1].topic != k.topic {
			if i > 0 {
				b = append(b, ';')
			}
			b = append(b, k.topic...)
			b = append(b, ':')
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(k.part), 10)
		b = append(b, '=')
		b = strconv.AppendInt(b, p[k], 10)
	}
	return string(b)
}

var errPosition = errors.New("not a stream position (topic:partition=offset,...;topic:...)")

func parsePosition(s string) (position, error) {
	p := position{}
	if s == "" {
		return p, nil
	}
	for _, group := range strings.Split(s, ";") {
		topic, parts, ok := strings.Cut(group, ":")
		if !ok || topic == "" || len(topic) > 249 || !validTopic(topic) {
			return nil, errPosition
		}
		for _, part := range strings.Split(parts, ",") {
			ps, ns, ok := strings.Cut(part, "=")
			pn, err1 := strconv.ParseInt(ps, 10, 32)
			next, err2 := strconv.ParseInt(ns, 10, 64)
			if !ok || err1 != nil || err2 != nil || pn < 0 || next < 0 {
				return nil, errPosition
			}
			p[tp{topic, int32(pn)}] = next
			if len(p) > maxPositionParts {
				return nil, errPosition
			}
		}
	}
	return p, nil
}

func validTopic(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
