package state

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Leg is one movement of a container between places, planned or done:
// by vessel (from its RFID discharge and load events), truck (a waybill),
// rail or barge (a plan).
type Leg struct {
	Mode string // "vessel", "truck", "rail", "barge"
	ID   string // plan id, waybill id; "" for a vessel leg known only from RFID
	// Vehicle is the truck's plate for a truck leg.
	Vehicle  string
	From, To string // station, terminal or location ids, "" when unknown
	// Planned is the planned departure (rail, barge) or appointment start
	// (truck); Departed and Arrived the actual times; 0 when unknown.
	Planned, Departed, Arrived int64
	Status                     string // "planned", "active" or "done"
	// Verdict and Reasons: the connection guard's judgement (rail, barge).
	Verdict Verdict
	Reasons []Reason
}

// Legs is a container's legs in time order, with the mode it moves by now
// ("vessel", "truck", "rail", "barge", or "terminal" when it waits in one,
// "" when unknown) and the indexes of its current and next legs (-1: none).
type Legs struct {
	Mode          string
	Current, Next int
	Legs          []Leg
}

// legTime orders legs: the first known of departure, plan and arrival.
func legTime(l *Leg) int64 {
	for _, t := range []int64{l.Departed, l.Planned, l.Arrived} {
		if t != 0 {
			return t
		}
	}
	return 0
}

// ContainerLegs derives a container's legs from its history (vessel
// discharge and load), the waybills and the rail and barge plans that list
// it, and where it is now. ErrNotFound when nothing at all is known of it.
func (s *Store) ContainerLegs(id string) (Legs, error) {
	vw := s.View()
	defer vw.Close()
	return vw.ContainerLegs(id)
}

// ContainerLegs is Store.ContainerLegs as the view sees it.
func (vw *View) ContainerLegs(id string) (Legs, error) {
	out := Legs{Current: -1, Next: -1}
	c, err := vw.Container(id)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	// Vessel legs from the history: a discharge ends one, a load (not at
	// a rail station of a plan) starts one.
	var planStations []string
	var plans []PlanState
	if err := vw.ContainerPlans(id, func(p *PlanState) error {
		plans = append(plans, *p)
		planStations = append(planStations, p.From, p.To)
		return nil
	}); err != nil {
		return out, err
	}
	if known {
		if err := vw.vesselLegs(id, &c, planStations, &out); err != nil {
			return out, err
		}
	}
	for i := range plans {
		p := &plans[i]
		l := Leg{Mode: p.Mode.String(), ID: p.ID, From: p.From, To: p.To, Planned: p.Departure, Departed: p.Departed, Arrived: p.Arrived, Status: "planned"}
		if g := p.guard(id); g != nil {
			l.Verdict, l.Reasons = g.Verdict, g.Reasons
			switch {
			case g.Loaded != 0 && p.Arrived != 0:
				l.Status = "done"
			case g.Loaded != 0 && p.Departed != 0:
				l.Status = "active"
			case p.Departed != 0:
				l.Status = "done" // left without it (missed)
			}
		}
		out.Legs = append(out.Legs, l)
	}
	var ride struct {
		Plate       string
		Time, Since int64
	}
	var onTruck bool
	if tr := vw.s.opts.Trucks; tr != nil {
		if ride.Plate, ride.Time, ride.Since, onTruck, err = tr.ContainerRide(vw, id); err != nil {
			return out, err
		}
	}
	// As for ContainerPosition: a later event of the box ends the ride.
	onTruck = onTruck && !(known && c.Count > 0 && c.Last.Time >= ride.Time)
	wids, err := vw.waybillsOf(id)
	if err != nil {
		return out, err
	}
	if len(wids) > 0 || onTruck {
		for _, wid := range wids {
			w, err := vw.Waybill(wid)
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					continue
				}
				return out, err
			}
			l := Leg{Mode: "truck", ID: w.ID, Vehicle: w.Plate, From: w.From, To: w.To, Planned: w.ApptStart, Status: "planned"}
			switch strings.ToLower(w.Status) {
			case "delivered", "completed", "closed", "arrived":
				l.Status = "done"
			}
			if known && w.To != "" && c.Last.Location == w.To {
				l.Status, l.Arrived = "done", c.Last.Time // delivered where it was going
			}
			if onTruck && ride.Plate == w.Plate {
				l.Status, l.Departed = "active", ride.Since
				onTruck = false // accounted for
			}
			out.Legs = append(out.Legs, l)
		}
		if onTruck {
			out.Legs = append(out.Legs, Leg{Mode: "truck", Vehicle: ride.Plate, Departed: ride.Since, Status: "active"})
		}
	}
	if !known && len(out.Legs) == 0 {
		return out, ErrNotFound
	}
	slices.SortStableFunc(out.Legs, func(a, b Leg) int { return cmp.Compare(legTime(&a), legTime(&b)) })
	for i := range out.Legs {
		switch out.Legs[i].Status {
		case "active":
			if out.Current == -1 {
				out.Current = i
			}
		case "planned":
			if out.Next == -1 {
				out.Next = i
			}
		}
	}
	switch {
	case out.Current >= 0:
		out.Mode = out.Legs[out.Current].Mode
	case known && c.Last.Code != CodeGTOT:
		out.Mode = "terminal"
	}
	return out, nil
}

// vesselLegs adds the vessel legs of the box's current visit: its history
// read newest first, back to the discharge that began the visit (older
// visits are not this journey's), so the cost is the visit's events, not
// the box's whole life. A load not at a plan's station is a vessel leg,
// under way while it is the box's newest event.
func (vw *View) vesselLegs(id string, c *Container, planStations []string, out *Legs) error {
	prefix := append([]byte{prefixHistory}, id...)
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyUpperBound(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	var legs []Leg // newest first
	var e StoredEvent
visit:
	for ok := it.Last(); ok; ok = it.Prev() {
		// Only loads and discharges matter: the code is the value's second
		// byte (FORMAT.md), so other events are skipped undecoded.
		if v := it.Value(); len(v) >= 2 && v[0] == valueV1 && Code(v[1]) != CodeLOAD && Code(v[1]) != CodeDISC {
			continue
		}
		if err := decodeHistory(it.Key(), it.Value(), &e); err != nil {
			return fmt.Errorf("state: history of %s: %w", id, err)
		}
		switch e.Code {
		case CodeLOAD:
			if !slices.Contains(planStations, e.Location) {
				status := "done" // a later event ended it
				if len(legs) == 0 && e.Time >= c.Last.Time {
					status = "active"
				}
				legs = append(legs, Leg{Mode: "vessel", From: e.Location, Departed: e.Time, Status: status})
			}
		case CodeDISC:
			if !slices.Contains(planStations, e.Location) { // not a train's unload
				legs = append(legs, Leg{Mode: "vessel", To: e.Location, Arrived: e.Time, Status: "done"})
				break visit // the visit began here
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	slices.Reverse(legs)
	out.Legs = append(out.Legs, legs...)
	return nil
}

// waybillsOf returns the waybills listing container c, as stored.
func (vw *View) waybillsOf(c string) ([]string, error) {
	prefix := append([]byte{prefixWaybillMember}, c...)
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyUpperBound(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		ids = append(ids, string(it.Key()[len(prefix):]))
	}
	return ids, it.Error()
}
