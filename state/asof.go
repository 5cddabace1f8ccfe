package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// As-of reads: the state of one object at a past time, exactly from its
// history or track.

// ContainerAt returns the container's state at time at, from its history:
// the newest event with time at or before at (Last, with its read point),
// the first event time, the number of events up to at, and as Updated the
// latest ingest time among them. ErrNotFound when the box has no event at or
// before at.
func (s *Store) ContainerAt(id string, at int64) (Container, StoredEvent, error) {
	var c Container
	var last StoredEvent
	if len(id) != ContainerLen {
		return c, last, ErrNotFound
	}
	prefix := append([]byte{prefixHistory}, id...)
	upper := prefix
	if at != math.MaxInt64 {
		upper = binary.BigEndian.AppendUint64(bytes.Clone(prefix), sortableTime(at+1))
	} else {
		upper = append(bytes.Clone(prefix), 0xff)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return c, last, err
	}
	defer it.Close()
	c.ID = id
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeHistory(it.Key(), it.Value(), &last); err != nil {
			return c, last, fmt.Errorf("state: history of %s: %w", id, err)
		}
		if c.Count == 0 {
			c.First = last.Time
		}
		c.Count++
		c.Updated = max(c.Updated, last.Ingested)
	}
	if err := it.Error(); err != nil {
		return c, last, err
	}
	if c.Count == 0 {
		return c, last, ErrNotFound
	}
	c.Last = last.Event
	return c, last, nil
}

// VesselAt returns where the vessel was at time at: its newest track point
// at or before at. ErrNotFound when the track has none (the vessel was not
// seen yet, or the point is older than the track retention).
func (s *Store) VesselAt(mmsi uint32, at int64) (TrackPoint, error) {
	return s.live().VesselAt(mmsi, at)
}

// VesselAt is Store.VesselAt as the view sees it.
func (vw *View) VesselAt(mmsi uint32, at int64) (TrackPoint, error) {
	var p TrackPoint
	lower := binary.BigEndian.AppendUint32([]byte{prefixVesselTrack}, mmsi)
	var upper []byte
	if at == math.MaxInt64 {
		upper = append(bytes.Clone(lower), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	} else {
		upper = trackKey(nil, mmsi, at+1)
	}
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return p, err
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return p, err
		}
		return p, ErrNotFound
	}
	if err := decodeTrackPoint(it.Key(), it.Value(), &p); err != nil {
		return p, fmt.Errorf("state: track of %d: %w", mmsi, err)
	}
	return p, nil
}
