package state

import (
	"math"
	"strings"

	"github.com/porttrack/porttrack/geo"
)

// Kinds of port-model fences where a container can be (besides KindBerth).
const (
	KindYardBlock   = "yard_block"
	KindGate        = "gate"
	KindRailStation = "rail_station"
)

// Place is a fence of the port model where containers are handled: a
// berth, a yard block, a gate or a rail station.
type Place struct {
	ID, Kind, Name string
	// Block is the yard block code ("A", "3C", ...; property block), "" for
	// other places.
	Block string
	// Lat, Lon is the centroid of the place's outer rings (vertex mean).
	Lat, Lon float64
	// Radius is the distance in metres from the centroid to the farthest
	// vertex: a circle around the centroid with it covers the place.
	Radius float64
}

// locator places a container event in the port model: the reader that saw
// the box names its place, else the event's location does. Immutable.
type locator struct {
	byReader   map[string]*Place // reader id → place (the place's "readers")
	byFacility map[string]*Place // facility id → place, when one place has it
	byID       map[string]*Place // every fence of the model, by id
}

// newLocator indexes the port model's places. A nil model gives a locator
// that places nothing.
func newLocator(pm *PortModel) *locator {
	l := &locator{byReader: map[string]*Place{}, byFacility: map[string]*Place{}, byID: map[string]*Place{}}
	ambiguous := map[string]bool{}
	pm.EachFence(func(f *geo.Fence) bool {
		kind, _ := f.Properties["kind"].(string)
		p := &Place{ID: f.ID, Kind: kind, Name: f.Name}
		p.Block, _ = f.Properties["block"].(string)
		p.Lat, p.Lon, p.Radius = centroid(f)
		if strings.IndexByte(f.ID, 0) >= 0 || len(f.ID) > MaxFieldLen {
			return true // cannot be a key part (FORMAT.md)
		}
		l.byID[f.ID] = p
		if !isPlaceKind(kind) {
			return true
		}
		if readers, ok := f.Properties["readers"].([]any); ok {
			for _, r := range readers {
				if id, ok := r.(string); ok && id != "" {
					l.byReader[id] = p
				}
			}
		}
		if fa, _ := f.Properties["facility"].(string); fa != "" {
			if _, dup := l.byFacility[fa]; dup {
				ambiguous[fa] = true
			}
			l.byFacility[fa] = p
		}
		return true
	})
	for fa := range ambiguous {
		delete(l.byFacility, fa) // several berths share a quay facility
	}
	return l
}

func isPlaceKind(kind string) bool {
	switch kind {
	case KindBerth, KindYardBlock, KindGate, KindRailStation:
		return true
	}
	return false
}

func centroid(f *geo.Fence) (lat, lon, radius float64) {
	var n float64
	for _, p := range f.Polygons {
		for _, q := range p.Outer {
			lat += q.Lat
			lon += q.Lng
			n++
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	lat, lon = lat/n, lon/n
	c := geo.LatLng{Lat: lat, Lng: lon}
	for _, p := range f.Polygons {
		for _, q := range p.Outer {
			radius = math.Max(radius, geo.DistanceMeters(c, q))
		}
	}
	return lat, lon, radius
}

// place returns where an event with this read point and location happened:
// the read point as a reader id, else either as a place id, else the
// location as a facility that one place has; nil when none matches.
func (l *locator) place(readPoint, location string) *Place {
	if p := l.byReader[readPoint]; p != nil {
		return p
	}
	for _, id := range [2]string{readPoint, location} {
		if p := l.byID[id]; p != nil && isPlaceKind(p.Kind) {
			return p
		}
	}
	if p := l.byFacility[location]; p != nil {
		return p
	}
	return l.byFacility[readPoint]
}

// Place returns a place of the port model by fence id; ok is false when
// the model has no fence of a place kind (berth, yard block, gate, rail
// station) with that id.
func (s *Store) Place(id string) (Place, bool) {
	p := s.loc.byID[id]
	if p == nil || !isPlaceKind(p.Kind) {
		return Place{}, false
	}
	return *p, true
}

// FenceCentre returns the centroid of any fence of the port model and the
// radius that covers it; ok is false when there is no such fence.
func (s *Store) FenceCentre(id string) (p Place, ok bool) {
	q := s.loc.byID[id]
	if q == nil {
		return Place{}, false
	}
	return *q, true
}

// PlaceOf returns the place of an event with this read point and location
// (see the package's location rules in FORMAT.md); ok is false when neither
// names a place of the port model.
func (s *Store) PlaceOf(readPoint, location string) (Place, bool) {
	p := s.loc.place(readPoint, location)
	if p == nil {
		return Place{}, false
	}
	return *p, true
}
