package state

import "github.com/porttrack/porttrack/geo"

// VesselsWithin counts the vessels whose current position is within radiusM
// metres of (lat, lon), from the position index alone.
func (s *Store) VesselsWithin(lat, lon, radiusM float64) (int, error) {
	center, err := geo.NewLatLng(lat, lon)
	if err != nil {
		return 0, err
	}
	n := 0
	s.vesselPos.RLock()
	defer s.vesselPos.RUnlock()
	err = s.vesselPos.idx.Nearby(center, radiusM, 0, func(uint32, geo.LatLng, float64) bool { n++; return true })
	return n, err
}
