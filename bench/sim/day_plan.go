package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Planning window around the simulated time: calls that berthed up to
// lookBack before Start still have boxes picked up during it, calls that
// berth up to lookAhead after the end have boxes gated in during it.
const (
	lookBack  = 5 * 24 * time.Hour
	lookAhead = 4 * 24 * time.Hour
)

// vesselCall is one planned call.
type vesselCall struct {
	idx        int
	term       *dayTerminal
	berth      int // index into berths
	class      int
	arrive     int64 // ETA at the berth before any wait for it
	berthStart int64
	berthEnd   int64
	cranes     int
	disc, load int
	anchorWait int64
	vessel     *aisVessel
	ref        VesselRef
	// loaders and dischargers are the crane readers at the call's berth
	// (craneReaders).
	loaders, dischargers []readPoint
}

// craneReaders returns the readers of all that sit at the call's berth:
// the cranes working the ship read its boxes, so a box loaded or
// discharged is placed at the berth where the ship's AIS positions are.
// All of them when the port model places none there.
func (c *vesselCall) craneReaders(all []readPoint, cache *[]readPoint) []readPoint {
	if *cache != nil {
		return *cache
	}
	for _, r := range all {
		if c.term.craneBerth[r.id] == berths[c.berth].id {
			*cache = append(*cache, r)
		}
	}
	if len(*cache) == 0 {
		*cache = all
	}
	return *cache
}

// railBox is a box that leaves or arrives by train.
type railBox struct {
	number string
	term   *dayTerminal
	ref    VesselRef
	when   int64 // out: ready in the yard; in: needed in the yard by
	seq    int
}

type planner struct {
	g       *DayGenerator
	rng     *rand.Rand
	nums    numberSource
	calls   []*vesselCall
	railOut map[*dayStation][]railBox
	railIn  map[*dayStation][]railBox
	trips   int
	nTrains int
}

func newPlanner(g *DayGenerator) *planner {
	return &planner{
		g:       g,
		rng:     rand.New(rand.NewPCG(uint64(g.cfg.Seed), dayPlanStream)),
		nums:    numberSource{rng: rand.New(rand.NewPCG(uint64(g.cfg.Seed), dayBoxStream)), seen: map[string]struct{}{}},
		railOut: map[*dayStation][]railBox{},
		railIn:  map[*dayStation][]railBox{},
	}
}

func (p *planner) in(t int64) bool { return t >= p.g.start && t < p.g.end }

// plan draws the calls, their boxes and the trains, and schedules every
// action that falls inside the simulated time.
func (p *planner) plan() {
	g := p.g
	scale := g.cfg.Scale
	callsPerDay := dayMoves * scale / meanCallMoves
	gap := float64(24*time.Hour) / callsPerDay
	winStart, winEnd := g.start-int64(lookBack), g.end+int64(lookAhead)
	free := make([]int64, len(berths))
	for t := winStart + int64(p.rng.ExpFloat64()*gap); t < winEnd; t += int64(p.rng.ExpFloat64() * gap) {
		c := &vesselCall{idx: len(p.calls), arrive: t}
		r := p.rng.Float64()
		for c.class = 0; c.class < len(callClasses)-1 && r >= callClasses[c.class].share; c.class++ {
			r -= callClasses[c.class].share
		}
		cl := callClasses[c.class]
		moves := cl.movesLo + p.rng.IntN(cl.movesHi-cl.movesLo+1)
		c.cranes = cl.cranes
		switch r := p.rng.Float64(); {
		case r < 0.40:
			c.term = g.geo.terminals[0]
		case r < 0.75:
			c.term = g.geo.terminals[1%len(g.geo.terminals)]
		default:
			c.term = g.geo.terminals[2%len(g.geo.terminals)]
		}
		// The terminal's berth that frees first; a call waits for it at
		// anchor up to 8 h, then berths beside the busy ship (the model's
		// ten berths stand for the port's many more).
		c.berth = c.term.berths[0]
		for _, b := range c.term.berths {
			if free[b] < free[c.berth] {
				c.berth = b
			}
		}
		c.berthStart = t
		if w := free[c.berth] - t; w > 0 && w < int64(8*time.Hour) {
			c.berthStart = free[c.berth]
		}
		c.anchorWait = c.berthStart - t + hoursIn(p.rng, 0.5, 4)
		dur := int64(2*time.Hour) + int64(float64(moves)/float64(c.cranes*qcMovesHour)*float64(time.Hour))
		c.berthEnd = c.berthStart + dur
		free[c.berth] = max(free[c.berth], c.berthEnd+int64(30*time.Minute))
		c.disc = int(float64(moves) * (0.4 + 0.2*p.rng.Float64()))
		c.load = moves - c.disc
		p.calls = append(p.calls, c)
	}
	p.openAlongside()
	fleet := newFleet(g.cfg.Seed, len(p.calls))
	for i, c := range p.calls {
		v := fleet[i]
		c.vessel = v
		dir := "E"
		if p.rng.IntN(2) == 0 {
			dir = "W"
		}
		c.ref = VesselRef{MMSI: v.mmsi, IMO: v.imo, Name: v.name,
			Voyage: fmt.Sprintf("%03d%s", 1+p.rng.IntN(999), dir), Berth: berths[c.berth].id}
		// Size the ship to its class.
		cl := callClasses[c.class]
		length := cl.lengthLoHi[0] + p.rng.IntN(cl.lengthLoHi[1]-cl.lengthLoHi[0]+1)
		v.bow = uint16(float64(length) * 0.8)
		v.stern = uint16(length) - v.bow
	}
	for _, c := range p.calls {
		p.boxes(c)
	}
	for _, s := range g.geo.stations {
		p.trainsOut(s, p.railOut[s])
		p.trainsIn(s, p.railIn[s])
	}
	p.vessels(fleet[len(p.calls):])
}

// openAlongside makes the simulated time open with a ship discharging at
// the first terminal (BLCT), so that its yard blocks fill and customs
// selects boxes within minutes of the start at any scale: unless a call
// there is discharging at the start already, the terminal's first call
// berthing after the start is brought forward to berth an hour before it
// (its discharges begin at the start, craneTime). Calls are planned by
// offsets from the start, so this holds for any start.
func (p *planner) openAlongside() {
	g := p.g
	term := g.geo.terminals[0]
	start := g.start
	var first *vesselCall
	for _, c := range p.calls {
		if c.term != term {
			continue
		}
		discFrom := c.berthStart + int64(time.Hour)
		discTo := discFrom + int64(float64(c.disc/c.cranes)*float64(time.Hour)/qcMovesHour)
		if discFrom <= start && discTo > start+int64(time.Hour) {
			return
		}
		if first == nil && c.berthStart >= start {
			first = c
		}
	}
	if first == nil {
		return
	}
	d := first.berthStart - (start - int64(time.Hour))
	first.arrive -= d
	first.berthStart -= d
	first.berthEnd -= d
}

// craneTime is the time of quay move k of call c (discharges first).
func (p *planner) craneTime(c *vesselCall, k int) int64 {
	per := float64(time.Hour) / qcMovesHour // one crane's cycle
	return c.berthStart + int64(time.Hour) + int64(float64(k/c.cranes)*per) + p.rng.Int64N(int64(per))
}

// boxes plans the boxes of call c.
func (p *planner) boxes(c *vesselCall) {
	g := p.g
	term := c.term
	if c.berthEnd < g.start-int64(lookBack) || c.berthStart > g.end+int64(lookAhead) {
		return
	}
	manifest := []string(nil)
	for k := range c.disc {
		td := p.craneTime(c, k)
		r := p.rng.Float64()
		block := pick(p.rng, term.blocks)
		crane := k % c.cranes
		switch {
		case r < railShareDay:
			n := p.nums.next()
			p.railOut[term.station] = append(p.railOut[term.station],
				railBox{number: n, term: term, ref: c.ref, when: td + hoursIn(p.rng, 4, 30), seq: len(p.railOut[term.station])})
			p.discharge(c, n, td, crane, block)
			if p.in(td) {
				manifest = append(manifest, n)
			}
		case r < railShareDay+transShareDay:
			if p.in(td) {
				n := p.nums.next()
				p.discharge(c, n, td, crane, block)
				manifest = append(manifest, n)
			}
		default:
			dwell := hoursIn(p.rng, 12, 96)
			if p.rng.Float64() < 0.1 {
				dwell = hoursIn(p.rng, 2, 12)
			}
			tp := td + dwell
			insp := p.rng.Float64() < 0.03
			ti := td + int64(float64(dwell)*(0.2+0.5*p.rng.Float64()))
			tripIn := tp-int64(time.Hour) < g.end && tp+int64(time.Hour) > g.start
			if !p.in(td) && !tripIn && !(insp && p.in(ti)) {
				continue
			}
			n := p.nums.next()
			if p.in(td) {
				p.discharge(c, n, td, crane, block)
				manifest = append(manifest, n)
			}
			if insp && p.in(ti) {
				g.plan.Inspections++
				g.at(ti, func() { g.inspect(term, n, ti) })
			}
			if tripIn {
				p.truck(term, n, tp, false, block, c.ref)
			}
		}
	}
	if len(manifest) > 0 && g.cfg.Customs != nil {
		at := max(c.berthStart-int64(2*time.Hour), g.start)
		g.at(at, func() {
			for _, n := range manifest {
				g.milestone(Milestone{Kind: Manifest, Time: time.Unix(0, at).UTC(), Container: n, Vessel: c.ref, Facility: term.id})
			}
		})
	}
	if c.berthStart < g.end && c.berthEnd > g.start {
		g.plan.VesselCalls++
	}
	for k := range c.load {
		tl := p.craneTime(c, c.disc+k)
		r := p.rng.Float64()
		block := pick(p.rng, term.blocks)
		crane := (c.disc + k) % c.cranes
		switch {
		case r < railShareDay:
			n := p.nums.next()
			p.railIn[term.station] = append(p.railIn[term.station],
				railBox{number: n, term: term, ref: c.ref, when: tl - hoursIn(p.rng, 6, 36), seq: len(p.railIn[term.station])})
			p.loadBox(c, n, tl, crane, block)
		case r < railShareDay+transShareDay:
			if p.in(tl) {
				p.loadBox(c, p.nums.next(), tl, crane, block)
			}
		default:
			tg := tl - hoursIn(p.rng, 12, 72)
			tripIn := tg-int64(time.Hour) < g.end && tg+int64(time.Hour) > g.start
			if !p.in(tl) && !tripIn {
				continue
			}
			n := p.nums.next()
			if tripIn {
				p.truck(term, n, tg, true, block, c.ref)
			}
			p.loadBox(c, n, tl, crane, block)
		}
	}
}

// discharge schedules the discharge of box n at td and its tractor move to
// the yard.
func (p *planner) discharge(c *vesselCall, n string, td int64, crane int, block latLon) {
	g := p.g
	if !p.in(td) {
		return
	}
	g.plan.QuayMoves++
	g.plan.YardMoves++
	tractor := tractorID(c.term, crane, int(td/int64(4*time.Minute)))
	ds := c.craneReaders(c.term.site.disc, &c.dischargers)
	reader := ds[crane%len(ds)]
	g.at(td, func() {
		g.rfidEvent(n, step{reader, "DISC"}, td)
		g.milestone(Milestone{Kind: Discharged, Time: time.Unix(0, td).UTC(), Container: n, Vessel: c.ref, Facility: c.term.id})
		quay := c.term.quay[reader.id]
		g.tractorMove(tractor, n, newPath(quay, block), td+int64(20*time.Second), true)
	})
}

// loadBox schedules the tractor move from the yard and the load of box n
// at tl.
func (p *planner) loadBox(c *vesselCall, n string, tl int64, crane int, block latLon) {
	g := p.g
	if !p.in(tl) {
		return
	}
	g.plan.QuayMoves++
	g.plan.YardMoves++
	ls := c.craneReaders(c.term.site.load, &c.loaders)
	reader := ls[crane%len(ls)]
	quay := c.term.quay[reader.id]
	tractor := tractorID(c.term, crane, int(tl/int64(4*time.Minute)))
	pth := newPath(block, quay)
	t0 := tl - int64(30*time.Second) - driveTime(pth, tractorKmh)
	g.at(max(t0, g.start), func() {
		g.tractorMove(tractor, n, pth, t0, false)
	})
	g.at(tl, func() {
		g.rfidEvent(n, step{reader, "LOAD"}, tl)
		g.milestone(Milestone{Kind: Loaded, Time: time.Unix(0, tl).UTC(), Container: n, Export: true, Vessel: c.ref, Facility: c.term.id})
		g.truckReport(tractor, quay, tl+int64(30*time.Second), 0, -1, "")
	})
}

// tractorID names terminal tractors by crane: four per crane, in turn.
func tractorID(t *dayTerminal, crane, turn int) string {
	return t.code + "-T" + strconv.Itoa(10+crane*4+turn%4)
}

// truck plans a gate transaction: an import pickup (gate-out at tGate) or
// an export drop-off (gate-in at tGate), with its waybill.
func (p *planner) truck(term *dayTerminal, n string, tGate int64, export bool, block latLon, ref VesselRef) {
	g := p.g
	plate := p.plate()
	p.trips++
	wb := fmt.Sprintf("NB%s%06d", time.Unix(0, tGate).In(cst).Format("060102"), p.trips)
	place := pick(p.rng, inlandPlaces)
	issued := tGate - hoursIn(p.rng, 2, 12)
	apptStart := time.Unix(0, tGate-p.rng.Int64N(int64(45*time.Minute))).Truncate(15 * time.Minute)
	handle := int64(5*time.Minute) + p.rng.Int64N(int64(10*time.Minute))
	if p.in(tGate) {
		g.plan.TruckTrips++
	}
	g.at(issued, func() {
		from, to := term.id, place
		if export {
			from, to = place, term.id
		}
		g.waybill(wb, plate, n, from, to, term.gateID, apptStart, issued)
	})
	road := newPath(term.gate.toward(term.inland, roadMetres), term.gate)
	yard := newPath(term.gate, block)
	t0 := tGate - driveTime(road, truckKmh)
	if !export {
		t0 = tGate - 2*driveTime(yard, tractorKmh) - handle - driveTime(road, truckKmh)
	}
	g.at(max(t0, g.start), func() { g.truckTrip(term, plate, n, road, yard, t0, tGate, handle, export, ref) })
}

// plate draws a truck plate: mostly Ningbo (浙B), some from the rest of
// Zhejiang and the neighbouring provinces.
func (p *planner) plate() string {
	const chars = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	prefixes := []string{"浙B", "浙B", "浙B", "浙B", "浙B", "浙B", "浙A", "浙G", "浙D", "沪D", "皖A", "赣C"}
	b := []byte(pick(p.rng, prefixes))
	for range 5 {
		b = append(b, chars[p.rng.IntN(len(chars))])
	}
	return string(b)
}

// trainsOut groups the boxes leaving station s by train, in the order they
// are ready, and schedules each train's plan and events.
func (p *planner) trainsOut(s *dayStation, boxes []railBox) {
	slices.SortFunc(boxes, func(a, b railBox) int {
		return cmp.Or(cmp.Compare(a.when, b.when), cmp.Compare(a.seq, b.seq))
	})
	for len(boxes) > 0 {
		n := min(trainMin+p.rng.IntN(trainMax-trainMin+1), len(boxes))
		chunk := boxes[:n]
		boxes = boxes[n:]
		dep := chunk[n-1].when + hoursIn(p.rng, 1, 3)
		p.train(s, chunk, dep, true)
	}
}

// trainsIn groups the boxes arriving at station s by train, in the order
// they are needed in the yard.
func (p *planner) trainsIn(s *dayStation, boxes []railBox) {
	slices.SortFunc(boxes, func(a, b railBox) int {
		return cmp.Or(cmp.Compare(a.when, b.when), cmp.Compare(a.seq, b.seq))
	})
	for len(boxes) > 0 {
		n := min(trainMin+p.rng.IntN(trainMax-trainMin+1), len(boxes))
		chunk := boxes[:n]
		boxes = boxes[n:]
		arr := chunk[0].when - hoursIn(p.rng, 2, 12)
		p.train(s, chunk, arr, false)
	}
}

// Rail corridor (DOMAIN.md §8): Yiwu West to the port stations, about 6 h.
const (
	inlandStation = "yiwu-west"
	railHours     = 6
)

// train plans one train: out (port to Yiwu, departing at t) or in (Yiwu to
// the port, arriving at t).
func (p *planner) train(s *dayStation, boxes []railBox, t int64, out bool) {
	g := p.g
	if p.in(t) {
		g.plan.Trains++
	}
	p.nTrains++
	id := "X" + strconv.Itoa(80000+p.nTrains)
	tr := &dayTrain{id: id, station: s, out: out}
	service := "YIWU-" + map[string]string{"beilun-rail-station": "BEILUN", "chuanshan-rail-station": "CHUANSHAN"}[s.id]
	tr.service = service
	for i := 0; i < len(boxes); {
		w := dayWagon{id: fmt.Sprintf("X70%07d", p.rng.IntN(10_000_000))}
		k := 1 + p.rng.IntN(2)
		for ; k > 0 && i < len(boxes); k-- {
			w.boxes = append(w.boxes, boxes[i])
			i++
		}
		tr.wagons = append(tr.wagons, w)
	}
	if out {
		tr.from, tr.to = s.id, inlandStation
		tr.departure = t
		tr.cutoff = t - int64(2*time.Hour)
		planAt := t - hoursIn(p.rng, 12, 24)
		dep0, cut0 := tr.departure, tr.cutoff
		g.at(planAt, func() { g.railPlan(tr, dep0, cut0, planAt) })
		if p.rng.Float64() < 0.1 { // re-planned: departure later
			replanAt := t - hoursIn(p.rng, 2, 8)
			delay := hoursIn(p.rng, 0.5, 2)
			tr.departure += delay
			tr.cutoff += delay
			g.at(replanAt, func() { g.railPlan(tr, tr.departure, tr.cutoff, replanAt) })
		}
		for _, w := range tr.wagons {
			for _, b := range w.boxes {
				lt := max(b.when, tr.departure-hoursIn(p.rng, 3, 8))
				if p.rng.Float64() < 0.04 { // held up: after the cutoff, some miss the train
					lt = tr.cutoff + hoursIn(p.rng, 0.25, 3)
				}
				if lt >= tr.departure {
					continue
				}
				p.rail(b, tr, w.id, lt, true)
			}
		}
		g.at(tr.departure, func() { g.railEvent(tr, tr.from, "departed", "", "", tr.departure) })
		return
	}
	tr.from, tr.to = inlandStation, s.id
	tr.departure = t - int64(railHours*time.Hour) - hoursIn(p.rng, 0, 2)
	tr.cutoff = tr.departure - int64(2*time.Hour)
	planAt := tr.departure - hoursIn(p.rng, 6, 12)
	g.at(planAt, func() { g.railPlan(tr, tr.departure, tr.cutoff, planAt) })
	// The rail operator reports the loads at the inland station (the port
	// model does not know it: the guard sees a box make its train only by
	// these), a minute apart before the cutoff.
	k := int64(0)
	for _, w := range tr.wagons {
		for _, b := range w.boxes {
			k++
			lt := tr.cutoff - k*int64(time.Minute)
			g.at(lt, func() { g.railEvent(tr, tr.from, "loaded", w.id, b.number, lt) })
		}
	}
	g.at(tr.departure, func() { g.railEvent(tr, tr.from, "departed", "", "", tr.departure) })
	g.at(t, func() { g.railEvent(tr, s.id, "arrived", "", "", t) })
	for _, w := range tr.wagons {
		for _, b := range w.boxes {
			ut := t + hoursIn(p.rng, 0.5, 4)
			p.rail(b, tr, w.id, min(ut, max(b.when-int64(time.Hour), t+int64(10*time.Minute))), false)
		}
	}
}

// rail schedules box b's move between the yard and the wagon: loaded (out)
// or unloaded (in) at t, with its tractor move and the ramp's RFID read.
func (p *planner) rail(b railBox, tr *dayTrain, wagon string, t int64, out bool) {
	g := p.g
	if !p.in(t) {
		return
	}
	g.plan.RailBoxes++
	g.plan.YardMoves++
	block := pick(p.rng, b.term.blocks)
	tractor := b.term.code + "-R" + strconv.Itoa(10+p.rng.IntN(20))
	if out {
		pth := newPath(block, tr.station.at)
		t0 := t - int64(time.Minute) - driveTime(pth, tractorKmh)
		g.at(max(t0, g.start), func() { g.tractorMove(tractor, b.number, pth, t0, false) })
	}
	g.at(t, func() {
		ev, code, kind := "loaded", "LOAD", RailLoaded
		if !out {
			ev, code, kind = "unloaded", "DISC", RailUnloaded
		}
		g.railEvent(tr, tr.station.id, ev, wagon, b.number, t)
		if site := tr.station.site; site != nil {
			rp := site.load
			if !out {
				rp = site.disc
			}
			g.rfidEvent(b.number, step{rp[0], code}, t+int64(5*time.Second))
		}
		g.milestone(Milestone{Kind: kind, Time: time.Unix(0, t).UTC(), Container: b.number, Export: !out,
			Vessel: b.ref, Facility: tr.station.id, Train: tr.id})
		if out {
			g.truckReport(tractor, tr.station.at, t+int64(30*time.Second), 0, -1, "")
		} else {
			g.tractorMove(tractor, b.number, newPath(tr.station.at, block), t+int64(2*time.Minute), true)
		}
	})
}

type dayTrain struct {
	id, service, from, to string
	station               *dayStation
	out                   bool
	departure, cutoff     int64
	wagons                []dayWagon
}

type dayWagon struct {
	id    string
	boxes []railBox
}

// Speeds of the GNSS tracks.
const (
	truckKmh    = 40.0
	tractorKmh  = 20.0
	reportEvery = 30 * time.Second // JT/T 808 terminals commonly report every 30 s
	roadMetres  = 3000             // of a truck's track outside the gate, each way
)

// driveTime is the time to drive pth at kmh.
func driveTime(pth path, kmh float64) int64 {
	return int64(pth.length() / (kmh / 3.6) * float64(time.Second))
}

// vessels builds the AIS generator of the calls that sail, wait or berth
// inside the simulated time, plus the fleet's small craft.
func (p *planner) vessels(craft []*aisVessel) {
	g := p.g
	var fleet []*aisVessel
	for _, c := range p.calls {
		v := c.vessel
		if !p.planVoyage(c) {
			continue
		}
		fleet = append(fleet, v)
	}
	fleet = append(fleet, craft...) // small craft are always about
	g.plan.AISVessels = len(fleet)
	g.ais = newDayAIS(AISConfig{
		Seed: g.cfg.Seed, TagBlockRate: orNever(g.cfg.TagBlockRate), MultiRecordRate: orNever(g.cfg.MultiRecordRate),
		DupRate: orNever(g.cfg.StationDupRate), Start: g.Start(),
	}, fleet)
}

// orNever maps a rate of 0 to AISConfig's "never" (negative).
func orNever(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// planVoyage sets the legs of c's vessel so that it berths at c.berthStart
// and leaves at c.berthEnd; false if it reports nothing inside the
// simulated time.
func (p *planner) planVoyage(c *vesselCall) bool {
	g := p.g
	v := c.vessel
	b := berths[c.berth]
	anchor := (&AISGenerator{rng: p.rng}).anchorSpot()
	inbound := newPath(append(laneIn[:len(laneIn):len(laneIn)], anchor)...)
	shift := []latLon{anchor}
	for i := len(laneOut) - 2; i >= b.join; i-- {
		shift = append(shift, laneOut[i])
	}
	shift = append(append(shift, b.via...), b.approach, b.at)
	leave := []latLon{b.at, b.approach}
	for i := len(b.via) - 1; i >= 0; i-- {
		leave = append(leave, b.via[i])
	}
	leave = append(leave, laneOut[b.join])
	outbound := make([]latLon, 0, b.join+1)
	for i := b.join; i >= 0; i-- {
		outbound = append(outbound, laneOut[i])
	}
	shiftKn := 5 + 3*p.rng.Float64()
	leaveKn := 6 + 2*p.rng.Float64()
	dur := func(pth path, kn float64) int64 { return int64(pth.length() / (kn * knot) * float64(time.Second)) }
	shiftPath, inPath, leavePath, outPath := newPath(shift...), inbound, newPath(leave...), newPath(outbound...)
	tShift := c.berthStart - dur(shiftPath, shiftKn)
	tAnchor := tShift - c.anchorWait
	tIn := tAnchor - dur(inPath, v.cruise)
	tLeave := c.berthEnd + dur(leavePath, leaveKn)
	tOut := tLeave + dur(outPath, v.cruise)
	if tOut < g.start || tIn >= g.end {
		return false
	}
	at := func(ns int64) time.Time { return time.Unix(0, ns).UTC() }
	arrival := leg{dest: v.destNingbo, draught: uint8(100 + p.rng.IntN(46)), eta: at(c.berthStart).Truncate(time.Minute)}
	departure := leg{dest: pick(p.rng, nextPorts), draught: uint8(90 + p.rng.IntN(51)),
		eta: at(c.berthEnd).Add(time.Duration(hoursIn(p.rng, 48, 480))).Truncate(time.Minute)}
	v.legs, v.leg = v.legs[:0], 0
	add := func(l leg, kind legKind, from, to int64) {
		l.kind, l.start, l.end = kind, at(from), at(to)
		v.legs = append(v.legs, l)
	}
	away := arrival
	add(away, legAway, math.MinInt64/2, tIn)
	in := arrival
	in.path, in.speed = inPath, v.cruise
	add(in, legUnderway, tIn, tAnchor)
	anch := arrival
	anch.spot, anch.heading = anchor, float64(p.rng.IntN(360))
	add(anch, legAnchored, tAnchor, tShift)
	sh := arrival
	sh.path, sh.speed = shiftPath, shiftKn
	add(sh, legUnderway, tShift, c.berthStart)
	moored := arrival
	moored.spot, moored.heading = b.at, b.heading
	if p.rng.IntN(2) == 0 {
		moored.heading = math.Mod(b.heading+180, 360)
	}
	add(moored, legMoored, c.berthStart, c.berthEnd)
	lv := departure
	lv.path, lv.speed = leavePath, leaveKn
	add(lv, legUnderway, c.berthEnd, tLeave)
	ob := departure
	ob.path, ob.speed = outPath, v.cruise
	add(ob, legUnderway, tLeave, tOut)
	add(departure, legAway, tOut, math.MaxInt64/2)
	return true
}
