package state

import (
	"errors"
	"fmt"
	"slices"
)

// Multimodal plans: rail and barge departures with their consists, truck
// e-waybills with gate appointments, and the connection guard that judges,
// for every container planned on a departure, whether it will make it.

// Mode is the means of transport of a plan.
type Mode byte

// Modes; the byte is stored in keys (FORMAT.md).
const (
	ModeRail  Mode = 'R'
	ModeBarge Mode = 'B'
)

// String returns "rail" or "barge".
func (m Mode) String() string {
	switch m {
	case ModeRail:
		return "rail"
	case ModeBarge:
		return "barge"
	}
	return "unknown"
}

// ParseMode parses "rail" or "barge".
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "rail":
		return ModeRail, true
	case "barge":
		return ModeBarge, true
	}
	return 0, false
}

// MaxPlanIDLen bounds train, barge, service, station, wagon and waybill ids.
const MaxPlanIDLen = 64

// MaxPlanContainers bounds the containers of one plan or waybill.
const MaxPlanContainers = 1000

// Plan is a rail or barge departure as planned: a later plan for the same
// mode and id (by message time) replaces the earlier one.
type Plan struct {
	Mode      Mode
	ID        string // train or barge id
	Service   string // the service it runs (for the next departure)
	From, To  string // station or terminal ids
	Departure int64  // planned departure, Unix ns
	Cutoff    int64  // latest time a box can be ready, Unix ns
	Wagons    []Wagon
	Time      int64 // message time
}

// Wagon is one wagon (or barge bay) and the containers planned on it.
type Wagon struct {
	ID         string
	Containers []string
}

// PlanEvent is a rail or barge event: departed, arrived, loaded, unloaded.
type PlanEvent struct {
	Mode      Mode
	Plan      string // train or barge id
	Station   string
	Event     string // PlanDeparted, ...
	Wagon     string // "" when not about one wagon
	Container string // "" when not about one container
	Time      int64
}

// Plan event names.
const (
	PlanDeparted = "departed"
	PlanArrived  = "arrived"
	PlanLoaded   = "loaded"
	PlanUnloaded = "unloaded"
)

// Waybill is an electronic truck waybill with its gate appointment.
type Waybill struct {
	ID         string
	Plate      string
	Containers []string
	From, To   string
	Gate       string
	ApptStart  int64 // 0: no appointment
	ApptEnd    int64
	Status     string
	Time       int64
}

func checkID(what, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%s is empty", what)
	case len(s) > MaxPlanIDLen:
		return fmt.Errorf("%s longer than %d bytes", what, MaxPlanIDLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("%s contains a control character", what)
		}
	}
	return nil
}

// Validate checks the invariants the store relies on.
func (p *Plan) Validate() error {
	if p.Mode != ModeRail && p.Mode != ModeBarge {
		return fmt.Errorf("plan mode %q unknown", p.Mode)
	}
	for _, c := range [...]struct {
		what, s string
		req     bool
	}{{"train", p.ID, true}, {"service", p.Service, false}, {"from_station", p.From, true}, {"to_station", p.To, false}} {
		if err := checkID(c.what, c.s, c.req); err != nil {
			return err
		}
	}
	switch {
	case p.Departure == 0:
		return errors.New("plan has no departure")
	case p.Cutoff == 0:
		return errors.New("plan has no cutoff")
	case p.Cutoff > p.Departure:
		return errors.New("cutoff after departure")
	case p.Time == 0:
		return errors.New("plan has no time")
	}
	n := 0
	seen := map[string]bool{}
	for _, w := range p.Wagons {
		if err := checkID("wagon", w.ID, true); err != nil {
			return err
		}
		for _, c := range w.Containers {
			if err := CheckContainer(c); err != nil {
				return fmt.Errorf("container %.64q: %w", c, err)
			}
			if seen[c] {
				return fmt.Errorf("container %s planned twice", c)
			}
			seen[c] = true
			n++
		}
	}
	if n > MaxPlanContainers {
		return fmt.Errorf("plan lists %d containers, more than %d", n, MaxPlanContainers)
	}
	return nil
}

// Validate checks the invariants the store relies on.
func (e *PlanEvent) Validate() error {
	if e.Mode != ModeRail && e.Mode != ModeBarge {
		return fmt.Errorf("plan mode %q unknown", e.Mode)
	}
	if err := checkID("train", e.Plan, true); err != nil {
		return err
	}
	if err := checkID("station", e.Station, false); err != nil {
		return err
	}
	if err := checkID("wagon", e.Wagon, false); err != nil {
		return err
	}
	switch e.Event {
	case PlanDeparted, PlanArrived:
	case PlanLoaded, PlanUnloaded:
		if e.Container == "" {
			return fmt.Errorf("%s event has no container", e.Event)
		}
	default:
		return fmt.Errorf("event %.32q is not departed, arrived, loaded or unloaded", e.Event)
	}
	if e.Container != "" {
		if err := CheckContainer(e.Container); err != nil {
			return fmt.Errorf("container %.64q: %w", e.Container, err)
		}
	}
	if e.Time == 0 {
		return errors.New("event has no time")
	}
	return nil
}

// Validate checks the invariants the store relies on.
func (w *Waybill) Validate() error {
	if err := checkID("waybill", w.ID, true); err != nil {
		return err
	}
	if err := CheckPlate(w.Plate); err != nil {
		return fmt.Errorf("plate %.64q: %w", w.Plate, err)
	}
	for _, c := range [...]struct{ what, s string }{{"from", w.From}, {"to", w.To}, {"gate", w.Gate}, {"status", w.Status}} {
		if err := checkID(c.what, c.s, false); err != nil {
			return err
		}
	}
	if len(w.Containers) > MaxPlanContainers {
		return fmt.Errorf("waybill lists %d containers", len(w.Containers))
	}
	for _, c := range w.Containers {
		if err := CheckContainer(c); err != nil {
			return fmt.Errorf("container %.64q: %w", c, err)
		}
	}
	if (w.ApptStart == 0) != (w.ApptEnd == 0) || w.ApptEnd < w.ApptStart {
		return errors.New("appointment needs a start before its end")
	}
	if w.Time == 0 {
		return errors.New("waybill has no time")
	}
	return nil
}

// Verdict is the connection guard's judgement of one container on one
// departure.
type Verdict byte

// Verdicts.
const (
	VerdictNone    Verdict = 0 // not evaluated yet
	VerdictOnTrack Verdict = 1
	VerdictAtRisk  Verdict = 2
	VerdictMissed  Verdict = 3
)

var verdictNames = [...]string{"", "on_track", "at_risk", "missed"}

// String returns "on_track", "at_risk", "missed" ("" before evaluation).
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return ""
}

// ParseVerdict parses a verdict name.
func ParseVerdict(s string) (Verdict, bool) {
	for i := 1; i < len(verdictNames); i++ {
		if verdictNames[i] == s {
			return Verdict(i), true
		}
	}
	return VerdictNone, false
}

// Reason is why a container is at risk of missing or has missed its
// departure. The numeric values are stored: only append.
type Reason byte

// Reasons.
const (
	ReasonNotDischarged      Reason = 1 // still on the vessel (or not seen yet)
	ReasonTerminalHold       Reason = 2 // the terminal holds it
	ReasonNotAtStation       Reason = 3 // not at the departure station or terminal
	ReasonNoTruckAppointment Reason = 4 // must be trucked there and no waybill has an appointment
	ReasonLate               Reason = 5 // expected ready after the cutoff
	ReasonCutoffPassed       Reason = 6 // the cutoff passed before it was loaded
	ReasonDepartedWithout    Reason = 7 // the departure left without it
	ReasonCustomsHold        Reason = 8 // customs holds it
	ReasonInspection         Reason = 9 // selected for inspection, not yet done
	ReasonQuarantine         Reason = 10
	// ReasonUnknownStation: the port model does not know the departure
	// station, so only what needs no station is judged (a load reported
	// by the rail or barge operator, the departure or cutoff passing, holds,
	// lateness counted without the trip to the station).
	ReasonUnknownStation Reason = 11
	reasonCount                 = 12
)

var reasonNames = [reasonCount]string{"", "not_discharged", "terminal_hold", "not_at_station", "no_truck_appointment",
	"late", "cutoff_passed", "departed_without", "customs_hold", "inspection", "quarantine", "unknown_station"}

var reasonMessages = [reasonCount]string{"",
	"not yet discharged from its vessel",
	"held by the terminal",
	"not at the departure station",
	"must be trucked to the station and has no truck appointment",
	"expected ready after the cutoff",
	"the cutoff passed before it was loaded",
	"the departure left without it",
	"held by customs",
	"selected for inspection, not yet released",
	"held for quarantine",
	"the port model does not know the departure station: judged by time alone",
}

// String returns the reason code ("customs_hold", ...).
func (r Reason) String() string {
	if r < reasonCount {
		return reasonNames[r]
	}
	return ""
}

// Message returns a readable sentence for the reason.
func (r Reason) Message() string {
	if r < reasonCount {
		return reasonMessages[r]
	}
	return ""
}

// GuardState is the guard's current judgement of one container on a plan.
type GuardState struct {
	Container string
	Wagon     string
	Verdict   Verdict
	Reasons   []Reason
	Expected  int64 // expected ready time, Unix ns (0: unknown or loaded)
	Loaded    int64 // time it was loaded (rail/barge event), 0: not yet
	Evaluated int64 // guard clock at the last evaluation
}

// PlanState is a plan with its actual times and the guard's judgement of
// each of its containers, in wagon order.
type PlanState struct {
	Plan
	Departed, Arrived int64 // actual times, 0: not yet
	Containers        []GuardState
	// Wake is the guard clock at which time alone may change a verdict
	// (a box turning late, the cutoff passing), 0: none pending.
	Wake int64
}

// Counts returns the containers by verdict.
func (p *PlanState) Counts() map[Verdict]int {
	m := map[Verdict]int{}
	for i := range p.Containers {
		m[p.Containers[i].Verdict]++
	}
	return m
}

// guard returns the state of container c, or nil.
func (p *PlanState) guard(c string) *GuardState {
	for i := range p.Containers {
		if p.Containers[i].Container == c {
			return &p.Containers[i]
		}
	}
	return nil
}

// replace installs a newer plan, keeping what is known of containers that
// stay on it (loaded times, last verdicts).
func (p *PlanState) replace(np *Plan) {
	old := p.Containers
	p.Plan = *np
	p.Containers = nil
	for _, w := range np.Wagons {
		for _, c := range w.Containers {
			g := GuardState{Container: c, Wagon: w.ID}
			if i := slices.IndexFunc(old, func(o GuardState) bool { return o.Container == c }); i >= 0 {
				g = old[i]
				g.Wagon = w.ID
			}
			p.Containers = append(p.Containers, g)
		}
	}
}
