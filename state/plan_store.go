package state

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// idEnd terminates a variable-length id inside a multimodal key (the
// prefixes are in keys.go).
const idEnd byte = 0x00

// GuardConfig tunes the connection guard. The step durations are how long
// each remaining step is expected to take; a container whose expected ready
// time (the guard clock plus its remaining steps) passes the cutoff is at
// risk.
type GuardConfig struct {
	// AlertTopic receives a "connection" alert per verdict change; ""
	// writes none.
	AlertTopic string
	// Discharge: from "on the vessel" to discharged (default 6h).
	Discharge time.Duration
	// HoldClear: a terminal hold lifted (default 24h).
	HoldClear time.Duration
	// CustomsClear: a customs hold or inspection released (default 24h).
	CustomsClear time.Duration
	// Transfer: trucked from the terminal to the station (default 2h).
	Transfer time.Duration
	// Load: handled at the station onto the wagon (default 1h).
	Load time.Duration
}

func (c GuardConfig) withDefaults() GuardConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Discharge, 6*time.Hour)
	def(&c.HoldClear, 24*time.Hour)
	def(&c.CustomsClear, 24*time.Hour)
	def(&c.Transfer, 2*time.Hour)
	def(&c.Load, time.Hour)
	return c
}

type planRef struct {
	mode Mode
	id   string
}

func planKey(dst []byte, m Mode, id string) []byte {
	dst = append(dst, prefixPlan, byte(m))
	return append(dst, id...)
}

func planMemberKey(dst []byte, container string, m Mode, id string) []byte {
	dst = append(dst, prefixPlanMember)
	dst = append(dst, container...)
	dst = append(dst, byte(m))
	return append(dst, id...)
}

func planTimeKey(dst []byte, prefix byte, group string, t int64, m Mode, id string) []byte {
	dst = append(dst, prefix)
	dst = append(dst, group...)
	dst = append(dst, idEnd)
	dst = binary.BigEndian.AppendUint64(dst, sortableTime(t))
	dst = append(dst, byte(m))
	return append(dst, id...)
}

func planCutoffKey(dst []byte, t int64, m Mode, id string) []byte {
	dst = append(dst, prefixPlanCutoff)
	dst = binary.BigEndian.AppendUint64(dst, sortableTime(t))
	dst = append(dst, byte(m))
	return append(dst, id...)
}

func waybillKey(dst []byte, id string) []byte {
	return append(append(dst, prefixWaybill), id...)
}

func waybillMemberKey(dst []byte, container, id string) []byte {
	dst = append(dst, prefixWaybillMember)
	dst = append(dst, container...)
	return append(dst, id...)
}

func appendPlanState(dst []byte, p *PlanState) []byte {
	dst = append(dst, valueV1)
	dst = binary.AppendVarint(dst, p.Time)
	dst = appendStr(dst, p.Service)
	dst = appendStr(dst, p.From)
	dst = appendStr(dst, p.To)
	dst = binary.AppendVarint(dst, p.Departure)
	dst = binary.AppendVarint(dst, p.Cutoff)
	dst = binary.AppendVarint(dst, p.Departed)
	dst = binary.AppendVarint(dst, p.Arrived)
	dst = binary.AppendVarint(dst, p.Wake)
	dst = binary.AppendUvarint(dst, uint64(len(p.Wagons)))
	for _, w := range p.Wagons {
		dst = appendStr(dst, w.ID)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.Containers)))
	for i := range p.Containers {
		g := &p.Containers[i]
		dst = appendStr(dst, g.Container)
		dst = appendStr(dst, g.Wagon)
		dst = append(dst, byte(g.Verdict))
		dst = binary.AppendVarint(dst, g.Expected)
		dst = binary.AppendVarint(dst, g.Loaded)
		dst = binary.AppendVarint(dst, g.Evaluated)
		dst = binary.AppendUvarint(dst, uint64(len(g.Reasons)))
		for _, r := range g.Reasons {
			dst = append(dst, byte(r))
		}
	}
	return dst
}

func decodePlanState(m Mode, id string, b []byte, p *PlanState) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	*p = PlanState{Plan: Plan{Mode: m, ID: id}}
	p.Time = r.varint()
	p.Service, p.From, p.To = r.str(), r.str(), r.str()
	p.Departure, p.Cutoff = r.varint(), r.varint()
	p.Departed, p.Arrived = r.varint(), r.varint()
	p.Wake = r.varint()
	nw := r.uvarint()
	if nw > MaxPlanContainers+1 {
		return errCorrupt
	}
	for range nw {
		p.Wagons = append(p.Wagons, Wagon{ID: r.str()})
	}
	nc := r.uvarint()
	if nc > 2*MaxPlanContainers+1 {
		return errCorrupt
	}
	for range nc {
		g := GuardState{Container: r.str(), Wagon: r.str(), Verdict: Verdict(r.byte())}
		g.Expected, g.Loaded, g.Evaluated = r.varint(), r.varint(), r.varint()
		nr := r.uvarint()
		if nr > reasonCount {
			return errCorrupt
		}
		for range nr {
			g.Reasons = append(g.Reasons, Reason(r.byte()))
		}
		p.Containers = append(p.Containers, g)
	}
	if r.err != nil {
		return r.err
	}
	for i := range p.Wagons {
		for _, g := range p.Containers {
			if g.Wagon == p.Wagons[i].ID {
				p.Wagons[i].Containers = append(p.Wagons[i].Containers, g.Container)
			}
		}
	}
	return nil
}

func appendWaybill(dst []byte, w *Waybill) []byte {
	dst = append(dst, valueV1)
	dst = appendStr(dst, w.Plate)
	dst = binary.AppendUvarint(dst, uint64(len(w.Containers)))
	for _, c := range w.Containers {
		dst = appendStr(dst, c)
	}
	dst = appendStr(dst, w.From)
	dst = appendStr(dst, w.To)
	dst = appendStr(dst, w.Gate)
	dst = binary.AppendVarint(dst, w.ApptStart)
	dst = binary.AppendVarint(dst, w.ApptEnd)
	dst = appendStr(dst, w.Status)
	return binary.AppendVarint(dst, w.Time)
}

func decodeWaybill(id string, b []byte, w *Waybill) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	*w = Waybill{ID: id, Plate: r.str()}
	n := r.uvarint()
	if n > MaxPlanContainers {
		return errCorrupt
	}
	for range n {
		w.Containers = append(w.Containers, r.str())
	}
	w.From, w.To, w.Gate = r.str(), r.str(), r.str()
	w.ApptStart, w.ApptEnd = r.varint(), r.varint()
	w.Status = r.str()
	w.Time = r.varint()
	return r.err
}

// mmScratch is the multimodal part of a batch's work.
type mmScratch struct {
	plans    map[planRef]*planWork
	waybills map[string]*waybillWork
	// batchWaybills is, per container, the waybills this batch made list it.
	batchWaybills map[string][]string
	// Changes to the in-memory indexes and the guard clock, made after the
	// commit.
	memberAdds, memberDels []memberChange
	clock                  int64
	// unknownStations are the plans of this batch whose departure station
	// the port model does not know, counted and logged after the commit.
	unknownStations []unknownStation
}

// unknownStation is a plan message whose departure station the port model
// does not know.
type unknownStation struct {
	ref     planRef
	station string
}

// maxLoggedStations bounds the unknown stations remembered as logged: past
// it, further ones are counted only.
const maxLoggedStations = 1024

// memberChange adds or removes a container's membership of a plan (ref) or
// of a waybill (waybill).
type memberChange struct {
	container string
	ref       planRef
	waybill   string
}

// mmIndex is, in memory, which plans and which waybills list each
// container, so that a batch of container events finds the departures to
// re-judge, and a judgement the truck appointments, without a Pebble read.
// Only Apply (under s.mu) and Open touch it; both maps mirror the 0x81 and
// 0x87 keys.
type mmIndex struct {
	plans    map[string][]planRef
	waybills map[string][]string
	// loggedStations are the unknown departure stations logged since Open
	// (the first plan of each is logged); unknownPlans counts the plan
	// messages from unknown stations.
	loggedStations map[string]struct{}
	unknownPlans   atomic.Uint64
}

// PlanMetrics are the multimodal plan counters since Open.
type PlanMetrics struct {
	// UnknownStation counts rail and barge plan messages whose departure
	// station the port model does not know (judged by time alone, reason
	// unknown_station).
	UnknownStation uint64
}

// PlanMetrics returns the plan counters.
func (s *Store) PlanMetrics() PlanMetrics {
	return PlanMetrics{UnknownStation: s.mmIdx.unknownPlans.Load()}
}

func (s *Store) loadPlanned() error {
	s.mmIdx.plans, s.mmIdx.waybills = map[string][]planRef{}, map[string][]string{}
	s.mmIdx.loggedStations = map[string]struct{}{}
	for _, prefix := range []byte{prefixPlanMember, prefixWaybillMember} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) < 1+ContainerLen+2 {
				it.Close()
				return fmt.Errorf("state: member key %x: %w", k, errCorrupt)
			}
			c := string(k[1 : 1+ContainerLen])
			if prefix == prefixPlanMember {
				s.mmIdx.plans[c] = append(s.mmIdx.plans[c], planRef{Mode(k[1+ContainerLen]), string(k[2+ContainerLen:])})
			} else {
				s.mmIdx.waybills[c] = append(s.mmIdx.waybills[c], string(k[1+ContainerLen:]))
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	var err error
	s.mu.guardClock, err = s.guardClock()
	return err
}

// commitMultimodal makes the in-memory effects of a committed batch.
func (s *Store) commitMultimodal() {
	mm := &s.mu.scratch.mm
	for _, a := range mm.memberAdds {
		if a.waybill != "" {
			if !slices.Contains(s.mmIdx.waybills[a.container], a.waybill) {
				s.mmIdx.waybills[a.container] = append(s.mmIdx.waybills[a.container], a.waybill)
			}
		} else if !slices.Contains(s.mmIdx.plans[a.container], a.ref) {
			s.mmIdx.plans[a.container] = append(s.mmIdx.plans[a.container], a.ref)
		}
	}
	for _, d := range mm.memberDels {
		if d.waybill != "" {
			ws := slices.DeleteFunc(s.mmIdx.waybills[d.container], func(w string) bool { return w == d.waybill })
			if len(ws) == 0 {
				delete(s.mmIdx.waybills, d.container)
			} else {
				s.mmIdx.waybills[d.container] = ws
			}
			continue
		}
		rs := slices.DeleteFunc(s.mmIdx.plans[d.container], func(r planRef) bool { return r == d.ref })
		if len(rs) == 0 {
			delete(s.mmIdx.plans, d.container)
		} else {
			s.mmIdx.plans[d.container] = rs
		}
	}
	s.mu.guardClock = max(s.mu.guardClock, mm.clock)
	mm.memberAdds, mm.memberDels = mm.memberAdds[:0], mm.memberDels[:0]
	for _, u := range mm.unknownStations {
		s.mmIdx.unknownPlans.Add(1)
		if _, ok := s.mmIdx.loggedStations[u.station]; ok || len(s.mmIdx.loggedStations) >= maxLoggedStations {
			continue
		}
		s.mmIdx.loggedStations[u.station] = struct{}{}
		s.opts.Logger.Warn("plan departs from a station the port model does not know: its boxes are judged by time alone (reason unknown_station); further plans from it are counted in porttrack_plans_unknown_station_total",
			"station", u.station, "mode", u.ref.mode.String(), "plan", u.ref.id)
	}
	mm.unknownStations = mm.unknownStations[:0]
}

type planWork struct {
	p     PlanState
	found bool // stored before this batch or created in it
	dirty bool
	// all: judge every container (the plan or time changed); otherwise
	// only boxes (their own events changed).
	all   bool
	boxes map[string]struct{}
	// replaced: a plan message replaced the consist in this batch.
	replaced bool
}

type waybillWork struct {
	w     Waybill
	found bool
}

func (s *Store) planForApply(mm *mmScratch, m Mode, id string) (*planWork, error) {
	ref := planRef{m, id}
	if w, ok := mm.plans[ref]; ok {
		return w, nil
	}
	w := &planWork{p: PlanState{Plan: Plan{Mode: m, ID: id}}}
	var err error
	if w.found, err = s.storedPlan(m, id, &w.p); err != nil {
		return nil, err
	}
	mm.plans[ref] = w
	return w, nil
}

func (s *Store) waybillForApply(mm *mmScratch, id string) (*waybillWork, error) {
	if w, ok := mm.waybills[id]; ok {
		return w, nil
	}
	w := &waybillWork{}
	var err error
	if w.found, err = s.storedWaybill(id, &w.w); err != nil {
		return nil, err
	}
	mm.waybills[id] = w
	return w, nil
}

// planIndexKeys returns the secondary keys a plan state owns; its
// container keys only with members (they change only with the consist).
func planIndexKeys(p *PlanState, members bool) [][]byte {
	var ks [][]byte
	if p.Time == 0 {
		return nil // events only, no plan yet
	}
	if p.Service != "" {
		ks = append(ks, planTimeKey(nil, prefixPlanService, p.Service, p.Departure, p.Mode, p.ID))
	}
	ks = append(ks, planTimeKey(nil, prefixPlanStation, p.From, p.Departure, p.Mode, p.ID))
	if p.Wake != 0 {
		ks = append(ks, planCutoffKey(nil, p.Wake, p.Mode, p.ID))
	}
	if members {
		for _, g := range p.Containers {
			ks = append(ks, planMemberKey(nil, g.Container, p.Mode, p.ID))
		}
	}
	return ks
}

// applyMultimodal applies the batch's plans, plan events and waybills, then
// re-evaluates the connection guard for every plan the batch touched: its
// own plans, the plans of containers with new events or waybills, and plans
// whose cutoff the guard clock passed. Called by Apply under s.mu after the
// container events are in sc.current.
func (s *Store) applyMultimodal(pb *pebble.Batch, b *Batch, now int64, res *ApplyResult) error {
	sc := &s.mu.scratch
	mm := &sc.mm
	if mm.plans == nil {
		mm.plans = make(map[planRef]*planWork)
		mm.waybills = make(map[string]*waybillWork)
		mm.batchWaybills = make(map[string][]string)
	}
	clear(mm.plans)
	clear(mm.waybills)
	clear(mm.batchWaybills)
	mm.memberAdds, mm.memberDels = mm.memberAdds[:0], mm.memberDels[:0]
	mm.unknownStations = mm.unknownStations[:0]

	clock := s.mu.guardClock
	oldClock := clock
	for i := range b.Events {
		clock = max(clock, b.Events[i].Time)
	}
	for i := range b.Plans {
		clock = max(clock, b.Plans[i].Time)
	}
	for i := range b.PlanEvents {
		clock = max(clock, b.PlanEvents[i].Time)
	}
	for i := range b.Waybills {
		clock = max(clock, b.Waybills[i].Time)
	}
	for i := range b.Trucks {
		clock = max(clock, b.Trucks[i].Time)
	}

	affected := map[string]struct{}{} // containers whose plans to re-evaluate
	for i := range b.Waybills {
		nw := &b.Waybills[i]
		w, err := s.waybillForApply(mm, nw.ID)
		if err != nil {
			return err
		}
		if w.found && nw.Time < w.w.Time {
			continue // an older version
		}
		for _, c := range w.w.Containers {
			affected[c] = struct{}{}
			if err := pb.Delete(waybillMemberKey(nil, c, nw.ID), nil); err != nil {
				return err
			}
			mm.memberDels = append(mm.memberDels, memberChange{container: c, waybill: nw.ID})
		}
		if w.found && w.w.Gate != "" && w.w.ApptStart != 0 {
			if err := pb.Delete(planTimeKey(nil, prefixGateAppt, w.w.Gate, w.w.ApptStart, 0, nw.ID), nil); err != nil {
				return err
			}
		}
		w.w, w.found = *nw, true
		w.w.Containers = slices.Clone(nw.Containers)
		for _, c := range nw.Containers {
			affected[c] = struct{}{}
			if err := pb.Set(waybillMemberKey(nil, c, nw.ID), nil, nil); err != nil {
				return err
			}
			mm.memberAdds = append(mm.memberAdds, memberChange{container: c, waybill: nw.ID})
			mm.batchWaybills[c] = append(mm.batchWaybills[c], nw.ID)
		}
		if nw.Gate != "" && nw.ApptStart != 0 {
			if err := pb.Set(planTimeKey(nil, prefixGateAppt, nw.Gate, nw.ApptStart, 0, nw.ID), nil, nil); err != nil {
				return err
			}
		}
		if err := pb.Set(waybillKey(nil, nw.ID), appendWaybill(nil, &w.w), nil); err != nil {
			return err
		}
		res.Waybills++
	}

	if len(b.Trucks) > 0 && s.opts.Trucks != nil {
		err := s.opts.Trucks.EachBatchRide(func(container, plate string, t int64, start bool) error {
			rc := rideChange{container: container, plate: plate, time: t, start: start}
			return s.dcsaTruckLeg(pb, mm, &rc, now, res)
		})
		if err != nil {
			return err
		}
	}

	// Index keys of each touched plan as stored, to diff at the end.
	before := map[planRef][][]byte{}
	// touch marks a plan for judging: all its containers (box "") or one.
	touch := func(m Mode, id, box string) (*planWork, error) {
		w, err := s.planForApply(mm, m, id)
		if err != nil {
			return nil, err
		}
		ref := planRef{m, id}
		if _, ok := before[ref]; !ok {
			before[ref] = planIndexKeys(&w.p, false)
		}
		w.dirty = true
		if box == "" {
			w.all = true
		} else {
			if w.boxes == nil {
				w.boxes = map[string]struct{}{}
			}
			w.boxes[box] = struct{}{}
		}
		return w, nil
	}
	for i := range b.Plans {
		np := &b.Plans[i]
		w, err := touch(np.Mode, np.ID, "")
		if err != nil {
			return err
		}
		if w.p.Time != 0 && np.Time < w.p.Time {
			continue // superseded
		}
		if !w.replaced {
			w.replaced = true
			if w.p.Time != 0 {
				for _, g := range w.p.Containers {
					before[planRef{np.Mode, np.ID}] = append(before[planRef{np.Mode, np.ID}], planMemberKey(nil, g.Container, np.Mode, np.ID))
				}
			}
		}
		w.p.replace(np)
		w.found = true
		res.Plans++
		if !s.knownStation(np.From) {
			mm.unknownStations = append(mm.unknownStations, unknownStation{planRef{np.Mode, np.ID}, np.From})
		}
	}
	for i := range b.PlanEvents {
		e := &b.PlanEvents[i]
		w, err := touch(e.Mode, e.Plan, e.Container)
		if err != nil {
			return err
		}
		if e.Event == PlanDeparted || e.Event == PlanArrived {
			w.all = true
		}
		changed := false
		switch e.Event {
		case PlanDeparted:
			if w.p.Departed == 0 || e.Time < w.p.Departed {
				w.p.Departed, changed = e.Time, w.p.Departed == 0
			}
		case PlanArrived:
			if w.p.Arrived == 0 || e.Time < w.p.Arrived {
				w.p.Arrived, changed = e.Time, w.p.Arrived == 0
			}
		case PlanLoaded, PlanUnloaded:
			g := w.p.guard(e.Container)
			if g == nil {
				// Loaded before (or without) a plan naming it: remembered
				// so that a later plan keeps the loaded time.
				w.p.Containers = append(w.p.Containers, GuardState{Container: e.Container, Wagon: e.Wagon})
				g = &w.p.Containers[len(w.p.Containers)-1]
			}
			if e.Event == PlanLoaded {
				if g.Loaded == 0 || e.Time < g.Loaded {
					g.Loaded, changed = e.Time, g.Loaded == 0
				}
			} else if g.Loaded != 0 && e.Time >= g.Loaded && (w.p.Departed == 0 || e.Time < w.p.Departed) {
				// Unloaded before the departure: taken off it. Unloaded
				// after it is the end of the trip (an inbound train at
				// the port): the box made its departure.
				g.Loaded, changed = 0, true
			}
		}
		if changed {
			// The leg's DCSA event, once per change (a repeated record
			// changes nothing and logs nothing).
			if err := s.dcsaPlanEvent(pb, e, now, res); err != nil {
				return err
			}
		}
		w.found = true
		res.PlanEvents++
	}
	for i := range b.Events {
		if c := b.Events[i].Container; len(s.mmIdx.plans[c]) > 0 {
			affected[c] = struct{}{}
		}
	}
	if cb := s.opts.CustomsBlocks; cb != nil {
		cb.ChangedBoxes(func(c string) { // customs state changed
			if len(s.mmIdx.plans[c]) > 0 {
				affected[c] = struct{}{}
			}
		})
	}
	for c := range affected {
		for _, r := range s.mmIdx.plans[c] {
			if _, err := touch(r.mode, r.id, c); err != nil {
				return err
			}
		}
	}
	if clock > oldClock {
		// Plans due a re-evaluation because time passed: a container
		// becoming late, or the cutoff passing.
		it, err := s.db.NewIter(&pebble.IterOptions{
			LowerBound: []byte{prefixPlanCutoff},
			UpperBound: binary.BigEndian.AppendUint64([]byte{prefixPlanCutoff}, sortableTime(clock+1)),
		})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if len(k) < 10 {
				it.Close()
				return fmt.Errorf("state: cutoff key %x: %w", k, errCorrupt)
			}
			if _, err := touch(Mode(k[9]), string(k[10:]), ""); err != nil {
				it.Close()
				return err
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
		if err := pb.Set([]byte{prefixGuardClock}, binary.BigEndian.AppendUint64(nil, uint64(clock)), nil); err != nil {
			return err
		}
	}

	// Plans in key order: the alerts they write take outbox sequence
	// numbers, which must not depend on map order.
	refs := make([]planRef, 0, len(mm.plans))
	for ref, w := range mm.plans {
		if w.dirty {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, func(a, b planRef) int {
		return cmp.Or(cmp.Compare(a.mode, b.mode), strings.Compare(a.id, b.id))
	})
	for _, ref := range refs {
		w := mm.plans[ref]
		var only map[string]struct{}
		if !w.all {
			only = w.boxes
		}
		if err := s.evaluatePlan(pb, mm, &w.p, only, clock, res); err != nil {
			return err
		}
		after := planIndexKeys(&w.p, w.replaced)
		inAfter := make(map[string]struct{}, len(after))
		for _, k := range after {
			inAfter[string(k)] = struct{}{}
		}
		inBefore := make(map[string]struct{}, len(before[ref]))
		for _, k := range before[ref] {
			inBefore[string(k)] = struct{}{}
			if _, ok := inAfter[string(k)]; ok {
				continue
			}
			if err := pb.Delete(k, nil); err != nil {
				return err
			}
			if k[0] == prefixPlanMember {
				mm.memberDels = append(mm.memberDels, memberChange{container: string(k[1 : 1+ContainerLen]), ref: ref})
			}
		}
		for _, k := range after {
			if _, ok := inBefore[string(k)]; ok {
				continue
			}
			if err := pb.Set(k, nil, nil); err != nil {
				return err
			}
			if k[0] == prefixPlanMember {
				mm.memberAdds = append(mm.memberAdds, memberChange{container: string(k[1 : 1+ContainerLen]), ref: ref})
			}
		}
		if err := pb.Set(planKey(nil, w.p.Mode, w.p.ID), appendPlanState(nil, &w.p), nil); err != nil {
			return err
		}
	}
	mm.clock = clock
	return nil
}

func (s *Store) guardClock() (int64, error) {
	v, closer, err := s.db.Get([]byte{prefixGuardClock})
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("state: guard clock: %w", errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// eachPlanOf calls fn for every plan that lists container c (as stored).
func (vw *View) eachPlanOf(c string, fn func(m Mode, id string) error) error {
	prefix := append([]byte{prefixPlanMember}, c...)
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keyUpperBound(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < len(prefix)+2 {
			return fmt.Errorf("state: plan member key %x: %w", k, errCorrupt)
		}
		if err := fn(Mode(k[len(prefix)]), string(k[len(prefix)+1:])); err != nil {
			return err
		}
	}
	return it.Error()
}

// keyUpperBound returns the smallest key greater than every key with prefix.
func keyUpperBound(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// containerForGuard returns a container's current state, as this batch
// left it, and whether it has any.
func (s *Store) containerForGuard(id string) (Container, bool, error) {
	if c := s.mu.scratch.current[id]; c != nil && c.Count > 0 {
		return *c, true, nil
	}
	c, err := s.Container(id)
	if errors.Is(err, ErrNotFound) {
		return c, false, nil
	}
	return c, err == nil, err
}

// truckAppointment returns the appointment window of a waybill that trucks
// container c to station, as this batch left the waybills.
func (s *Store) truckAppointment(mm *mmScratch, c, station string) (start, end int64, err error) {
	err = s.waybillsListing(mm, c, func(w *Waybill) bool {
		if w.To == station && w.ApptStart != 0 && (start == 0 || w.ApptEnd < end) {
			start, end = w.ApptStart, w.ApptEnd
		}
		return true
	})
	return start, end, err
}

// waybillsListing calls fn, until it returns false, with each waybill that
// lists container c as this batch left them: those listing it as stored
// and those this batch made list it.
func (s *Store) waybillsListing(mm *mmScratch, c string, fn func(w *Waybill) bool) error {
	ids := s.mmIdx.waybills[c]
	if added := mm.batchWaybills[c]; len(added) > 0 {
		ids = append(slices.Clone(ids), added...)
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		w, err := s.waybillForApply(mm, id)
		if err != nil {
			return err
		}
		if !w.found || !slices.Contains(w.w.Containers, c) {
			continue // the box left this waybill in this batch
		}
		if !fn(&w.w) {
			return nil
		}
	}
	return nil
}

// judge is the connection guard's rule for one container: pure, given what
// the store knows. now is the guard clock. It returns the verdict, its
// reasons and the expected ready time.
//
// A hold (terminal or customs, inspection, quarantine) has no known end: it
// makes the box at risk whatever the time. The other steps (discharge,
// trucking to the station without an appointment) only count against the
// cutoff: the box is at risk when the clock plus the time they take passes
// it, with "late" among the reasons.
//
// atStation tells whether the box's newest event is at the plan's
// departure station (its location, or the place the port model gives it);
// a load there is the box going onto the train or barge.
//
// known tells whether the port model knows the departure station. When it
// does not, a box not seen at the station may or may not need trucking
// there: the trip is left out of its expected ready time (a lower bound),
// so only what holds without it is judged (loaded, the departure or the
// cutoff passed, a hold, late even without the trip), and every reason
// list ends with unknown_station; otherwise the verdict stays none.
func judge(cfg *GuardConfig, p *PlanState, g *GuardState, c *Container, seen, atStation, known bool, apptStart, apptEnd int64, customs []Reason, now int64) (Verdict, []Reason, int64) {
	if g.Loaded != 0 || seen && atStation && c.Last.Code == CodeLOAD {
		return VerdictOnTrack, nil, 0
	}
	unknown := func(rs []Reason) []Reason {
		if known {
			return rs
		}
		return append(rs, ReasonUnknownStation)
	}
	if p.Departed != 0 {
		return VerdictMissed, unknown([]Reason{ReasonDepartedWithout}), 0
	}
	if p.Time != 0 && now > p.Cutoff {
		return VerdictMissed, unknown([]Reason{ReasonCutoffPassed}), 0
	}
	var reasons []Reason
	hold := false
	ready := now
	atStation = atStation && seen && c.Last.Code != CodeGTOT
	switch {
	case !seen && !known:
		// Never seen at the port, for a station the port model does
		// not know: it may well be there already.
	case !seen || c.Last.Code == CodeLOAD && !atStation:
		reasons = append(reasons, ReasonNotDischarged)
		ready += int64(cfg.Discharge)
	case c.Last.Code == CodeHOLD:
		reasons = append(reasons, ReasonTerminalHold)
		ready += int64(cfg.HoldClear)
		hold = true
	}
	if len(customs) > 0 {
		reasons = append(reasons, customs...)
		ready += int64(cfg.CustomsClear)
		hold = true
	}
	if !atStation && known {
		if apptStart != 0 {
			ready = max(ready+int64(cfg.Transfer), apptEnd)
		} else {
			reasons = append(reasons, ReasonNoTruckAppointment)
			ready += int64(cfg.Transfer)
		}
	}
	ready += int64(cfg.Load)
	switch {
	case p.Time == 0:
		return VerdictNone, unknown(reasons), ready // no plan yet: nothing to judge against
	case ready > p.Cutoff:
		return VerdictAtRisk, unknown(append(reasons, ReasonLate)), ready
	case hold:
		return VerdictAtRisk, unknown(reasons), ready
	case !known && !atStation:
		return VerdictNone, unknown(nil), ready // the trip to the station is not known
	}
	return VerdictOnTrack, nil, ready
}

// dcsaPlanEvent logs the DCSA event of a rail or barge leg: a box loaded or
// unloaded (EQUIPMENT LOAD/DISC with the train as its transport call), a
// train departed or arrived (TRANSPORT DEPA/ARRI).
func (s *Store) dcsaPlanEvent(pb *pebble.Batch, e *PlanEvent, now int64, res *ApplyResult) error {
	mode := "RAIL"
	if e.Mode == ModeBarge {
		mode = "BARGE"
	}
	d := DCSAEvent{
		ID:              uuidFrom(fmt.Sprintf("porttrack/plan/%c/%s/%s/%s/%d", e.Mode, e.Plan, e.Event, e.Container, e.Time)),
		Time:            e.Time,
		TransportCallID: e.Plan,
		Mode:            mode,
		Place:           e.Station,
	}
	if pm := s.opts.PortModel; pm != nil {
		d.UNLocationCode = pm.Locode
	}
	key := e.Plan
	switch e.Event {
	case PlanLoaded, PlanUnloaded:
		d.Type, d.Code, d.Equipment, key = DCSAEquipment, "LOAD", e.Container, e.Container
		if e.Event == PlanUnloaded {
			d.Code = "DISC"
		}
	case PlanDeparted:
		d.Type, d.Code = DCSATransport, "DEPA"
	case PlanArrived:
		d.Type, d.Code = DCSATransport, "ARRI"
	}
	return s.writeDCSA(pb, &d, now, key, res)
}

// rideChange is a truck picking up (start) or dropping a box, as the
// trucks stage recorded it (TruckDomain.EachBatchRide).
type rideChange struct {
	container, plate string
	time             int64
	start            bool
}

// dcsaTruckLeg logs EQUIPMENT LOAD (picked up) or DISC (dropped) with a
// TRUCK transport call when a truck with a waybill for the box picks it up
// or drops it; rides without a waybill (terminal tractors moving boxes in
// the yard) are not legs.
func (s *Store) dcsaTruckLeg(pb *pebble.Batch, mm *mmScratch, rc *rideChange, now int64, res *ApplyResult) error {
	var wb *Waybill
	if err := s.waybillsListing(mm, rc.container, func(w *Waybill) bool {
		if w.Plate == rc.plate {
			wb = w
		}
		return wb == nil
	}); err != nil {
		return err
	}
	if wb == nil {
		return nil
	}
	d := DCSAEvent{
		ID:              uuidFrom(fmt.Sprintf("porttrack/truck/%s/%s/%s/%t/%d", wb.ID, rc.plate, rc.container, rc.start, rc.time)),
		Type:            DCSAEquipment,
		Code:            "DISC",
		Time:            rc.time,
		Equipment:       rc.container,
		TransportCallID: rc.plate,
		Mode:            "TRUCK",
		Place:           wb.To,
	}
	if rc.start {
		d.Code, d.Place = "LOAD", wb.From
	}
	if pm := s.opts.PortModel; pm != nil {
		d.UNLocationCode = pm.Locode
	}
	return s.writeDCSA(pb, &d, now, rc.container, res)
}

// knownStation reports whether the port model knows station: one of its
// places (rail stations, terminals) or their facility ids. Without a port
// model every station counts as known. The guard judges departures from an
// unknown station (an inland one, a typo) by time alone (judge).
func (s *Store) knownStation(station string) bool {
	if s.opts.PortModel == nil {
		return true
	}
	if _, ok := s.opts.PortModel.Fence(station); ok {
		return true
	}
	_, ok := s.PlaceOf("", station) // a facility id of a port place
	return ok
}

// atPlace reports whether an event location is the station (or terminal)
// id of a plan: the same id, or the place the port model gives the
// location (a rail ramp's facility is its station).
func (s *Store) atPlace(location, station string) bool {
	if location == "" || station == "" {
		return false
	}
	if location == station {
		return true
	}
	p, ok := s.PlaceOf("", location)
	return ok && p.ID == station
}

// CustomsBlocks is what the connection guard asks of customs during
// Apply, after the customs stage: satisfied by state/customs, wired by
// state/portstate (Options.CustomsBlocks). Called under the Apply lock.
type CustomsBlocks interface {
	// ChangedBoxes calls fn for each box whose customs state the batch
	// being applied changed.
	ChangedBoxes(fn func(box string))
	// PickupBlocks calls fn with the kind of each customs reason that
	// keeps box from being picked up, as the batch being applied leaves
	// its customs state.
	PickupBlocks(box string, fn func(kind string)) error
}

// customsBlockers returns the customs reasons that keep container c from
// moving: the customs blocks in force as this batch left them (holds,
// quarantine, inspection). A box customs has not released yet, with no
// block in force, is no connection risk: the guard leaves that kind out.
func (s *Store) customsBlockers(c string) ([]Reason, error) {
	if s.opts.CustomsBlocks == nil {
		return nil, nil
	}
	var rs []Reason
	err := s.opts.CustomsBlocks.PickupBlocks(c, func(kind string) {
		var r Reason
		switch kind {
		case "customs_hold":
			r = ReasonCustomsHold
		case "quarantine":
			r = ReasonQuarantine
		case "inspection":
			r = ReasonInspection
		default:
			return
		}
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	})
	return rs, err
}

// evaluatePlan judges the containers of p at clock (only those in only,
// when it is not nil), writes a connection alert for each changed verdict
// or reason set, and recomputes the plan's wake time from every
// container's judgement.
func (s *Store) evaluatePlan(pb *pebble.Batch, mm *mmScratch, p *PlanState, only map[string]struct{}, clock int64, res *ApplyResult) error {
	cfg := &s.opts.Guard
	var next *PlanState
	nextLoaded := false
	known := s.knownStation(p.From)
	for i := range p.Containers {
		g := &p.Containers[i]
		if only != nil {
			if _, ok := only[g.Container]; !ok {
				continue
			}
		}
		c, seen, err := s.containerForGuard(g.Container)
		if err != nil {
			return err
		}
		as, ae, err := s.truckAppointment(mm, g.Container, p.From)
		if err != nil {
			return err
		}
		customs, err := s.customsBlockers(g.Container)
		if err != nil {
			return err
		}
		at := seen && s.atPlace(c.Last.Location, p.From)
		v, reasons, expected := judge(cfg, p, g, &c, seen, at, known, as, ae, customs, clock)
		changed := v != g.Verdict || !slices.Equal(reasons, g.Reasons)
		prev := g.Verdict
		g.Verdict, g.Reasons, g.Expected, g.Evaluated = v, reasons, expected, clock
		if !changed || v == VerdictNone || cfg.AlertTopic == "" {
			continue
		}
		if !nextLoaded && v != VerdictOnTrack {
			nextLoaded = true
			if next, err = s.nextDeparture(p); err != nil {
				return err
			}
		}
		if err := s.writeConnectionAlert(pb, p, g, prev, next, clock); err != nil {
			return err
		}
		res.Alerts++
		res.Events++ // wakes the outbox publisher
	}
	p.Wake = 0
	wake := func(t int64) {
		if p.Wake == 0 || t < p.Wake {
			p.Wake = t
		}
	}
	for i := range p.Containers {
		g := &p.Containers[i]
		if p.Time == 0 || p.Departed != 0 || g.Loaded != 0 || g.Verdict == VerdictMissed {
			continue
		}
		// Time alone changes the verdict when the cutoff passes, and when
		// the expected ready time (moving with the clock) passes it (none:
		// a box of an unknown station, judged by time).
		wake(p.Cutoff + 1)
		if (g.Verdict == VerdictOnTrack || g.Verdict == VerdictNone) && g.Expected != 0 {
			wake(g.Evaluated + (p.Cutoff - g.Expected) + 1)
		}
	}
	return nil
}

// nextDeparture returns the next planned departure of p's service after
// p's, or nil.
func (s *Store) nextDeparture(p *PlanState) (*PlanState, error) {
	if p.Service == "" {
		return nil, nil
	}
	lower := planTimeKey(nil, prefixPlanService, p.Service, p.Departure+1, 0, "")
	prefix := append(append([]byte{prefixPlanService}, p.Service...), idEnd)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower[:len(prefix)+8], UpperBound: keyUpperBound(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < len(prefix)+10 {
			return nil, fmt.Errorf("state: service key %x: %w", k, errCorrupt)
		}
		m, id := Mode(k[len(prefix)+8]), string(k[len(prefix)+9:])
		if m == p.Mode && id == p.ID {
			continue
		}
		var n PlanState
		if w, ok := s.mu.scratch.mm.plans[planRef{m, id}]; ok && w.found {
			n = w.p
		} else if n, err = s.Plan(m, id); err != nil {
			return nil, err
		}
		if n.Departed == 0 {
			return &n, nil
		}
	}
	return nil, it.Error()
}

// writeConnectionAlert adds the alert of a changed verdict to the outbox.
// Its id hashes the box, the departure, the guard clock and the judgement,
// so a replay writes the same record.
func (s *Store) writeConnectionAlert(pb *pebble.Batch, p *PlanState, g *GuardState, prev Verdict, next *PlanState, clock int64) error {
	h := sha256.New()
	fmt.Fprintf(h, "connection\x00%s\x00%c\x00%s\x00%d\x00%d\x00%v", g.Container, p.Mode, p.ID, clock, g.Verdict, g.Reasons)
	id := hex.EncodeToString(h.Sum(nil)[:16])
	departure := func(b []byte, d *PlanState, station bool) []byte {
		b = append(b, `{"mode":`...)
		b = jsonStr(b, d.Mode.String())
		b = append(b, `,"id":`...)
		b = jsonStr(b, d.ID)
		if station {
			b = append(b, `,"station":`...)
			b = jsonStr(b, d.From)
		}
		b = append(b, `,"time":`...)
		b = jsonTime(b, d.Departure)
		b = append(b, `,"cutoff":`...)
		b = jsonTime(b, d.Cutoff)
		return append(b, '}')
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"id":`...)
	b = jsonStr(b, id)
	b = append(b, `,"kind":"connection","container":`...)
	b = jsonStr(b, g.Container)
	b = append(b, `,"departure":`...)
	b = departure(b, p, true)
	b = append(b, `,"verdict":`...)
	b = jsonStr(b, g.Verdict.String())
	b = append(b, `,"previous_verdict":`...)
	if prev == VerdictNone {
		b = append(b, "null"...)
	} else {
		b = jsonStr(b, prev.String())
	}
	b = append(b, `,"reasons":[`...)
	for i, r := range g.Reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = jsonStr(b, r.String())
		b = append(b, `,"message":`...)
		b = jsonStr(b, r.Message())
		b = append(b, '}')
	}
	b = append(b, `],"expected_ready":`...)
	if g.Expected == 0 {
		b = append(b, "null"...)
	} else {
		b = jsonTime(b, g.Expected)
	}
	b = append(b, `,"next_departure":`...)
	if next == nil || g.Verdict == VerdictOnTrack {
		b = append(b, "null"...)
	} else {
		b = departure(b, next, false)
	}
	b = append(b, `,"time":`...)
	b = jsonTime(b, clock)
	b = append(b, '}')
	return s.putOutbox(pb, &Message{Topic: s.opts.Guard.AlertTopic, Key: []byte(g.Container), Value: b,
		Headers: []Header{{Key: "porttrack-id", Value: []byte(id)}, {Key: "event-type", Value: []byte("connection")}}})
}

// Plan returns a plan with its actual times and the guard's verdicts, or
// ErrNotFound.
func (s *Store) Plan(m Mode, id string) (PlanState, error) { return s.live().Plan(m, id) }

// Plan is Store.Plan as the view sees it.
func (vw *View) Plan(m Mode, id string) (PlanState, error) {
	var p PlanState
	found, err := storedPlan(vw.r, m, id, &p)
	switch {
	case err != nil:
		return p, err
	case !found || p.Time == 0: // Time 0: events only, no plan yet
		return p, ErrNotFound
	}
	return p, nil
}

// storedPlan reads a plan state as stored into p; found is false when
// there is none.
func (s *Store) storedPlan(m Mode, id string, p *PlanState) (found bool, err error) {
	return storedPlan(s.db, m, id, p)
}

func storedPlan(r pebble.Reader, m Mode, id string, p *PlanState) (found bool, err error) {
	found, err = getValue(r, planKey(nil, m, id), func(v []byte) error { return decodePlanState(m, id, v, p) })
	if err != nil {
		return false, fmt.Errorf("state: plan %s %s: %w", m, id, err)
	}
	return found, nil
}

// storedWaybill reads a waybill as stored into w; found is false when there
// is none.
func (s *Store) storedWaybill(id string, w *Waybill) (found bool, err error) {
	return storedWaybill(s.db, id, w)
}

func storedWaybill(r pebble.Reader, id string, w *Waybill) (found bool, err error) {
	found, err = getValue(r, waybillKey(nil, id), func(v []byte) error { return decodeWaybill(id, v, w) })
	if err != nil {
		return false, fmt.Errorf("state: waybill %s: %w", id, err)
	}
	return found, nil
}

// PlansFrom calls fn for the plans departing from station with departure
// in [from, to), in departure order.
func (s *Store) PlansFrom(station string, from, to int64, fn func(p *PlanState) error) error {
	vw := s.View()
	defer vw.Close()
	return vw.PlansFrom(station, from, to, fn)
}

// PlansFrom is Store.PlansFrom as the view sees it.
func (vw *View) PlansFrom(station string, from, to int64, fn func(p *PlanState) error) error {
	return vw.plansByTime(prefixPlanStation, station, from, to, fn)
}

// PlansOfService calls fn for the plans of a service with departure in
// [from, to), in departure order.
func (s *Store) PlansOfService(service string, from, to int64, fn func(p *PlanState) error) error {
	vw := s.View()
	defer vw.Close()
	return vw.PlansOfService(service, from, to, fn)
}

// PlansOfService is Store.PlansOfService as the view sees it.
func (vw *View) PlansOfService(service string, from, to int64, fn func(p *PlanState) error) error {
	return vw.plansByTime(prefixPlanService, service, from, to, fn)
}

func (vw *View) plansByTime(prefix byte, group string, from, to int64, fn func(p *PlanState) error) error {
	lower := planTimeKey(nil, prefix, group, from, 0, "")
	upper := planTimeKey(nil, prefix, group, to, 0, "")
	n := 1 + len(group) + 1 + 8
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: lower[:n], UpperBound: upper[:n]})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < n+2 {
			return fmt.Errorf("state: plan time key %x: %w", k, errCorrupt)
		}
		p, err := vw.Plan(Mode(k[n]), string(k[n+1:]))
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return it.Error()
}

// Waybill returns a waybill, or ErrNotFound.
func (s *Store) Waybill(id string) (Waybill, error) { return s.live().Waybill(id) }

// Waybill is Store.Waybill as the view sees it.
func (vw *View) Waybill(id string) (Waybill, error) {
	var w Waybill
	found, err := storedWaybill(vw.r, id, &w)
	if err == nil && !found {
		err = ErrNotFound
	}
	return w, err
}

// GateAppointments calls fn for the waybills with an appointment at gate
// starting in [from, to), in start order.
func (s *Store) GateAppointments(gate string, from, to int64, fn func(w *Waybill) error) error {
	vw := s.View()
	defer vw.Close()
	return vw.GateAppointments(gate, from, to, fn)
}

// GateAppointments is Store.GateAppointments as the view sees it.
func (vw *View) GateAppointments(gate string, from, to int64, fn func(w *Waybill) error) error {
	lower := planTimeKey(nil, prefixGateAppt, gate, from, 0, "")
	upper := planTimeKey(nil, prefixGateAppt, gate, to, 0, "")
	n := 1 + len(gate) + 1 + 8
	it, err := vw.newIter(&pebble.IterOptions{LowerBound: lower[:n], UpperBound: upper[:n]})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		w, err := vw.Waybill(string(k[n+1:]))
		if err != nil {
			return err
		}
		if err := fn(&w); err != nil {
			return err
		}
	}
	return it.Error()
}

// ContainerPlans calls fn for every plan that lists container c.
func (s *Store) ContainerPlans(c string, fn func(p *PlanState) error) error {
	return s.live().ContainerPlans(c, fn)
}

// ContainerPlans is Store.ContainerPlans as the view sees it.
func (vw *View) ContainerPlans(c string, fn func(p *PlanState) error) error {
	var refs []planRef
	if err := vw.eachPlanOf(c, func(m Mode, id string) error {
		refs = append(refs, planRef{m, id})
		return nil
	}); err != nil {
		return err
	}
	for _, r := range refs {
		p, err := vw.Plan(r.mode, r.id)
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}
