package sim

import (
	"container/heap"
	"math/rand/v2"
	"strconv"
	"time"
)

// ---- RFID ----

// rfidEvent emits event s of box n at t on port.rfid, keyed by the box.
func (g *DayGenerator) rfidEvent(n string, s step, t int64) {
	v := g.rfid.appendEvent(make([]byte, 0, 448), n, s, time.Unix(0, t).UTC())
	g.emit(kindRFID, g.cfg.RFIDTopic, []byte(n), v, t)
}

// stack emits the read of box n put down in the yard block at p, if p is
// the centre of one: an EPCIS storing event (the yard crane stacking the
// box; the engine's STOR, which derives no DCSA event) with the block's
// place id as read point and its facility as location. The reader table
// has no yard readers: the location places the box in the block (README,
// "Where a container is").
func (g *DayGenerator) stack(n string, p latLon, t int64) {
	rp, ok := g.geo.blocks[p]
	if !ok {
		return
	}
	v := g.rfid.appendEPCIS(make([]byte, 0, 448), n, rp, bizStep("STOR"), time.Unix(0, t).UTC())
	g.emit(kindRFID, g.cfg.RFIDTopic, []byte(n), v, t)
}

// inspect emits an inspection read of box n at the terminal's inspection
// area.
func (g *DayGenerator) inspect(term *dayTerminal, n string, t int64) {
	g.rfidEvent(n, step{term.site.insp[0], "INSP"}, t)
	g.milestone(Milestone{Kind: Inspected, Time: time.Unix(0, t).UTC(), Container: n, Facility: term.id})
}

// ---- port.transport: truck.position ----

// appendTime appends t in China Standard Time, RFC 3339 with milliseconds.
func appendTime(dst []byte, t int64) []byte {
	return time.Unix(0, t).In(cst).AppendFormat(dst, timeLayout)
}

// truckReport emits a truck.position of vehicle plate (keyed by the plate,
// so a truck's track stays in one partition, in order); heading < 0 and
// container "" are left out.
func (g *DayGenerator) truckReport(plate string, p latLon, t int64, kmh float64, heading int, container string) {
	v := make([]byte, 0, 192)
	v = append(v, `{"type":"truck.position","plate":"`...)
	v = append(v, plate...)
	v = append(v, `","lat":`...)
	v = strconv.AppendFloat(v, p.lat, 'f', 6, 64)
	v = append(v, `,"lon":`...)
	v = strconv.AppendFloat(v, p.lon, 'f', 6, 64)
	v = append(v, `,"t":"`...)
	v = appendTime(v, t)
	v = append(v, `","speed":`...)
	v = strconv.AppendFloat(v, kmh, 'f', 1, 64)
	if heading >= 0 {
		v = append(v, `,"heading":`...)
		v = strconv.AppendInt(v, int64(heading), 10)
	}
	if container != "" {
		v = append(v, `,"container":"`...)
		v = append(v, container...)
		v = append(v, '"')
	}
	v = append(v, '}')
	g.emit(kindTruckPosition, g.cfg.TransportTopic, []byte(plate), v, t)
}

// drive emits the reports of a vehicle driving pth from t0 at about kmh,
// one per reportEvery, and returns the arrival time.
func (g *DayGenerator) drive(plate string, pth path, t0 int64, kmh float64, container string) int64 {
	d := driveTime(pth, kmh)
	for dt := int64(0); dt < d; dt += int64(reportEvery) + g.rng.Int64N(int64(4*time.Second)) - int64(2*time.Second) {
		pos, course := pth.at(pth.length() * float64(dt) / float64(d))
		speed := max(kmh*(0.85+0.3*g.rng.Float64()), 0)
		if dt == 0 {
			speed = kmh / 3 // pulling away
		}
		g.truckReport(plate, pos, t0+dt, speed, int(course+0.5)%360, container)
	}
	return t0 + d
}

// tractorMove emits a terminal tractor carrying box n along pth from t0;
// with drop it puts the box down at the end (a report without the box).
func (g *DayGenerator) tractorMove(id, n string, pth path, t0 int64, drop bool) {
	t := g.drive(id, pth, t0, tractorKmh, n)
	end := pth.pts[len(pth.pts)-1]
	g.truckReport(id, end, t, 0, -1, n)
	if drop {
		g.stack(n, end, t+int64(30*time.Second))
		g.truckReport(id, end, t+int64(time.Minute), 0, -1, "")
	}
}

// reversed is pth driven the other way.
func reversed(pth path) path {
	pts := make([]latLon, len(pth.pts))
	for i, p := range pth.pts {
		pts[len(pts)-1-i] = p
	}
	return newPath(pts...)
}

// truckTrip emits a truck's gate transaction: road to the gate, the gate
// read, the yard block where the box is picked up or put down, and back.
func (g *DayGenerator) truckTrip(term *dayTerminal, plate, n string, road, yard path, t0, tGate, handle int64, export bool, ref VesselRef) {
	lane := pick(g.rng, term.site.gates)
	gate := func(code string, kind MilestoneKind) {
		g.rfidEvent(n, step{lane, code}, tGate)
		// The trip is planned at its start: the milestone waits for its
		// time, so that milestones reach the customs source in order.
		g.at(tGate, func() {
			g.milestone(Milestone{Kind: kind, Time: time.Unix(0, tGate).UTC(), Container: n, Export: export,
				Vessel: ref, Facility: term.id, Plate: plate})
		})
	}
	block := yard.pts[len(yard.pts)-1]
	if export {
		g.drive(plate, road, t0, truckKmh, n)
		gate("GTIN", GateIn)
		t := g.drive(plate, yard, tGate+int64(20*time.Second), tractorKmh, n)
		g.truckReport(plate, block, t, 0, -1, n)
		g.stack(n, block, t+handle-int64(30*time.Second))
		g.truckReport(plate, block, t+handle, 0, -1, "")
		t = g.drive(plate, reversed(yard), t+handle+int64(20*time.Second), tractorKmh, "")
		g.drive(plate, reversed(road), t+int64(20*time.Second), truckKmh, "")
		return
	}
	t := g.drive(plate, road, t0, truckKmh, "")
	t = g.drive(plate, yard, t, tractorKmh, "")
	g.truckReport(plate, block, t, 0, -1, "")
	g.truckReport(plate, block, t+handle, 0, -1, n)
	g.drive(plate, reversed(yard), t+handle, tractorKmh, n)
	gate("GTOT", GateOut)
	g.drive(plate, reversed(road), tGate+int64(20*time.Second), truckKmh, n)
}

// ---- port.transport: truck.waybill, rail.plan, rail.event ----

func appendStr(dst []byte, key, val string) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":"`...)
	dst = append(dst, val...)
	return append(dst, '"')
}

func appendTimeField(dst []byte, key string, t int64) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, `":"`...)
	dst = appendTime(dst, t)
	return append(dst, '"')
}

// waybill emits the electronic waybill of a gate transaction, keyed by its
// container.
func (g *DayGenerator) waybill(id, plate, n, from, to, gate string, apptStart time.Time, t int64) {
	v := make([]byte, 0, 320)
	v = append(v, `{"type":"truck.waybill",`...)
	v = appendStr(v, "waybill", id)
	v = append(v, ',')
	v = appendStr(v, "plate", plate)
	v = append(v, `,"containers":["`...)
	v = append(v, n...)
	v = append(v, `"],`...)
	v = appendStr(v, "from", from)
	v = append(v, ',')
	v = appendStr(v, "to", to)
	v = append(v, `,"appointment":{`...)
	v = appendStr(v, "gate", gate)
	v = append(v, ',')
	v = appendTimeField(v, "start", apptStart.UnixNano())
	v = append(v, ',')
	v = appendTimeField(v, "end", apptStart.Add(time.Hour).UnixNano())
	v = append(v, `},"status":"issued",`...)
	v = appendTimeField(v, "t", t)
	v = append(v, '}')
	g.emit(kindTruckWaybill, g.cfg.TransportTopic, []byte(n), v, t)
}

// railPlan emits the plan of train tr as known at t, keyed by the train.
func (g *DayGenerator) railPlan(tr *dayTrain, dep, cutoff, t int64) {
	v := make([]byte, 0, 256+40*len(tr.wagons))
	v = append(v, `{"type":"rail.plan",`...)
	v = appendStr(v, "train", tr.id)
	v = append(v, ',')
	v = appendStr(v, "service", tr.service)
	v = append(v, ',')
	v = appendStr(v, "from_station", tr.from)
	v = append(v, ',')
	v = appendStr(v, "to_station", tr.to)
	v = append(v, ',')
	v = appendTimeField(v, "departure", dep)
	v = append(v, ',')
	v = appendTimeField(v, "cutoff", cutoff)
	v = append(v, `,"wagons":[`...)
	for i, w := range tr.wagons {
		if i > 0 {
			v = append(v, ',')
		}
		v = append(v, '{')
		v = appendStr(v, "wagon", w.id)
		v = append(v, `,"containers":[`...)
		for j, b := range w.boxes {
			if j > 0 {
				v = append(v, ',')
			}
			v = append(v, '"')
			v = append(v, b.number...)
			v = append(v, '"')
		}
		v = append(v, "]}"...)
	}
	v = append(v, "],"...)
	v = appendTimeField(v, "t", t)
	v = append(v, '}')
	g.emit(kindRailPlan, g.cfg.TransportTopic, []byte(tr.id), v, t)
}

// railEvent emits a rail event at station; keyed by the container when
// there is one, else by the train.
func (g *DayGenerator) railEvent(tr *dayTrain, station, event, wagon, container string, t int64) {
	v := make([]byte, 0, 200)
	v = append(v, `{"type":"rail.event",`...)
	v = appendStr(v, "train", tr.id)
	v = append(v, ',')
	v = appendStr(v, "station", station)
	v = append(v, ',')
	v = appendStr(v, "event", event)
	key := tr.id
	if wagon != "" {
		v = append(v, ',')
		v = appendStr(v, "wagon", wagon)
	}
	if container != "" {
		v = append(v, ',')
		v = appendStr(v, "container", container)
		key = container
	}
	v = append(v, ',')
	v = appendTimeField(v, "t", t)
	v = append(v, '}')
	g.emit(kindRailEvent, g.cfg.TransportTopic, []byte(key), v, t)
}

// ---- AIS ----

// newDayAIS is an AIS generator for a fleet whose ships have their legs
// planned already (planVoyage); the small craft plan their own circuits.
func newDayAIS(cfg AISConfig, fleet []*aisVessel) *AISGenerator {
	cfg = cfg.withDefaults()
	g := &AISGenerator{
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), aisEventStream)),
		tagRate:   cfg.TagBlockRate,
		multiRate: cfg.MultiRecordRate,
		dupRate:   cfg.DupRate,
	}
	for _, s := range cfg.Stations {
		g.stations = append(g.stations, aisStation{id: s, key: []byte(s), group: 1 + g.rng.IntN(9000)})
	}
	for _, v := range fleet {
		if v.classB {
			g.plan(v, cfg.Start.Add(-time.Duration(g.rng.Int64N(int64(time.Hour)))))
		}
		v.due = cfg.Start.Add(time.Duration(g.rng.Int64N(int64(10 * time.Second))))
		v.staticDue = v.due.Add(time.Duration(g.rng.Int64N(int64(staticEvery))))
	}
	g.queue = fleet
	heap.Init(&g.queue)
	return g
}
