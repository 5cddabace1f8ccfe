package sim

import "time"

// CustomsSource is where customs and cross-border e-commerce traffic plugs
// into the day model. The generator calls it once per Milestone of a box,
// in production order, from the goroutine that calls Next; it appends the
// records it wants produced and returns dst. Each record is produced at its
// Time (at once when that is already past), into its Topic (empty:
// DayConfig.CustomsTopic), and counted as kind "customs". A source must be
// deterministic: the same milestones must give the same records, so that
// the same seed gives the same traffic; it draws from its own random
// stream, seeded from DayConfig.Seed.
type CustomsSource func(dst []Record, m Milestone) []Record

// MilestoneKind is what happened to a box.
type MilestoneKind uint8

const (
	// Manifest: the box is on the manifest of a vessel that berths in
	// about two hours (per discharged box, before its discharge).
	Manifest MilestoneKind = iota + 1
	Discharged
	Loaded
	GateIn
	GateOut
	RailLoaded
	RailUnloaded
	Inspected
)

var milestoneNames = [...]string{"", "manifest", "discharged", "loaded", "gate-in", "gate-out", "rail-loaded", "rail-unloaded", "inspected"}

func (k MilestoneKind) String() string {
	if int(k) < len(milestoneNames) {
		return milestoneNames[k]
	}
	return "milestone?"
}

// Milestone is a step of one box in the day model.
type Milestone struct {
	Kind      MilestoneKind
	Time      time.Time
	Container string
	// Export is true for a box leaving by sea (gate-in, rail-unloaded,
	// loaded), false for one arriving by sea.
	Export bool
	// Vessel is the vessel call the box arrives or leaves by (zero for a
	// box whose sea leg is outside the simulated time and for rail and
	// gate milestones of transshipment boxes).
	Vessel VesselRef
	// Facility is the terminal (geo/portmodel terminal id, e.g. "nbct") or
	// the rail station ("beilun-rail-station") of the milestone.
	Facility string
	// Train is set on rail milestones, Plate on gate milestones.
	Train, Plate string
}

// VesselRef identifies a vessel call.
type VesselRef struct {
	MMSI, IMO uint32
	Name      string
	Voyage    string // carrier voyage number, e.g. "0412E"
	Berth     string // geo/portmodel berth id
}

// milestone hands m to the customs source and schedules what it returns.
func (g *DayGenerator) milestone(m Milestone) {
	if g.cfg.Customs == nil {
		return
	}
	g.plan.CustomsEvents++
	g.buf = g.cfg.Customs(g.buf[:0], m)
	now := m.Time.UnixNano()
	for _, r := range g.buf {
		if r.Topic == "" {
			r.Topic = g.cfg.CustomsTopic
		}
		at := max(r.Time.UnixNano(), now)
		r.Time = time.Unix(0, at).UTC()
		g.push(dayItem{at: at, rec: r, kind: kindCustoms})
	}
	clear(g.buf)
}
