package state

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"
)

// What the domain packages (state/<domain>) use of the kernel to keep their
// own key families: the database and the value codec every
// family shares (FORMAT.md, "Encoding").

// DB returns the Store's Pebble database. Domain packages read their
// families from it and write their control-plane records with their own
// batches; Apply's writes go through the Tx.
func (s *Store) DB() *pebble.DB { return s.db }

// WriteOptions are the options of the Store's own commits (pebble.Sync
// unless Options.NoSync), for a domain's writes that follow them.
func (s *Store) WriteOptions() *pebble.WriteOptions { return s.writeO }

// Reader returns the Pebble reader the view reads: its snapshot, or the
// live database for the Store's own read methods.
func (vw *View) Reader() pebble.Reader { return vw.r }

// ValueV1 is the version byte that begins a version-1 value.
const ValueV1 = valueV1

// ErrCorrupt is returned for a stored key or value that does not decode.
var ErrCorrupt = errCorrupt

// AppendStr appends s with its uvarint length.
func AppendStr(dst []byte, s string) []byte { return appendStr(dst, s) }

// AppendBytes appends b with its uvarint length.
func AppendBytes(dst, b []byte) []byte { return appendBytes(dst, b) }

// AppendStrs appends a uvarint count, then each string as AppendStr does.
func AppendStrs(dst []byte, l []string) []byte { return appendStrs(dst, l) }

// SortableTime maps Unix ns to a uint64 whose big-endian bytes sort as the
// times do.
func SortableTime(t int64) uint64 { return sortableTime(t) }

// UnsortTime is the inverse of SortableTime.
func UnsortTime(u uint64) int64 { return unsortTime(u) }

// Reader is a sticky-error decoder over a value: after the first error
// every read returns the zero value and Err returns ErrCorrupt.
type Reader struct{ r reader }

// NewReader returns a Reader over b (not copied).
func NewReader(b []byte) *Reader { return &Reader{r: reader{b: b}} }

// Byte reads one byte.
func (r *Reader) Byte() byte { return r.r.byte() }

// Varint reads a signed varint.
func (r *Reader) Varint() int64 { return r.r.varint() }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return r.r.uvarint() }

// Bytes reads a length-prefixed byte string; the result aliases the value.
func (r *Reader) Bytes() []byte { return r.r.bytes() }

// Str reads a length-prefixed string (a copy).
func (r *Reader) Str() string { return r.r.str() }

// Strs reads what AppendStrs wrote.
func (r *Reader) Strs() []string { return r.r.strs() }

// Uint64 reads 8 bytes, big-endian.
func (r *Reader) Uint64() uint64 {
	if r.r.err != nil || len(r.r.b) < 8 {
		r.r.err = errCorrupt
		return 0
	}
	v := binary.BigEndian.Uint64(r.r.b)
	r.r.b = r.r.b[8:]
	return v
}

// Rest returns the bytes not read yet.
func (r *Reader) Rest() []byte { return r.r.b }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.r.err }

// GetValue reads key from rd and hands its value to decode (valid only
// during the call); found is false, and decode not called, when the key is
// absent.
func GetValue(rd pebble.Reader, key []byte, decode func(v []byte) error) (found bool, err error) {
	return getValue(rd, key, decode)
}
