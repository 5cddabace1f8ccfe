package state

import (
	"fmt"
	"math"
	"time"

	"github.com/porttrack/porttrack/geo"
)

// Vessel phases of a port call.
const (
	PhaseUnknown     = ""             // outside the port model, never seen inside
	PhaseApproaching = "approaching"  // in the approach route or port waters, inbound
	PhaseAnchorage   = "at_anchorage" // slow or anchored inside an anchorage
	PhaseBerthed     = "berthed"      // stopped at a berth
	PhaseDeparted    = "departed"     // left a berth
)

// Fence kinds of the port model that drive port calls.
const (
	KindBerth     = "berth"
	KindAnchorage = "anchorage"
	KindRoute     = "route"
	KindPortArea  = "port_area"
	KindTerminal  = "terminal"
)

// PortModel is the port's geography as the store uses it: the fences that
// decide where a vessel is, by kind. Built once at start; immutable.
type PortModel struct {
	fences *geo.FenceIndex
	kinds  map[string]string
	ids    []string // fence ids in model order
	// Locode is the UN/LOCODE of the port's transport calls ("CNNGB").
	Locode string
}

// NewPortModel covers the features' polygons with H3 cells. Features without
// a polygon (reader points, route lines) are ignored; "kind" comes from the
// feature properties.
func NewPortModel(features []geo.Feature, locode string) (*PortModel, error) {
	idx, err := geo.NewFenceIndex(geo.ResArea)
	if err != nil {
		return nil, err
	}
	pm := &PortModel{fences: idx, kinds: map[string]string{}, Locode: locode}
	for _, f := range features {
		if len(f.Polygons) == 0 {
			continue
		}
		fe, err := geo.NewFence(f, geo.ResArea)
		if err != nil {
			return nil, fmt.Errorf("port model: %w", err)
		}
		if err := idx.Add(fe); err != nil {
			return nil, fmt.Errorf("port model: %w", err)
		}
		kind, _ := f.Properties["kind"].(string)
		pm.kinds[f.ID] = kind
		pm.ids = append(pm.ids, f.ID)
	}
	return pm, nil
}

// Fence returns a fence of the model by id.
func (pm *PortModel) Fence(id string) (*geo.Fence, bool) {
	if pm == nil {
		return nil, false
	}
	return pm.fences.Get(id)
}

// EachFence calls fn with the model's fences in model order until fn
// returns false.
func (pm *PortModel) EachFence(fn func(*geo.Fence) bool) {
	if pm == nil {
		return
	}
	for _, id := range pm.ids {
		if f, ok := pm.fences.Get(id); ok && !fn(f) {
			return
		}
	}
}

// zone returns the most specific port-call fence containing a position:
// a berth, else an anchorage, else any other port water (route, port area,
// terminal); kind "" when outside them all.
func (pm *PortModel) zone(lat, lon float64) (id, kind string) {
	rank := func(k string) int {
		switch k {
		case KindBerth:
			return 3
		case KindAnchorage:
			return 2
		case KindRoute, KindPortArea, KindTerminal:
			return 1
		}
		return 0
	}
	best := 0
	_ = pm.fences.Containing(geo.LatLng{Lat: lat, Lng: lon}, func(fid string) bool {
		if r := rank(pm.kinds[fid]); r > best {
			best, id, kind = r, fid, pm.kinds[fid]
		}
		return true
	})
	return id, kind
}

// PortCallConfig tunes phase detection.
type PortCallConfig struct {
	// MinDwell is how long a vessel must stay in a new phase before the
	// phase changes: it absorbs GPS jitter at fence edges. Default 2 min.
	MinDwell time.Duration
	// BerthedMaxSpeed and AnchoredMaxSpeed (knots) separate a vessel at
	// rest from one passing through. Defaults 1.0 and 3.0.
	BerthedMaxSpeed, AnchoredMaxSpeed float64
	// EventTopic receives DCSA TRANSPORT events (ARRI/DEPA) through the
	// outbox; "" disables them.
	EventTopic string
}

func (c PortCallConfig) withDefaults() PortCallConfig {
	if c.MinDwell == 0 {
		c.MinDwell = 2 * time.Minute
	}
	if c.BerthedMaxSpeed == 0 {
		c.BerthedMaxSpeed = 1
	}
	if c.AnchoredMaxSpeed == 0 {
		c.AnchoredMaxSpeed = 3
	}
	return c
}

// PortCall is a vessel's port-call state, kept with its current state.
type PortCall struct {
	Phase      string
	PhaseSince int64  // event time the phase began
	Fence      string // fence of the phase (berth, anchorage), "" otherwise
	// Pending is a candidate phase not yet held for MinDwell.
	Pending, PendingFence string
	PendingSince          int64
	// AnchorageSince is when the current anchorage stay began (0: not at
	// anchorage); LastAnchorageWait the length of the last finished one.
	AnchorageSince    int64
	LastAnchorageWait time.Duration
}

// candidate returns the phase a position suggests.
func (pc *PortCall) candidate(kind string, speed float64, status int, cfg *PortCallConfig) string {
	stopped := func(max float64, navStatus int) bool {
		if speed != UnknownFloat {
			return speed <= max
		}
		return status == navStatus
	}
	switch {
	case kind == KindBerth && stopped(cfg.BerthedMaxSpeed, 5):
		return PhaseBerthed
	case (kind == KindAnchorage || kind == KindBerth) && stopped(cfg.AnchoredMaxSpeed, 1):
		if kind == KindAnchorage {
			return PhaseAnchorage
		}
	}
	switch pc.Phase {
	case PhaseBerthed, PhaseDeparted:
		return PhaseDeparted
	}
	if kind == "" {
		if pc.Phase == PhaseApproaching || pc.Phase == PhaseAnchorage {
			return PhaseUnknown // turned back out of the model
		}
		return pc.Phase
	}
	return PhaseApproaching
}

// transition is a phase change of one vessel.
type transition struct {
	from, to    string
	fence, prev string // fence of the new and of the old phase
	at          int64
}

// observe feeds one newer position; it returns the phase change, if any.
func (pc *PortCall) observe(t int64, fence, kind string, speed float64, status int, cfg *PortCallConfig) (transition, bool) {
	cand := pc.candidate(kind, speed, status, cfg)
	if kind != KindBerth && kind != KindAnchorage {
		fence = ""
	}
	if cand == pc.Phase && fence == pc.Fence {
		pc.Pending, pc.PendingFence, pc.PendingSince = "", "", 0
		return transition{}, false
	}
	if pc.PendingSince == 0 || cand != pc.Pending || fence != pc.PendingFence {
		pc.Pending, pc.PendingFence, pc.PendingSince = cand, fence, t
	}
	if t-pc.PendingSince < int64(cfg.MinDwell) {
		return transition{}, false
	}
	tr := transition{from: pc.Phase, to: cand, fence: fence, prev: pc.Fence, at: pc.PendingSince}
	if pc.Phase == PhaseAnchorage && pc.AnchorageSince != 0 {
		pc.LastAnchorageWait = time.Duration(tr.at - pc.AnchorageSince)
		pc.AnchorageSince = 0
	}
	if cand == PhaseAnchorage {
		pc.AnchorageSince = tr.at
	}
	pc.Phase, pc.Fence, pc.PhaseSince = cand, fence, tr.at
	pc.Pending, pc.PendingFence, pc.PendingSince = "", "", 0
	return tr, true
}

// VesselsInFence calls fn with every vessel whose current position is inside
// the port-model fence id, nearest its centre first; ok is false when the
// model has no such fence.
func (s *Store) VesselsInFence(id string, fn func(v *Vessel) bool) (ok bool, err error) {
	fe, found := s.opts.PortModel.Fence(id)
	if !found {
		return false, nil
	}
	// A circle around the fence's first ring covers it: search it, then
	// keep the vessels the fence contains.
	var c geo.LatLng
	var n float64
	for _, p := range fe.Polygons {
		for _, q := range p.Outer {
			c.Lat += q.Lat
			c.Lng += q.Lng
			n++
		}
	}
	c.Lat, c.Lng = c.Lat/n, c.Lng/n
	radius := 0.0
	for _, p := range fe.Polygons {
		for _, q := range p.Outer {
			radius = math.Max(radius, geo.DistanceMeters(c, q))
		}
	}
	err = s.VesselsNear(c.Lat, c.Lng, radius+1, 0, func(v *Vessel, _ float64) bool {
		if fe.Contains(geo.LatLng{Lat: v.Lat, Lng: v.Lon}) {
			return fn(v)
		}
		return true
	})
	return true, err
}
