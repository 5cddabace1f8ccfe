package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// Key prefixes are in keys.go.
const (
	formatVersion uint32 = 1
	valueV1       byte   = 1

	historyKeyLen = 1 + ContainerLen + 8 + 8
)

var errCorrupt = errors.New("state: corrupt value")

func sortableTime(t int64) uint64 { return uint64(t) ^ 1<<63 }
func unsortTime(u uint64) int64   { return int64(u ^ 1<<63) }

func idHash(id string) [32]byte { return sha256.Sum256([]byte(id)) }

func offsetKey(dst []byte, topic string, partition int32) []byte {
	dst = append(dst, prefixOffset, byte(len(topic)))
	dst = append(dst, topic...)
	return binary.BigEndian.AppendUint32(dst, uint32(partition))
}

func currentKey(dst []byte, container string) []byte {
	dst = append(dst, prefixCurrent)
	return append(dst, container...)
}

func historyKey(dst []byte, container string, t int64, h *[32]byte) []byte {
	dst = append(dst, prefixHistory)
	dst = append(dst, container...)
	dst = binary.BigEndian.AppendUint64(dst, sortableTime(t))
	return append(dst, h[:8]...)
}

func eventIdxKey(dst []byte, h *[32]byte) []byte {
	dst = append(dst, prefixEventIdx)
	return append(dst, h[:16]...)
}

func outboxKey(dst []byte, seq uint64) []byte {
	dst = append(dst, prefixOutbox)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader is a sticky-error decoder over a value (prometheus tsdb/encoding).
type reader struct {
	b   []byte
	err error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) str() string { return string(r.bytes()) }

// ErrCorrupt is the error of a stored key or value that does not decode.
var ErrCorrupt = errCorrupt

// SortableTime encodes a Unix-ns time so that big-endian byte order is time
// order (negative times first); UnsortTime decodes it.
func SortableTime(t int64) uint64 { return sortableTime(t) }

// UnsortTime decodes a SortableTime.
func UnsortTime(u uint64) int64 { return unsortTime(u) }

// AppendStr appends s with its length (uvarint) in front, as Reader.Bytes
// reads it.
func AppendStr(dst []byte, s string) []byte { return appendStr(dst, s) }

// Reader decodes a stored value field by field (strings written by
// AppendStr, binary.AppendVarint and AppendUvarint numbers). Its error is
// sticky: after a field that does not decode, every read returns zero and
// Err returns ErrCorrupt.
type Reader struct{ r reader }

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{r: reader{b: b}} }

// Byte reads one byte.
func (r *Reader) Byte() byte { return r.r.byte() }

// Int reads a signed varint as an int.
func (r *Reader) Int() int { return r.r.int() }

// F64 reads a float written by AppendF64.
func (r *Reader) F64() float64 { return r.r.f64() }

// Varint reads a binary.AppendVarint number.
func (r *Reader) Varint() int64 { return r.r.varint() }

// Uvarint reads a binary.AppendUvarint number.
func (r *Reader) Uvarint() uint64 { return r.r.uvarint() }

// Bytes reads an AppendStr string; the result aliases the value.
func (r *Reader) Bytes() []byte { return r.r.bytes() }

// Str reads an AppendStr string as a copy.
func (r *Reader) Str() string { return r.r.str() }

// Rest returns what is left to read.
func (r *Reader) Rest() []byte { return r.r.b }

// Err returns ErrCorrupt after a field that did not decode, else nil.
func (r *Reader) Err() error { return r.r.err }

// Container is the current state of one container.
type Container struct {
	ID string
	// Last is the newest event by event time. Its Disposition, ReadPoint and
	// Source are not kept in the current state: read the history for them.
	Last  Event
	First int64 // earliest event time seen, Unix ns
	Count uint64
	// Updated is the ingest (wall) time of the last change, Unix ns.
	Updated int64
}

// Status is the container status derived from its newest event.
func (c *Container) Status() string { return c.Last.Code.Status() }

func appendCurrent(dst []byte, c *Container) []byte {
	dst = append(dst, valueV1, byte(c.Last.Code))
	dst = binary.AppendVarint(dst, c.Last.Time)
	dst = appendStr(dst, c.Last.ID)
	dst = appendStr(dst, c.Last.Location)
	dst = binary.AppendVarint(dst, c.First)
	dst = binary.AppendUvarint(dst, c.Count)
	return binary.AppendVarint(dst, c.Updated)
}

func decodeCurrent(id string, v []byte, c *Container) error {
	r := reader{b: v}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	*c = Container{ID: id}
	c.Last.Container = id
	c.Last.Code = Code(r.byte())
	c.Last.Time = r.varint()
	c.Last.ID = r.str()
	c.Last.Location = r.str()
	c.First = r.varint()
	c.Count = r.uvarint()
	c.Updated = r.varint()
	return r.err
}

// StoredEvent is an event as kept in the history.
type StoredEvent struct {
	Event
	Ingested int64 // wall time it was applied, Unix ns
}

func appendHistory(dst []byte, e *Event, ingested int64) []byte {
	dst = append(dst, valueV1, byte(e.Code))
	dst = appendStr(dst, e.ID)
	dst = appendStr(dst, e.Location)
	dst = appendStr(dst, e.ReadPoint)
	dst = appendStr(dst, e.Source)
	dst = appendStr(dst, e.Disposition)
	return binary.AppendVarint(dst, ingested)
}

func decodeHistory(key, v []byte, e *StoredEvent) error {
	if len(key) != historyKeyLen {
		return errCorrupt
	}
	r := reader{b: v}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	e.Container = string(key[1 : 1+ContainerLen])
	e.Time = unsortTime(binary.BigEndian.Uint64(key[1+ContainerLen:]))
	e.Code = Code(r.byte())
	e.ID = r.str()
	e.Location = r.str()
	e.ReadPoint = r.str()
	e.Source = r.str()
	e.Disposition = r.str()
	e.Ingested = r.varint()
	return r.err
}

// Header is a Kafka record header of an outbox message.
type Header struct {
	Key   string
	Value []byte
}

// Message is a record to publish to Kafka through the outbox.
type Message struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
}

func appendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, valueV1)
	dst = appendStr(dst, m.Topic)
	dst = appendBytes(dst, m.Key)
	dst = appendBytes(dst, m.Value)
	dst = binary.AppendUvarint(dst, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		dst = appendStr(dst, h.Key)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

// decodeMessage decodes into m; the byte slices alias v.
func decodeMessage(v []byte, m *Message) error {
	r := reader{b: v}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	m.Topic = r.str()
	m.Key = r.bytes()
	m.Value = r.bytes()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		return errCorrupt
	}
	m.Headers = m.Headers[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		m.Headers = append(m.Headers, Header{Key: r.str(), Value: r.bytes()})
	}
	return r.err
}

// getValue reads key from r and hands its value to decode (valid only
// during the call); found is false, and decode not called, when the key is
// absent.
func getValue(r pebble.Reader, key []byte, decode func(v []byte) error) (found bool, err error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	return true, decode(v)
}
