package state

import (
	"errors"
	"fmt"
	"math"
)

// MaxTruckSpeedKmh bounds TruckReport.SpeedKmh: above it a GNSS speed is a
// unit error or a glitch.
const MaxTruckSpeedKmh = 400

// TruckReport is one GNSS position of a truck (BeiDou/GPS), in porttrack's
// terms. Ingest builds it from port.transport records.
type TruckReport struct {
	Plate    string  // canonical (ParsePlate)
	Time     int64   // observation time, Unix ns
	Lat, Lon float64 // degrees
	SpeedKmh float64 // km/h, UnknownFloat
	Heading  int     // degrees 0-359, UnknownInt
	// Container is the box the truck reports carrying (canonical ISO 6346),
	// "" when it carries none: a report without a container after one with
	// it means the truck dropped the box.
	Container string
}

// Validate checks the invariants the store relies on.
func (r *TruckReport) Validate() error {
	switch {
	case CheckPlate(r.Plate) != nil:
		return fmt.Errorf("plate %.64q: %w", r.Plate, ErrPlateFormat)
	case r.Time == 0:
		return errors.New("truck report has no time")
	case math.IsNaN(r.Lat) || math.IsNaN(r.Lon) || r.Lat < -90 || r.Lat > 90 || r.Lon < -180 || r.Lon > 180:
		return fmt.Errorf("position %v,%v out of range", r.Lat, r.Lon)
	case r.SpeedKmh != UnknownFloat && !(r.SpeedKmh >= 0 && r.SpeedKmh <= MaxTruckSpeedKmh):
		return fmt.Errorf("speed %v km/h out of range [0, %d]", r.SpeedKmh, MaxTruckSpeedKmh)
	case r.Heading != UnknownInt && (r.Heading < 0 || r.Heading > 359):
		return fmt.Errorf("heading %d out of range [0, 359]", r.Heading)
	}
	if r.Container != "" {
		if err := CheckContainer(r.Container); err != nil {
			return fmt.Errorf("container %.64q: %w", r.Container, err)
		}
	}
	return nil
}
