package sim

import (
	"container/heap"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/porttrack/porttrack/state"
)

// Stream constants that separate the PCG streams of one seed.
const (
	fleetStream = 0x6f776e6572 // ContainerNumbers
	eventStream = 0x6576656e74 // Generator
)

// Traffic shape.
const (
	railShare   = 0.15 // visits that move between quay and rail ramp
	importShare = 0.45 // visits that arrive by sea and leave by truck
	holdShare   = 0.10 // import visits with a customs hold
	inspShare   = 0.20 // import visits with an inspection

	stepMin, stepMax       = 2 * time.Minute, 10 * time.Minute
	revisitMin, revisitMax = 2 * time.Hour, 12 * time.Hour
	initialSpread          = 2 * time.Hour // first steps of the fleet fall in [Start, Start+initialSpread)
	recentRecords          = 1024          // duplicates re-send one of this many latest good records

	// timeLayout is RFC 3339 with milliseconds; a UTC time ends in "Z".
	timeLayout   = "2006-01-02T15:04:05.000Z07:00"
	epcPrefix    = "urn:epc:id:bic:"
	unmappedStep = "repairing" // a CBV bizStep with no porttrack event
)

// cst is China Standard Time, the zone of the port's readers.
var cst = time.FixedZone("CST", 8*3600)

// ownerCodes are BIC owner codes plus category U of large carriers and lessors.
var ownerCodes = []string{
	"MSKU", "MRKU", "MSCU", "MEDU", "CSQU", "CBHU", "COSU", "CMAU", "CGMU",
	"OOLU", "OOCU", "EGSU", "EMCU", "HLXU", "HLBU", "TGHU", "TCNU", "TEMU",
	"ONEU", "YMLU", "ZIMU", "HDMU", "SEGU", "FCIU", "BMOU", "GESU", "CAIU", "APZU",
}

// ContainerNumbers returns n distinct valid ISO 6346 numbers (category U, a
// realistic owner code, a random serial), the same for the same seed.
func ContainerNumbers(seed int64, n int) []string {
	rng := rand.New(rand.NewPCG(uint64(seed), fleetStream))
	seen := make(map[string]struct{}, n)
	out := make([]string, 0, n)
	for len(out) < n {
		b := make([]byte, 0, state.ContainerLen)
		b = append(b, ownerCodes[rng.IntN(len(ownerCodes))]...)
		b = fmt.Appendf(b, "%06d", rng.IntN(1_000_000))
		s := string(append(b, state.ContainerCheckDigit(string(b))))
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// Record is one Kafka record. Key is shared by all records of a container and
// Value by a record and its duplicates: neither may be modified.
type Record struct {
	// Topic is the record's topic in a stream of several topics
	// (DayGenerator); empty: the producer's topic.
	Topic      string
	Key, Value []byte
	// Time is the simulated time of the record (the Kafka timestamp); zero
	// lets the producer stamp it.
	Time time.Time
}

// Generator produces the record stream of a Config. It does no IO and is not
// safe for concurrent use.
type Generator struct {
	rng              *rand.Rand
	badRate, dupRate float64
	terminals, ramps []*site
	fleet            []*box
	queue            boxQueue  // fleet ordered by the event time of its next step
	last             time.Time // event time of the latest good event
	recent           []Record  // ring of the latest good records, for duplicates
	recentPos        int
	badKind          int
	stats            Stats
}

// readPoint is one reader of the table.
type readPoint struct{ id, facility string }

// site is a terminal or a rail ramp: its readers by what a read there means.
type site struct{ gates, load, disc, insp []readPoint }

// step is one planned event of a container.
type step struct {
	at   readPoint
	code string // state.Code name
}

type box struct {
	number string
	key    []byte
	due    time.Time // event time of steps[next]
	steps  []step    // the current visit
	next   int
}

// NewGenerator returns a generator for cfg (Brokers, Topic, Rate and Total are
// ignored). It panics if cfg fails Validate for another field.
func NewGenerator(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	if err := cfg.checkGenerator(); err != nil {
		panic(err)
	}
	g := &Generator{
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), eventStream)),
		badRate: cfg.BadRate,
		dupRate: cfg.DupRate,
		last:    cfg.Start,
		recent:  make([]Record, 0, recentRecords),
	}
	g.terminals, g.ramps = sites(cfg.Readers)
	for i, n := range ContainerNumbers(cfg.Seed, cfg.Containers) {
		b := &box{number: n, key: []byte(n), due: cfg.Start}
		if i > 0 { // box 0 makes the first event happen at Start
			b.due = b.due.Add(g.duration(0, initialSpread))
		}
		g.plan(b)
		g.fleet = append(g.fleet, b)
	}
	g.queue = slices.Clone(g.fleet)
	heap.Init(&g.queue)
	return g
}

// sites groups readers by the reader id up to its first '-' and returns the
// terminals and rail ramps among them, in reader id order.
func sites(readers map[string]rfid.Reader) (terminals, ramps []*site) {
	byName := make(map[string]*site)
	var order []*site
	for _, id := range slices.Sorted(maps.Keys(readers)) {
		name, _, _ := strings.Cut(id, "-")
		s := byName[name]
		if s == nil {
			s = new(site)
			byName[name] = s
			order = append(order, s)
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
	for _, s := range order {
		switch {
		case len(s.load) == 0 || len(s.disc) == 0:
		case len(s.gates) > 0:
			terminals = append(terminals, s)
		default:
			ramps = append(ramps, s)
		}
	}
	return terminals, ramps
}

// Stats counts the records Next has returned so far.
func (g *Generator) Stats() Stats { return g.stats }

// Next appends the next n records to dst and returns it.
func (g *Generator) Next(dst []Record, n int) []Record {
	for range n {
		dst = append(dst, g.record())
	}
	return dst
}

func (g *Generator) record() Record {
	g.stats.Produced++
	switch r := g.rng.Float64(); {
	case r < g.badRate:
		g.stats.Bad++
		return g.bad()
	case r < g.badRate+g.dupRate && len(g.recent) > 0:
		g.stats.Duplicates++
		return pick(g.rng, g.recent)
	}
	rec := g.good()
	if len(g.recent) < cap(g.recent) {
		g.recent = append(g.recent, rec)
	} else {
		g.recent[g.recentPos] = rec
		g.recentPos = (g.recentPos + 1) % len(g.recent)
	}
	return rec
}

// good emits the earliest due step of the fleet and schedules the box's next.
func (g *Generator) good() Record {
	b := g.queue[0]
	s, t := b.steps[b.next], b.due
	// An EPCIS event of the default reader table is at most about 410 bytes.
	rec := Record{Key: b.key, Value: g.appendEvent(make([]byte, 0, 448), b.number, s, t)}
	if b.next++; b.next < len(b.steps) {
		b.due = t.Add(g.duration(stepMin, stepMax))
	} else {
		b.due = t.Add(g.duration(revisitMin, revisitMax))
		g.plan(b)
	}
	heap.Fix(&g.queue, 0)
	g.last = t
	return rec
}

// plan draws the next visit of b.
func (g *Generator) plan(b *box) {
	t := pick(g.rng, g.terminals)
	b.steps, b.next = b.steps[:0], 0
	switch r := g.rng.Float64(); {
	case r < railShare && len(g.ramps) > 0:
		ramp := pick(g.rng, g.ramps)
		if g.rng.IntN(2) == 0 { // sea to rail
			b.steps = append(b.steps, step{pick(g.rng, t.disc), "DISC"}, step{pick(g.rng, ramp.load), "LOAD"})
		} else {
			b.steps = append(b.steps, step{pick(g.rng, ramp.disc), "DISC"}, step{pick(g.rng, t.load), "LOAD"})
		}
	case r < railShare+importShare:
		b.steps = append(b.steps, step{pick(g.rng, t.disc), "DISC"})
		if len(t.insp) > 0 {
			if g.rng.Float64() < holdShare {
				b.steps = append(b.steps, step{pick(g.rng, t.insp), "HOLD"})
			}
			if g.rng.Float64() < inspShare {
				b.steps = append(b.steps, step{pick(g.rng, t.insp), "INSP"})
			}
		}
		b.steps = append(b.steps, step{pick(g.rng, t.gates), "GTOT"})
	default:
		b.steps = append(b.steps, step{pick(g.rng, t.gates), "GTIN"}, step{pick(g.rng, t.load), "LOAD"})
	}
}

// Malformed record kinds, emitted in rotation.
const (
	badEmpty = iota
	badJSON
	badCheckDigit
	badBizStep
	badGarbage
	badKinds
)

// bad returns a malformed record keyed by a fleet container: a gate-in read at
// the latest event time, broken in the next way of the rotation.
func (g *Generator) bad() Record {
	b := pick(g.rng, g.fleet)
	s := step{pick(g.rng, pick(g.rng, g.terminals).gates), "GTIN"}
	v := g.malformed(g.badKind, b.number, s, g.last)
	g.badKind = (g.badKind + 1) % badKinds
	return Record{Key: b.key, Value: v}
}

// malformed returns the event s of container number at t, broken in the
// way kind (one of the bad* constants) says.
func (g *Generator) malformed(kind int, number string, s step, t time.Time) []byte {
	var v []byte
	switch kind {
	case badEmpty:
		v = []byte{} // not nil: nil would be a Kafka tombstone
	case badJSON:
		v = g.appendEvent(nil, number, s, t)
		v = v[:len(v)/2]
	case badCheckDigit:
		wrong := number[:10] + string('0'+(number[10]-'0'+1)%10)
		v = g.appendEvent(nil, wrong, s, t)
	case badBizStep:
		v = g.appendEPCIS(nil, number, s.at, unmappedStep, t)
	case badGarbage:
		v = make([]byte, 16+g.rng.IntN(48))
		for i := range v {
			v[i] = byte(g.rng.Uint32())
		}
		v[0] |= 0x80 // never starts like JSON
	}
	return v
}

// appendEvent appends s as EPCIS or as a raw read, about half each; a hold
// is always EPCIS (no reader reports HOLD as its fixed event).
func (g *Generator) appendEvent(dst []byte, number string, s step, t time.Time) []byte {
	if s.code == "HOLD" || g.rng.IntN(2) == 0 {
		return g.appendEPCIS(dst, number, s.at, bizStep(s.code), t)
	}
	return g.appendRaw(dst, number, s, t)
}

func (g *Generator) appendEPCIS(dst []byte, number string, p readPoint, bizStep string, t time.Time) []byte {
	dst = append(dst, `{"@context":"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld","type":"ObjectEvent","eventID":"urn:uuid:`...)
	dst = g.appendUUID(dst)
	dst = append(dst, `","eventTime":"`...)
	dst = t.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","eventTimeZoneOffset":"+08:00","epcList":["`+epcPrefix...)
	dst = append(dst, number...)
	dst = append(dst, `"],"action":"OBSERVE","bizStep":"`...)
	dst = append(dst, bizStep...)
	dst = append(dst, `","disposition":"in_transit","readPoint":{"id":"`...)
	dst = append(dst, p.id...)
	dst = append(dst, `"},"bizLocation":{"id":"`...)
	dst = append(dst, p.facility...)
	return append(dst, `"}}`...)
}

// appendRaw appends a reader's own report, timestamped in local time.
func (g *Generator) appendRaw(dst []byte, number string, s step, t time.Time) []byte {
	dst = append(dst, `{"reader":"`...)
	dst = append(dst, s.at.id...)
	dst = append(dst, `","antenna":`...)
	dst = strconv.AppendInt(dst, 1+g.rng.Int64N(4), 10)
	dst = append(dst, `,"epc":"`+epcPrefix...)
	dst = append(dst, number...)
	dst = append(dst, `","t":"`...)
	dst = t.In(cst).AppendFormat(dst, timeLayout)
	dst = append(dst, `","rssi":`...)
	dst = strconv.AppendInt(dst, -40-g.rng.Int64N(31), 10)
	switch s.code { // gate lanes read both ways
	case "GTIN":
		dst = append(dst, `,"dir":"in"`...)
	case "GTOT":
		dst = append(dst, `,"dir":"out"`...)
	}
	return append(dst, '}')
}

// appendUUID appends a version 4 UUID drawn from the generator's stream.
func (g *Generator) appendUUID(dst []byte) []byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(u[8:], g.rng.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	hex.Encode(s[9:13], u[4:6])
	hex.Encode(s[14:18], u[6:8])
	hex.Encode(s[19:23], u[8:10])
	hex.Encode(s[24:], u[10:])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return append(dst, s[:]...)
}

// bizStep is the CBV bizStep of an event code (DOMAIN.md §5, §6).
func bizStep(code string) string {
	switch code {
	case "GTIN":
		return "arriving"
	case "GTOT":
		return "departing"
	case "LOAD":
		return "loading"
	case "DISC":
		return "unloading"
	case "INSP":
		return "inspecting"
	case "HOLD":
		return "holding"
	case "STOR":
		return "storing"
	}
	panic("sim: no bizStep for event " + code)
}

// duration draws a duration in [lo, hi) with millisecond resolution.
func (g *Generator) duration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64((hi-lo)/time.Millisecond)))*time.Millisecond
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// boxQueue is a min-heap of boxes by due time.
type boxQueue []*box

func (q boxQueue) Len() int           { return len(q) }
func (q boxQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q boxQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *boxQueue) Push(x any)        { panic("sim: the fleet is fixed") }
func (q *boxQueue) Pop() any          { panic("sim: the fleet is fixed") }
