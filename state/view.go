package state

import (
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// View reads the store as of one moment. Every read through one View sees
// the same committed batches, whatever Apply commits meanwhile, so an answer
// built from several families (a container's current state, location,
// customs state, legs and truck) never mixes two batches. The read methods
// of Store are those of a View over the live database: each read sees the
// batches committed when it runs.
//
// A View is a Pebble snapshot (LOCKS.md, "Readers"). While it is open,
// compactions keep every version of a key it may read: close it as soon as
// the answer is built, and never keep it across requests. A View may be used
// by one goroutine at a time.
//
// The in-memory indexes (the H3 tables of vessel and truck positions, the
// fence memberships, the planned containers) are not part of the snapshot:
// a View method that consults one (VesselsNear, ContainerLocation when it
// looks for the ship at a berth) reads it as it is now, and the records it
// then reads come from the view.
type View struct {
	s *Store
	r pebble.Reader
	// snap is the snapshot r reads; nil for the live view of the Store's
	// own read methods.
	snap *pebble.Snapshot
}

// View opens a view over a snapshot of the database. The caller closes it.
func (s *Store) View() *View {
	snap := s.db.NewSnapshot()
	return &View{s: s, r: snap, snap: snap}
}

// Close releases the view's snapshot. Values read through the view are
// copies and stay valid.
func (vw *View) Close() error {
	if vw.snap == nil {
		return nil
	}
	err := vw.snap.Close()
	vw.snap = nil
	return err
}

// live is the view of the Store's own read methods: each read on the live
// database.
func (s *Store) live() *View { return &View{s: s, r: s.db} }

// Live returns the view over the live database: each read sees the batches
// committed when it runs. It holds no snapshot; Close does nothing.
func (s *Store) Live() *View { return s.live() }

// Get reads one key as the view sees it (pebble.Reader's Get: the value is
// valid until the closer is closed). For a domain's read methods.
func (vw *View) Get(key []byte) ([]byte, io.Closer, error) { return vw.r.Get(key) }

// NewIter opens an iterator on the view; the caller closes it. For a
// domain's read methods.
func (vw *View) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) { return vw.newIter(o) }

// newIter opens an iterator on the view. Calling NewIter on the concrete
// type rather than through pebble.Reader lets the options stay on the
// caller's stack (an interface call makes them escape: one allocation per
// iterator on the container answer's path).
func (vw *View) newIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	if vw.snap != nil {
		return vw.snap.NewIter(o)
	}
	return vw.s.db.NewIter(o)
}
