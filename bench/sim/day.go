package sim

import (
	"container/heap"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/state"
)

// Stream constants of the day model's PCG streams.
const (
	dayPlanStream  = 0x646179706c // the plan: calls, boxes, trains
	dayEventStream = 0x6461796576 // event details and noise
	dayBoxStream   = 0x646179626f // container numbers
)

// The volumes of a day at scale 1 (sources and reasoning in the package doc).
const (
	dayMoves      = 62_000 // quay moves (boxes discharged or loaded) a day: ~100,000 TEU / 1.6 TEU per box
	railShareDay  = 0.05   // of quay moves, to or from a train (sea-rail)
	transShareDay = 0.20   // of quay moves, ship to ship (no land leg)
	qcMovesHour   = 30     // moves per quay crane and hour
	trainMin      = 60     // boxes on one train, at least
	trainMax      = 100    // and at most
)

// callClasses are the vessel call sizes: share of calls, quay moves, cranes.
var callClasses = []struct {
	share      float64
	movesLo    int
	movesHi    int
	cranes     int
	lengthLoHi [2]int // m, for the AIS static data
}{
	{0.30, 200, 600, 2, [2]int{140, 220}},   // feeder
	{0.50, 800, 1800, 4, [2]int{220, 330}},  // regional and intra-Asia
	{0.20, 2000, 4000, 6, [2]int{330, 400}}, // mainline, 14,000-24,000 TEU ships
}

// meanCallMoves is the mean of callClasses' moves.
var meanCallMoves = func() float64 {
	m := 0.0
	for _, c := range callClasses {
		m += c.share * float64(c.movesLo+c.movesHi) / 2
	}
	return m
}()

// inlandPlaces are where trucks take boxes to and bring them from.
var inlandPlaces = []string{"NINGBO-YINZHOU", "NINGBO-BEILUN-DC", "YUYAO", "CIXI", "SHAOXING", "HANGZHOU", "JIAXING", "TAIZHOU", "YIWU", "JINHUA"}

// Record kinds of the day model, for DayStats.
const (
	kindRFID = iota
	kindAIS
	kindTruckPosition
	kindTruckWaybill
	kindRailPlan
	kindRailEvent
	kindCustoms
	numKinds
)

// KindNames names the record kinds of DayStats.ByKind, in order.
var KindNames = [numKinds]string{"rfid", "ais", "truck.position", "truck.waybill", "rail.plan", "rail.event", "customs"}

// DayStats counts the records a DayGenerator returned. Produced includes
// every other count; Malformed, Duplicates and Late are noise (a late record
// is counted by kind as well, a malformed one only as Malformed, a
// duplicate by kind).
type DayStats struct {
	Produced   int64
	ByKind     [numKinds]int64
	Malformed  int64
	Duplicates int64
	Late       int64
	// AISSentences counts the NMEA sentences in the AIS records.
	AISSentences int64
	// Plan is what the generator planned for the whole simulated time.
	Plan DayPlan
}

// DayGenerator produces the records of a day at the port (DayConfig) in
// the order a broker would receive them: by production time, which is the
// event time except for late records. It does no IO and is not safe for
// concurrent use.
type DayGenerator struct {
	cfg    DayConfig
	rng    *rand.Rand // event details and noise, drawn in production order
	rfid   *Generator // EPCIS and raw-read encoding on rng
	geo    portGeo
	start  int64 // unix ns
	end    int64
	queue  dayQueue
	seq    uint64
	ais    *AISGenerator
	aisRec []Record // one record of look-ahead
	now    int64    // production time of the latest record
	stats  DayStats
	badRF  int // next malformed RFID kind
	badTR  int // next malformed transport kind
	buf    []Record
	// Plan summary, for the doc and tests.
	plan DayPlan
}

// DayPlan summarises what the generator planned within the simulated time.
type DayPlan struct {
	VesselCalls   int // calls with a berth window inside the simulated time
	QuayMoves     int // discharges and loads inside the simulated time
	TruckTrips    int // gate transactions inside the simulated time
	Trains        int // trains departing or arriving inside the simulated time
	RailBoxes     int // boxes loaded on or unloaded from a wagon
	YardMoves     int // tractor moves between quay, yard, ramp
	Inspections   int
	AISVessels    int // ships and craft with AIS reports
	CustomsEvents int // milestones handed to DayConfig.Customs
}

// dayItem is a record due at a production time, or an action that makes
// records (and further actions).
type dayItem struct {
	at   int64 // unix ns
	seq  uint64
	rec  Record
	kind int8 // record kind; -1: malformed
	dup  bool
	late bool
	act  func()
}

type dayQueue []dayItem

func (q dayQueue) Len() int { return len(q) }
func (q dayQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q dayQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dayQueue) Push(x any)   { *q = append(*q, x.(dayItem)) }
func (q *dayQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = dayItem{}
	*q = old[:len(old)-1]
	return it
}

// NewDayGenerator plans the day of cfg (Brokers, Rate, Speedup, Burst and
// Total are ignored). It panics if cfg fails Validate for another field.
func NewDayGenerator(cfg DayConfig) *DayGenerator {
	cfg = cfg.withDefaults()
	if err := cfg.checkGenerator(); err != nil {
		panic(err)
	}
	geo, err := loadPortGeo()
	if err != nil {
		panic(err) // the embedded model is checked by tests
	}
	readers := rfid.DefaultReaders()
	for _, t := range geo.terminals {
		t.site = siteNamed(readers, t.code)
	}
	for _, s := range geo.stations {
		if s.id == "beilun-rail-station" {
			s.site = siteNamed(readers, "BLRS")
		}
	}
	g := &DayGenerator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), dayEventStream)),
		geo:   geo,
		start: cfg.Start.UnixNano(),
		end:   cfg.Start.Add(cfg.Duration).UnixNano(),
	}
	g.rfid = &Generator{rng: g.rng}
	newPlanner(g).plan()
	heap.Init(&g.queue)
	return g
}

// siteNamed returns the readers whose id starts with name+"-".
func siteNamed(readers map[string]rfid.Reader, name string) *site {
	s := new(site)
	for _, id := range slices.Sorted(maps.Keys(readers)) {
		if len(id) <= len(name) || id[:len(name)] != name || id[len(name)] != '-' {
			continue
		}
		p := readPoint{id: id, facility: readers[id].Facility}
		switch readers[id].Event {
		case "":
			s.gates = append(s.gates, p)
		case "LOAD":
			s.load = append(s.load, p)
		case "DISC":
			s.disc = append(s.disc, p)
		case "INSP":
			s.insp = append(s.insp, p)
		}
	}
	return s
}

// Plan returns the summary of the planned traffic.
func (g *DayGenerator) Plan() DayPlan { return g.plan }

// Stats counts the records Next has returned so far.
func (g *DayGenerator) Stats() DayStats {
	st := g.stats
	st.Plan = g.plan
	return st
}

// Start and End bound the simulated time.
func (g *DayGenerator) Start() time.Time { return time.Unix(0, g.start).UTC() }
func (g *DayGenerator) End() time.Time   { return time.Unix(0, g.end).UTC() }

// Now is the production time of the latest record returned (Start before
// the first).
func (g *DayGenerator) Now() time.Time { return time.Unix(0, max(g.now, g.start)).UTC() }

// Done reports whether every record has been returned.
func (g *DayGenerator) Done() bool {
	return len(g.queue) == 0 && g.aisPeek() == nil
}

// PeekTime is the production time of the next record, false when Done.
func (g *DayGenerator) PeekTime() (time.Time, bool) {
	if !g.settle() {
		return time.Time{}, false
	}
	return time.Unix(0, g.nextAt()).UTC(), true
}

// Next appends up to n next records to dst and returns it; fewer at the end
// of the day. A record's Topic is set; Key and Value may not be modified.
func (g *DayGenerator) Next(dst []Record, n int) []Record {
	for range n {
		if !g.settle() {
			break
		}
		if a := g.aisPeek(); a != nil && (len(g.queue) == 0 || a.Time.UnixNano() < g.queue[0].at) {
			rec := *a
			g.aisRec = g.aisRec[:0]
			g.stats.Produced++
			g.stats.ByKind[kindAIS]++
			g.stats.AISSentences = g.ais.Sentences()
			g.now = max(g.now, rec.Time.UnixNano())
			dst = append(dst, rec)
			continue
		}
		it := heap.Pop(&g.queue).(dayItem)
		g.now = max(g.now, it.at)
		g.stats.Produced++
		switch {
		case it.kind < 0:
			g.stats.Malformed++
		default:
			g.stats.ByKind[it.kind]++
		}
		if it.dup {
			g.stats.Duplicates++
		}
		if it.late {
			g.stats.Late++
		}
		dst = append(dst, it.rec)
	}
	return dst
}

// settle runs due actions until the next item is a record; false when done.
func (g *DayGenerator) settle() bool {
	for {
		a := g.aisPeek()
		if len(g.queue) == 0 {
			return a != nil
		}
		top := &g.queue[0]
		if top.act == nil || (a != nil && a.Time.UnixNano() < top.at) {
			return true
		}
		act := top.act
		heap.Pop(&g.queue)
		act()
	}
}

func (g *DayGenerator) nextAt() int64 {
	if a := g.aisPeek(); a != nil && (len(g.queue) == 0 || a.Time.UnixNano() < g.queue[0].at) {
		return a.Time.UnixNano()
	}
	return g.queue[0].at
}

// aisPeek returns the next AIS record inside the simulated time, nil when
// there is none.
func (g *DayGenerator) aisPeek() *Record {
	if g.ais == nil {
		return nil
	}
	if len(g.aisRec) == 0 {
		g.aisRec = g.ais.Next(g.aisRec, 1)
		g.aisRec[0].Topic = g.cfg.AISTopic
	}
	if g.aisRec[0].Time.UnixNano() >= g.end {
		g.ais = nil
		return nil
	}
	return &g.aisRec[0]
}

// at schedules an action at t (unix ns); actions outside the simulated
// time are dropped.
func (g *DayGenerator) at(t int64, act func()) {
	if t < g.start || t >= g.end {
		return
	}
	g.seq++
	heap.Push(&g.queue, dayItem{at: t, seq: g.seq, act: act})
}

func (g *DayGenerator) push(it dayItem) {
	g.seq++
	it.seq = g.seq
	heap.Push(&g.queue, it)
}

// emit schedules a good record of an event at t with the configured noise:
// maybe late, maybe re-sent, maybe followed by a malformed record. Events
// outside the simulated time are dropped. The Kafka timestamp is the
// production time.
func (g *DayGenerator) emit(kind int8, topic string, key, value []byte, t int64) {
	if t < g.start || t >= g.end {
		return
	}
	at, late := t, false
	if g.rng.Float64() < g.cfg.LateRate {
		at += int64(time.Minute) + g.rng.Int64N(int64(29*time.Minute))
		late = true
	}
	rec := Record{Topic: topic, Key: key, Value: value, Time: time.Unix(0, at).UTC()}
	g.push(dayItem{at: at, rec: rec, kind: kind, late: late})
	if g.rng.Float64() < g.cfg.DupRate {
		d := at + int64(100*time.Millisecond) + g.rng.Int64N(int64(5*time.Second))
		rec.Time = time.Unix(0, d).UTC()
		g.push(dayItem{at: d, rec: rec, kind: kind, dup: true})
	}
	if g.rng.Float64() < g.cfg.BadRate {
		d := at + g.rng.Int64N(int64(time.Second))
		var v []byte
		if topic == g.cfg.RFIDTopic {
			v = g.malformedRFID(string(key), t)
		} else {
			v = g.malformedTransport(value)
		}
		g.push(dayItem{at: d, rec: Record{Topic: topic, Key: key, Value: v, Time: time.Unix(0, d).UTC()}, kind: -1})
	}
}

// malformedRFID is a broken RFID record about container number at t, the
// next kind in the rotation of Generator's malformed records.
func (g *DayGenerator) malformedRFID(number string, t int64) []byte {
	term := g.geo.terminals[g.rng.IntN(len(g.geo.terminals))]
	s := step{pick(g.rng, term.site.gates), "GTIN"}
	v := g.rfid.malformed(g.badRF, number, s, time.Unix(0, t).UTC())
	g.badRF = (g.badRF + 1) % badKinds
	return v
}

// Malformed port.transport record kinds, in rotation.
const (
	badTrEmpty = iota
	badTrTruncated
	badTrNoPlate
	badTrType
	badTrLatitude
	badTrKinds
)

// malformedTransport breaks a copy of a good transport record value.
func (g *DayGenerator) malformedTransport(good []byte) []byte {
	var v []byte
	switch g.badTR {
	case badTrEmpty:
		v = []byte{}
	case badTrTruncated:
		v = append(v, good[:len(good)/2]...)
	case badTrNoPlate:
		v = []byte(`{"type":"truck.position","lat":29.93,"lon":121.86,"t":"2026-11-22T08:00:00+08:00"}`)
	case badTrType:
		v = []byte(`{"type":"lorry.position","plate":"浙B12345","lat":29.93,"lon":121.86,"t":"2026-11-22T08:00:00+08:00"}`)
	case badTrLatitude:
		v = []byte(`{"type":"truck.position","plate":"浙B12345","lat":129.93,"lon":121.86,"t":"2026-11-22T08:00:00+08:00"}`)
	}
	g.badTR = (g.badTR + 1) % badTrKinds
	return v
}

// numberSource draws distinct container numbers for the plan.
type numberSource struct {
	rng  *rand.Rand
	seen map[string]struct{}
}

func (s *numberSource) next() string {
	for {
		b := make([]byte, 0, state.ContainerLen)
		b = append(b, ownerCodes[s.rng.IntN(len(ownerCodes))]...)
		b = fmt.Appendf(b, "%06d", s.rng.IntN(1_000_000))
		n := string(append(b, state.ContainerCheckDigit(string(b))))
		if _, dup := s.seen[n]; !dup {
			s.seen[n] = struct{}{}
			return n
		}
	}
}

// hoursIn draws a duration in [lo, hi) hours, in ns.
func hoursIn(rng *rand.Rand, lo, hi float64) int64 {
	return int64((lo + (hi-lo)*rng.Float64()) * float64(time.Hour))
}

// toward is p moved d metres towards bearing deg (true).
func (p latLon) toward(deg, d float64) latLon {
	r := deg * math.Pi / 180
	return p.moved(d*math.Sin(r), d*math.Cos(r))
}
