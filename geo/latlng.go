package geo

import (
	"errors"
	"fmt"
	"math"
)

// EarthRadiusM is the IUGG mean Earth radius R1 in metres. DistanceMeters and
// every bound derived from it use this one sphere.
const EarthRadiusM = 6371008.8

// ErrInvalidLatLng is wrapped by every error about a coordinate out of range.
var ErrInvalidLatLng = errors.New("geo: invalid coordinate")

// LatLng is a WGS84 position in decimal degrees (CGCS2000 is treated as
// equal, DOMAIN.md §10). A LatLng literal is not checked; NewLatLng and Valid
// are, and every function that hands a position to H3 checks it first, because
// H3 silently wraps out-of-range longitudes and returns garbage for NaN.
type LatLng struct {
	Lat, Lng float64
}

// NewLatLng returns the position or an error wrapping ErrInvalidLatLng.
func NewLatLng(lat, lng float64) (LatLng, error) {
	p := LatLng{Lat: lat, Lng: lng}
	if !p.Valid() {
		return LatLng{}, p.invalidErr()
	}
	return p, nil
}

// Valid reports whether Lat is in [-90, 90] and Lng in [-180, 180]; NaN and
// infinities fail both comparisons.
func (p LatLng) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lng >= -180 && p.Lng <= 180
}

func (p LatLng) String() string {
	return fmt.Sprintf("(%.7f, %.7f)", p.Lat, p.Lng)
}

func (p LatLng) invalidErr() error {
	return fmt.Errorf("%w: lat %v lng %v", ErrInvalidLatLng, p.Lat, p.Lng)
}

// DistanceMeters is the great-circle distance between a and b on the sphere
// of radius EarthRadiusM, by the haversine formula (well conditioned for the
// short distances a port deals in, unlike the spherical law of cosines).
func DistanceMeters(a, b LatLng) float64 {
	const rad = math.Pi / 180
	sinDLat := math.Sin((b.Lat - a.Lat) * rad / 2)
	sinDLng := math.Sin((b.Lng - a.Lng) * rad / 2)
	h := sinDLat*sinDLat + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*sinDLng*sinDLng
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(min(h, 1)))
}

// distanceFrom computes DistanceMeters from one fixed point to many others,
// with the fixed point's cosine computed once. Results are bit-identical to
// DistanceMeters(from, p).
type distanceFrom struct {
	from   LatLng
	cosLat float64
}

func newDistanceFrom(from LatLng) distanceFrom {
	const rad = math.Pi / 180
	return distanceFrom{from: from, cosLat: math.Cos(from.Lat * rad)}
}

func (d distanceFrom) meters(b LatLng) float64 { return distanceOfHav(d.hav(b)) }

// hav is the haversine term of the distance to b: DistanceMeters is
// distanceOfHav of it, and it grows with the distance.
func (d distanceFrom) hav(b LatLng) float64 {
	const rad = math.Pi / 180
	sinDLat := math.Sin((b.Lat - d.from.Lat) * rad / 2)
	sinDLng := math.Sin((b.Lng - d.from.Lng) * rad / 2)
	return sinDLat*sinDLat + d.cosLat*math.Cos(b.Lat*rad)*sinDLng*sinDLng
}

func distanceOfHav(h float64) float64 {
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(min(h, 1)))
}
