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

// AppendBytes appends b with its uvarint length.
func AppendBytes(dst, b []byte) []byte { return appendBytes(dst, b) }

// AppendStrs appends a uvarint count, then each string as AppendStr does.
func AppendStrs(dst []byte, l []string) []byte { return appendStrs(dst, l) }

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

// GetValue reads key from rd and hands its value to decode (valid only
// during the call); found is false, and decode not called, when the key is
// absent.
func GetValue(rd pebble.Reader, key []byte, decode func(v []byte) error) (found bool, err error) {
	return getValue(rd, key, decode)
}
