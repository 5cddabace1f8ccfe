package state

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/geo"
)

func (s *Store) loadTruckIndex() error {
	idx, err := geo.NewIndex[string](geo.ResPoint)
	if err != nil {
		return err
	}
	err = s.EachTruck(func(t *Truck) error {
		return idx.Set(t.Plate, geo.LatLng{Lat: t.Lat, Lng: t.Lon})
	})
	if err != nil {
		return fmt.Errorf("state: rebuilding the truck index: %w", err)
	}
	s.truckPos.idx = idx
	return nil
}

// indexMovedTrucks moves the trucks of the last committed batch in the
// position index. Called by Apply under s.mu after the commit, so readers
// never see a position that is not durable.
func (s *Store) indexMovedTrucks() {
	s.truckPos.Lock()
	defer s.truckPos.Unlock()
	for plate, w := range s.mu.scratch.trucks {
		if w.moved {
			// Positions were range-checked by TruckReport.Validate.
			_ = s.truckPos.idx.Set(plate, geo.LatLng{Lat: w.t.Lat, Lng: w.t.Lon})
		}
	}
}

// TrucksNear calls fn with the trucks within radiusM metres of (lat, lon),
// nearest first, at most limit of them (limit <= 0: no limit), until fn
// returns false. Distances are exact great-circle metres.
func (s *Store) TrucksNear(lat, lon, radiusM float64, limit int, fn func(t *Truck, distM float64) bool) error {
	center, err := geo.NewLatLng(lat, lon)
	if err != nil {
		return err
	}
	type hit struct {
		plate string
		d     float64
	}
	var hits []hit
	s.truckPos.RLock()
	err = s.truckPos.idx.Nearby(center, radiusM, limit, func(plate string, _ geo.LatLng, d float64) bool {
		hits = append(hits, hit{plate, d})
		return true
	})
	s.truckPos.RUnlock()
	if err != nil {
		return err
	}
	// Read the hits' states in key order through one iterator (cheaper than
	// a point Get each), then answer in distance order.
	trucks := make([]Truck, len(hits))
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(hits[a].plate, hits[b].plate) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixTruck}, UpperBound: []byte{prefixTruck + 1}})
	if err != nil {
		return err
	}
	var key []byte
	for _, i := range order {
		key = truckKey(key[:0], hits[i].plate)
		if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
			it.Close()
			return fmt.Errorf("state: truck %s indexed but not stored", hits[i].plate)
		}
		if err := decodeTruck(hits[i].plate, it.Value(), &trucks[i]); err != nil {
			it.Close()
			return fmt.Errorf("state: truck %s: %w", hits[i].plate, err)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	for i, h := range hits {
		if !fn(&trucks[i], h.d) {
			return nil
		}
	}
	return nil
}
