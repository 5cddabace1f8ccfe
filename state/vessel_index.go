package state

import (
	"errors"
	"fmt"

	"github.com/porttrack/porttrack/geo"
)

func (s *Store) loadVesselIndex() error {
	idx, err := geo.NewIndex[uint32](geo.ResPoint)
	if err != nil {
		return err
	}
	err = s.EachVessel(func(v *Vessel) error {
		if v.HasPosition {
			return idx.Set(v.MMSI, geo.LatLng{Lat: v.Lat, Lng: v.Lon})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: rebuilding the vessel index: %w", err)
	}
	s.vesselPos.idx = idx
	return nil
}

// indexMovedVessels moves the vessels of the last committed batch in the
// position index. Called by Apply under s.mu after the commit, so readers
// never see a position that is not durable.
func (s *Store) indexMovedVessels() {
	s.vesselPos.Lock()
	defer s.vesselPos.Unlock()
	for mmsi, w := range s.mu.scratch.vessels {
		if w.moved {
			// Positions were range-checked by VesselReport.Validate.
			_ = s.vesselPos.idx.Set(mmsi, geo.LatLng{Lat: w.v.Lat, Lng: w.v.Lon})
		}
	}
}

// VesselsNear calls fn with the vessels within radiusM metres of (lat, lon),
// nearest first, at most limit of them (limit <= 0: no limit), until fn
// returns false. Distances are exact great-circle metres.
func (s *Store) VesselsNear(lat, lon, radiusM float64, limit int, fn func(v *Vessel, distM float64) bool) error {
	return s.live().VesselsNear(lat, lon, radiusM, limit, fn)
}

// VesselsNear is Store.VesselsNear with the vessels read from the view.
// Which vessels are near comes from the live in-memory index, which is not
// part of the view: a vessel the view does not know yet is skipped.
func (vw *View) VesselsNear(lat, lon, radiusM float64, limit int, fn func(v *Vessel, distM float64) bool) error {
	center, err := geo.NewLatLng(lat, lon)
	if err != nil {
		return err
	}
	type hit struct {
		mmsi uint32
		d    float64
	}
	var hits []hit
	vw.s.vesselPos.RLock()
	err = vw.s.vesselPos.idx.Nearby(center, radiusM, limit, func(id uint32, _ geo.LatLng, d float64) bool {
		hits = append(hits, hit{id, d})
		return true
	})
	vw.s.vesselPos.RUnlock()
	if err != nil {
		return err
	}
	for _, h := range hits {
		v, err := vw.Vessel(h.mmsi)
		if errors.Is(err, ErrNotFound) {
			continue // indexed after the view's snapshot was taken
		}
		if err != nil {
			return err
		}
		if !fn(&v, h.d) {
			return nil
		}
	}
	return nil
}
