package sim

// AIS traffic for the demo and the benchmarks (topic port.ais): NMEA 0183
// AIVDM sentences as VTS shore stations forward them, keyed by station id.
//
// Fleet. AISConfig.Vessels container ships (class A, MID 412-414, valid IMO
// numbers, ship type 70-79) plus Vessels/8 (at least one) class B small
// craft: tugs, pilot boats and work boats circling port waters.
//
// Voyage of a ship: out of range for a few hours (no reports), inbound along
// the deep-water route through Xiazhimen, anchored in the Beilun anchorage
// (nav status 1), shifted to a Beilun, Chuanshan or Meishan berth, moored
// (status 5), then outbound along the route, and again. Waypoints follow the
// shapes of geo/portmodel (ais_test.go checks that they agree). At Start the
// fleet is spread over its cycles, so every phase is populated at once.
//
// Messages (DOMAIN.md §9): type 1 position reports every 10 s underway (6 s
// above 14 kn) and 3 min at anchor or moored; type 5 static and voyage data
// every 6 min as two fragments; class B type 18 every 30 s underway (3 min
// at rest) and type 24 parts A and B every 6 min. Event time advances with
// the reports, independently of the wall clock (as Generator's does).
//
// Framing. Each message is heard by the station of its area; DupRate of the
// position reports are also heard by a second station (same payload and
// channel). TagBlockRate of the messages carry an NMEA 4.10 tag block
// \s:<station>,c:<unix seconds>*hh\; a tag-blocked two-part message has
// g:1-2-<id> on fragment 1 (with s: and c:) and g:2-2-<id> on fragment 2.
// Multi-part messages use sequence ids 0-9 rotating per station; with
// probability MultiRecordRate their fragments are two Kafka records (same
// key, adjacent), otherwise one record of two lines joined by "\n". Records
// carry no line terminator.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Stream constants that separate the PCG streams of one seed.
const (
	aisFleetStream = 0x616973666c // AIS fleet identities
	aisEventStream = 0x6169736576 // AISGenerator traffic
)

const maxVessels = 10_000

// AISConfig configures the AIS traffic generator and RunAIS. The zero value
// of every field but Brokers selects its default. The rates are fractions in
// [0, 1]; because 0 selects a default, a negative rate means never.
type AISConfig struct {
	Brokers []string // Kafka bootstrap addresses; required by RunAIS
	Topic   string   // default "port.ais"
	// Vessels is the number of container ships, default 40; Vessels/8 (at
	// least 1) class B small craft come with them.
	Vessels int
	// Rate is the target rate in sentences/s (a two-line record counts
	// twice); <= 0 means as fast as possible.
	Rate float64
	// Total stops RunAIS after this many records; 0 runs until ctx is done.
	Total int64
	Seed  int64 // default 1
	// Stations are the receiving stations, used as record keys and tag-block
	// sources; default NBVTS-01 (inner port), NBVTS-02 (Chuanshan, Meishan),
	// ZSVTS-01 (Xiazhimen and the approach). The i-th serves area i mod 3.
	Stations []string
	// TagBlockRate is the fraction of messages with a tag block, default 0.5.
	TagBlockRate float64
	// MultiRecordRate is the fraction of multi-part messages whose fragments
	// are separate records, default 0.5.
	MultiRecordRate float64
	// DupRate is the fraction of position reports also heard by a second
	// station, default 0.1 (needs two stations).
	DupRate float64
	// Start is the event time the traffic starts at, default the current
	// time in UTC truncated to the second.
	Start  time.Time
	Logger *slog.Logger
}

func (c AISConfig) withDefaults() AISConfig {
	if c.Topic == "" {
		c.Topic = "port.ais"
	}
	if c.Vessels == 0 {
		c.Vessels = 40
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Stations == nil {
		c.Stations = []string{"NBVTS-01", "NBVTS-02", "ZSVTS-01"}
	}
	if c.TagBlockRate == 0 {
		c.TagBlockRate = 0.5
	}
	if c.MultiRecordRate == 0 {
		c.MultiRecordRate = 0.5
	}
	if c.DupRate == 0 {
		c.DupRate = 0.1
	}
	if c.Start.IsZero() {
		c.Start = time.Now().UTC().Truncate(time.Second)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after applying defaults. Errors name the
// offending field.
func (c AISConfig) Validate() error {
	c = c.withDefaults()
	if err := checkStream(c.Brokers, c.Total, c.Rate); err != nil {
		return err
	}
	return c.checkGenerator()
}

// checkGenerator checks the fields NewAISGenerator uses; c has its defaults.
func (c AISConfig) checkGenerator() error {
	if c.Vessels < 1 || c.Vessels > maxVessels {
		return fmt.Errorf("sim: Vessels: %d is outside [1, %d]", c.Vessels, maxVessels)
	}
	if len(c.Stations) == 0 {
		return errors.New("sim: Stations: no station")
	}
	seen := map[string]bool{}
	for _, s := range c.Stations {
		if !tagSafe(s) {
			return fmt.Errorf("sim: Stations: %q: want 1-15 printable ASCII characters without , * ! $ or backslash", s)
		}
		if seen[s] {
			return fmt.Errorf("sim: Stations: %q is listed twice", s)
		}
		seen[s] = true
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"TagBlockRate", c.TagBlockRate}, {"MultiRecordRate", c.MultiRecordRate}, {"DupRate", c.DupRate}} {
		if math.IsNaN(r.v) || r.v > 1 {
			return fmt.Errorf("sim: %s: %v is above 1 or not a number", r.name, r.v)
		}
	}
	return nil
}

// tagSafe reports whether s can be a tag-block source: no character that
// ends a tag field, a tag block or starts a sentence.
func tagSafe(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c > '~', c == ',', c == '*', c == '\\', c == '!', c == '$':
			return false
		}
	}
	return true
}

// RunAIS produces cfg's AIS traffic into cfg.Topic until cfg.Total records
// are written or ctx is done; both end with a nil error. It returns the
// records acknowledged by the brokers (RequireAll), Duplicates counting the
// second-station copies; a batch cut short by ctx is not counted.
func RunAIS(ctx context.Context, cfg AISConfig) (st Stats, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	g := NewAISGenerator(cfg)
	start := time.Now()
	cfg.Logger.Info("sim: producing AIS", "brokers", cfg.Brokers, "topic", cfg.Topic, "rate", cfg.Rate,
		"total", cfg.Total, "vessels", cfg.Vessels, "stations", cfg.Stations, "seed", cfg.Seed)
	defer func() {
		cfg.Logger.Info("sim: stopped AIS", "produced", st.Produced, "duplicates", st.Duplicates,
			"sentences", g.Sentences(), "elapsed", time.Since(start), "error", err)
	}()
	// Paced in sentences: a batch is due when its first sentence is. The
	// records carry the simulated observation time as their timestamp, so
	// untagged lines and tag-blocked ones share one clock.
	return produce(ctx, producer{
		brokers: cfg.Brokers, topic: cfg.Topic, rate: cfg.Rate, total: cfg.Total,
		next: g.Next, stats: g.Stats, paced: g.Sentences,
	})
}

// ---- Geography (WGS84; see geo/portmodel and DOMAIN.md §10) ----

type latLon struct{ lat, lon float64 }

// routeCentre is the centre line of the deep-water route corridor
// "xiazhimen-deep-water-route", inbound order: the approach between 29°37'N
// and 29°43'N, the TSS No.1 separation line through Xiazhimen (sourced), then
// [approx] legs by Luotou water to the Beilun anchorage.
var routeCentre = []latLon{
	{29.670, 122.700}, {29.690, 122.500}, {29.74694, 122.31889}, {29.80903, 122.23667},
	{29.875, 122.150}, {29.930, 122.060}, {29.957, 121.995}, {29.963, 121.930},
}

// laneOffset is the distance of the traffic lanes from the centre line.
const laneOffset = 400 // m

// The lanes keep to starboard: inbound ships (heading west) north of the
// centre line, outbound ones south of it. Both are in routeCentre order.
var (
	laneIn  = offsetPath(routeCentre, -laneOffset)
	laneOut = offsetPath(routeCentre, laneOffset)
)

// beilunAnchorage is the sourced polygon (Ningbo MSA notice 甬海航〔2015〕92号).
var beilunAnchorage = []latLon{
	{29.97278, 121.90917}, {29.98444, 121.93278}, {29.97167, 121.93778}, {29.94500, 121.92222}, {29.95083, 121.90056},
}

var anchorageCentroid = latLon{29.965, 121.921}

// berthSpot is where a ship moors: the centre of a berth polygon of
// geo/portmodel and the way there from the route.
type berthSpot struct {
	id       string  // the berth's feature id in geo/portmodel
	at       latLon  // centre of the berth polygon (35 m off the quay line)
	approach latLon  // 450 m off the quay, in front of the berth
	heading  float64 // direction of the quay line, degrees true
	join     int     // index of routeCentre where the way to the berth leaves the route
	via      []latLon
}

var berths = func() []berthSpot {
	var out []berthSpot
	add := func(join int, via []latLon, spots ...berthSpot) {
		for _, s := range spots {
			s.join, s.via = join, via
			out = append(out, s)
		}
	}
	last := len(routeCentre) - 1
	add(last, []latLon{{29.950, 121.915}}, // Beilun (NBCT), leaving the anchorage by its south end
		berthSpot{id: "nbct-berth-1", at: latLon{29.939641, 121.864614}, approach: latLon{29.943393, 121.864481}, heading: 88.2},
		berthSpot{id: "nbct-berth-2", at: latLon{29.939891, 121.873864}, approach: latLon{29.943643, 121.873731}, heading: 88.2},
		berthSpot{id: "nbct-berth-3", at: latLon{29.940141, 121.883114}, approach: latLon{29.943893, 121.882981}, heading: 88.2},
		berthSpot{id: "nbct-berth-4", at: latLon{29.940391, 121.892364}, approach: latLon{29.944143, 121.892231}, heading: 88.2},
	)
	add(5, nil, // Chuanshan (CSCT)
		berthSpot{id: "csct-berth-1", at: latLon{29.895144, 122.012764}, approach: latLon{29.898828, 122.011941}, heading: 79.0},
		berthSpot{id: "csct-berth-2", at: latLon{29.897811, 122.028431}, approach: latLon{29.901494, 122.027607}, heading: 79.0},
		berthSpot{id: "csct-berth-3", at: latLon{29.900477, 122.044097}, approach: latLon{29.904161, 122.043274}, heading: 79.0},
	)
	add(4, []latLon{{29.800, 122.100}}, // Meishan (MSCT), by the Meishan approach
		berthSpot{id: "msct-berth-1", at: latLon{29.788229, 122.033520}, approach: latLon{29.785012, 122.035732}, heading: 239.0},
		berthSpot{id: "msct-berth-2", at: latLon{29.781229, 122.020187}, approach: latLon{29.778012, 122.022399}, heading: 239.0},
		berthSpot{id: "msct-berth-3", at: latLon{29.774229, 122.006853}, approach: latLon{29.771012, 122.009065}, heading: 239.0},
	)
	return out
}()

// craftLoops are the circuits of the class B small craft, each a closed
// loop starting at its base, inside port areas or the route corridor.
var craftLoops = [][]latLon{
	{{29.962, 121.915}, {29.944, 121.865}, {29.944, 121.893}, {29.955, 121.925}}, // Beilun harbour tug
	{{29.752, 122.325}, {29.810, 122.240}, {29.875, 122.150}, {29.812, 122.236}}, // Xiazhimen pilot boat
	{{29.905, 122.010}, {29.912, 122.050}, {29.920, 122.030}},                    // Chuanshan work boat
	{{29.765, 122.012}, {29.775, 122.040}, {29.785, 122.045}, {29.770, 122.025}}, // Meishan tug
	{{29.955, 121.990}, {29.935, 122.055}, {29.930, 122.045}, {29.950, 121.985}}, // Luotou patrol
	{{29.958, 121.880}, {29.966, 121.905}, {29.950, 121.925}, {29.946, 121.900}}, // Beilun anchorage tender
	{{29.906, 122.020}, {29.924, 122.060}, {29.915, 122.075}, {29.900, 122.060}}, // Chuanshan pilot boat
	{{29.879, 122.140}, {29.882, 122.152}, {29.871, 122.158}, {29.868, 122.146}}, // Luotou bunker barge
	{{29.741, 122.335}, {29.736, 122.355}, {29.731, 122.355}, {29.736, 122.335}}, // outer approach survey boat
}

// Flat-earth metres per degree, good to well under 1% over the port.
const mPerDegLat = 110574

func mPerDegLon(lat float64) float64 { return 111320 * math.Cos(lat*math.Pi/180) }

// delta returns b - a in metres east and north.
func delta(a, b latLon) (east, north float64) {
	return (b.lon - a.lon) * mPerDegLon((a.lat+b.lat)/2), (b.lat - a.lat) * mPerDegLat
}

func (p latLon) moved(east, north float64) latLon {
	return latLon{p.lat + north/mPerDegLat, p.lon + east/mPerDegLon(p.lat)}
}

// offsetPath offsets a polyline d metres to the left of its direction, with
// mitred joints.
func offsetPath(pts []latLon, d float64) []latLon {
	leftNormal := func(a, b latLon) [2]float64 { // unit vector, metres east and north
		e, n := delta(a, b)
		l := math.Hypot(e, n)
		return [2]float64{-n / l, e / l}
	}
	out := make([]latLon, len(pts))
	for i, p := range pts {
		var ns [][2]float64
		if i > 0 {
			ns = append(ns, leftNormal(pts[i-1], p))
		}
		if i+1 < len(pts) {
			ns = append(ns, leftNormal(p, pts[i+1]))
		}
		// The joint moves along the bisector of the normals, far enough to
		// keep distance d from both segments.
		bx, by := ns[0][0]+ns[len(ns)-1][0], ns[0][1]+ns[len(ns)-1][1]
		l := math.Hypot(bx, by)
		bx, by = bx/l, by/l
		m := d / (bx*ns[0][0] + by*ns[0][1])
		out[i] = p.moved(bx*m, by*m)
	}
	return out
}

// path is a polyline with cumulative lengths in metres.
type path struct {
	pts []latLon
	cum []float64
}

func newPath(pts ...latLon) path {
	p := path{pts: pts, cum: make([]float64, len(pts))}
	for i := 1; i < len(pts); i++ {
		e, n := delta(pts[i-1], pts[i])
		p.cum[i] = p.cum[i-1] + math.Hypot(e, n)
	}
	return p
}

func (p path) length() float64 { return p.cum[len(p.cum)-1] }

// at returns the position d metres along p and the course of its segment in
// degrees true.
func (p path) at(d float64) (latLon, float64) {
	i := 1
	for i < len(p.pts)-1 && d > p.cum[i] {
		i++
	}
	a, b := p.pts[i-1], p.pts[i]
	seg := p.cum[i] - p.cum[i-1]
	f := 0.0
	if seg > 0 {
		f = min(max((d-p.cum[i-1])/seg, 0), 1)
	}
	e, n := delta(a, b)
	course := math.Mod(math.Atan2(e, n)*180/math.Pi+360, 360)
	return latLon{a.lat + (b.lat-a.lat)*f, a.lon + (b.lon-a.lon)*f}, course
}

// inPolygon is an even-odd point-in-polygon test on an open ring.
func inPolygon(p latLon, ring []latLon) bool {
	in := false
	for i := range ring {
		a, b := ring[i], ring[(i+1)%len(ring)]
		if (a.lat > p.lat) != (b.lat > p.lat) && p.lon < a.lon+(p.lat-a.lat)/(b.lat-a.lat)*(b.lon-a.lon) {
			in = !in
		}
	}
	return in
}

// ---- Fleet ----

var (
	shipPrefixes = []string{"ZHONG GU", "XIN", "ZHE HAI", "NING BO", "HUA HANG", "YONG ZHOU", "MIN JIANG", "DONG FANG", "HAI FENG", "JIN HAI"}
	shipWords    = []string{
		"JUPITER", "SATURN", "ORION", "LIBRA", "TAURUS", "GEMINI", "PEGASUS", "LYRA", "VEGA", "ALTAIR",
		"DENEB", "SIRIUS", "CAPELLA", "RIGEL", "POLARIS", "NINGBO", "ZHOUSHAN", "BEILUN", "MEISHAN", "DAXIE",
		"DONGHAI", "HUANGHAI", "YANGTZE", "PEARL", "HARMONY", "FORTUNE", "GLORY", "SPRING", "SUNRISE", "EAGLE",
	}
	craftNames   = []string{"YONG GANG TUO", "NINGBO PILOT", "ZHE GANG GONG", "YONG GANG TUO", "ZHOUSHAN HAI XUN", "YONG GANG JIAO", "NINGBO PILOT", "ZHE YOU", "ZHOUSHAN CE"}
	craftTypes   = []uint8{52, 50, 53, 52, 55, 53, 50, 31, 58}
	ningboDests  = []string{"CNNGB", "NINGBO"}
	nextPorts    = []string{"SGSIN", "USLAX", "USLGB", "NLRTM", "DEHAM", "BEANR", "KRPUS", "JPTYO", "CNSHA", "HKHKG", "MYPKG", "AEJEA"}
	classBVendor = []string{"SRT", "CML", "HMY", "SAM"}
)

type aisVessel struct {
	mmsi, imo      uint32
	name, callsign string
	shipType       uint8
	bow, stern     uint16
	port, stbd     uint8
	classB         bool
	accuracy, raim bool
	headingBias    float64 // heading - course underway, degrees
	cruise         float64 // knots
	destNingbo     string
	vendor         string // class B
	model          uint8
	serial         uint32
	loop           []latLon // class B circuit

	legs       []leg
	leg        int
	due        time.Time // next position report
	staticDue  time.Time
	lastCourse float64   // of the latest report, for the rate of turn
	lastReport time.Time // time of the latest report
	turning    bool      // the latest report is on the current underway leg
}

type legKind uint8

const (
	legAway     legKind = iota // out of range: no reports
	legUnderway                // along path at speed
	legAnchored                // at anchor at spot
	legMoored                  // at spot, not moving
)

type leg struct {
	kind       legKind
	start, end time.Time
	path       path
	speed      float64 // knots, underway
	spot       latLon  // anchored, moored
	heading    float64 // anchored (mean), moored
	// Voyage data reported in type 5 during the leg.
	dest    string
	eta     time.Time
	draught uint8 // 0.1 m
}

// next returns the time of the vessel's next event.
func (v *aisVessel) next() time.Time {
	if v.staticDue.Before(v.due) {
		return v.staticDue
	}
	return v.due
}

// vesselQueue is a min-heap of vessels by their next event.
type vesselQueue []*aisVessel

func (q vesselQueue) Len() int           { return len(q) }
func (q vesselQueue) Less(i, j int) bool { return q[i].next().Before(q[j].next()) }
func (q vesselQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *vesselQueue) Push(x any)        { panic("sim: the AIS fleet is fixed") }
func (q *vesselQueue) Pop() any          { panic("sim: the AIS fleet is fixed") }

// imoCheckDigit returns the check digit of the six leading digits of an IMO
// number (DOMAIN.md §2.2).
func imoCheckDigit(first6 uint32) uint32 {
	var sum uint32
	for w := uint32(2); w <= 7; w++ {
		sum += first6 % 10 * w
		first6 /= 10
	}
	return sum % 10
}

// newFleet draws the fleet identities from the seed: ships first, then craft.
func newFleet(seed int64, ships int) []*aisVessel {
	rng := rand.New(rand.NewPCG(uint64(seed), aisFleetStream))
	used := map[uint32]bool{}
	names := map[string]bool{}
	calls := map[string]bool{}
	mids := []uint32{412, 413, 414}
	uniqueMMSI := func() uint32 {
		for {
			m := pick(rng, mids)*1_000_000 + 100_000 + uint32(rng.IntN(900_000))
			if !used[m] {
				used[m] = true
				return m
			}
		}
	}
	uniqueCall := func(prefix string) string {
		const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		for {
			b := []byte(prefix)
			for len(b) < 4 {
				b = append(b, letters[rng.IntN(26)])
			}
			b = append(b, byte('0'+rng.IntN(10)))
			if s := string(b); !calls[s] {
				calls[s] = true
				return s
			}
		}
	}
	crafts := max(ships/8, 1)
	fleet := make([]*aisVessel, 0, ships+crafts)
	for range ships {
		v := &aisVessel{
			mmsi:        uniqueMMSI(),
			callsign:    uniqueCall("B" + string("OPQR"[rng.IntN(4)])),
			shipType:    70,
			accuracy:    rng.IntN(3) > 0,
			raim:        rng.IntN(2) == 0,
			headingBias: float64(rng.IntN(7) - 3),
			cruise:      12 + 5*rng.Float64(),
			destNingbo:  pick(rng, ningboDests),
		}
		for {
			first6 := 900_000 + uint32(rng.IntN(100_000))
			v.imo = first6*10 + imoCheckDigit(first6)
			if !used[v.imo] {
				used[v.imo] = true
				break
			}
		}
		for try := 0; ; try++ {
			name := pick(rng, shipPrefixes) + " " + pick(rng, shipWords)
			if try >= 8 {
				name = pick(rng, shipPrefixes) + " " + strconv.Itoa(rng.IntN(100_000))
			}
			if !names[name] {
				names[name] = true
				v.name = name
				break
			}
		}
		if rng.IntN(4) == 0 {
			v.shipType = pick(rng, []uint8{71, 72, 73, 74, 79})
		}
		length := 170 + rng.IntN(231) // m
		v.bow = uint16(float64(length) * (0.75 + 0.1*rng.Float64()))
		v.stern = uint16(length) - v.bow
		beam := 25 + rng.IntN(37)
		v.port = uint8(beam / 2)
		v.stbd = uint8(beam) - v.port
		fleet = append(fleet, v)
	}
	for i := range crafts {
		k := i % len(craftLoops)
		v := &aisVessel{
			mmsi:     uniqueMMSI(),
			callsign: uniqueCall("BZ"),
			classB:   true,
			name:     craftNames[k] + " " + strconv.Itoa(1+i),
			shipType: craftTypes[k],
			cruise:   6 + 4*rng.Float64(),
			vendor:   pick(rng, classBVendor),
			model:    uint8(1 + rng.IntN(15)),
			serial:   uint32(rng.IntN(1 << 20)),
			loop:     craftLoops[k],
		}
		length := 20 + rng.IntN(30)
		v.bow, v.stern = uint16(length*2/3), uint16(length-length*2/3)
		v.port, v.stbd = 4, uint8(3+rng.IntN(4))
		fleet = append(fleet, v)
	}
	return fleet
}

// ---- Generator ----

// AISGenerator produces the record stream of an AISConfig. It does no IO and
// is not safe for concurrent use.
type AISGenerator struct {
	rng                         *rand.Rand
	tagRate, multiRate, dupRate float64
	stations                    []aisStation
	queue                       vesselQueue
	pending                     []pendingRecord // records made but not yet returned
	head                        int
	stats                       Stats
	sentences                   int64
	bits                        sixBits // scratch
	payload                     []byte  // scratch
}

type aisStation struct {
	id    string
	key   []byte
	seq   int // sequence id of the next multi-part message, 0-9
	group int // id of the next tag-block group
}

type pendingRecord struct {
	rec       Record
	dup       bool
	sentences int
}

// NewAISGenerator returns a generator for cfg (Brokers, Topic, Rate and Total
// are ignored). It panics if cfg fails Validate for another field.
func NewAISGenerator(cfg AISConfig) *AISGenerator {
	cfg = cfg.withDefaults()
	if err := cfg.checkGenerator(); err != nil {
		panic(err)
	}
	g := &AISGenerator{
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), aisEventStream)),
		tagRate:   cfg.TagBlockRate,
		multiRate: cfg.MultiRecordRate,
		dupRate:   cfg.DupRate,
	}
	for _, s := range cfg.Stations {
		g.stations = append(g.stations, aisStation{id: s, key: []byte(s), group: 1 + g.rng.IntN(9000)})
	}
	fleet := newFleet(cfg.Seed, cfg.Vessels)
	for i, v := range fleet {
		// Spread the fleet over its cycles: plan a cycle from Start, then
		// move it back by a random part of its length.
		g.plan(v, cfg.Start)
		back := time.Duration(g.rng.Float64() * float64(v.legs[len(v.legs)-1].end.Sub(cfg.Start)))
		for j := range v.legs {
			l := &v.legs[j]
			l.start, l.end = l.start.Add(-back), l.end.Add(-back)
			if !l.eta.IsZero() {
				l.eta = l.eta.Add(-back)
			}
		}
		v.due = cfg.Start
		if i > 0 { // vessel 0 reports at Start
			v.due = v.due.Add(time.Duration(g.rng.Int64N(int64(10 * time.Second))))
		}
		v.staticDue = v.due.Add(time.Duration(g.rng.Int64N(int64(staticEvery))))
	}
	g.queue = fleet
	heap.Init(&g.queue)
	return g
}

// Stats counts the records Next has returned so far; Duplicates are the
// second-station copies.
func (g *AISGenerator) Stats() Stats { return g.stats }

// Sentences counts the NMEA sentences in the records Next has returned.
func (g *AISGenerator) Sentences() int64 { return g.sentences }

// Next appends the next n records to dst and returns it. Records are in
// event time order; Key is the station id and is shared by all records of
// the station: neither Key nor Value may be modified.
func (g *AISGenerator) Next(dst []Record, n int) []Record {
	for range n {
		for g.head == len(g.pending) {
			g.pending, g.head = g.pending[:0], 0
			g.step()
		}
		p := g.pending[g.head]
		g.pending[g.head] = pendingRecord{}
		g.head++
		g.stats.Produced++
		if p.dup {
			g.stats.Duplicates++
		}
		g.sentences += int64(p.sentences)
		dst = append(dst, p.rec)
	}
	return dst
}

const (
	staticEvery = 6 * time.Minute
	restEvery   = 3 * time.Minute
)

// step handles the fleet's earliest event, which may emit nothing.
func (g *AISGenerator) step() {
	v := g.queue[0]
	defer heap.Fix(&g.queue, 0)
	t := v.next()
	l := g.legAt(v, t)
	if l.kind == legAway {
		v.due = l.end.Add(time.Duration(g.rng.Int64N(int64(10 * time.Second))))
		v.staticDue = l.end.Add(time.Duration(g.rng.Int64N(int64(time.Minute))))
		v.turning = false
		return
	}
	if t.Equal(v.staticDue) {
		if v.classB {
			g.emitStaticB(v, l, t)
		} else {
			g.emitStatic(v, l, t)
		}
		v.staticDue = t.Add(staticEvery + g.jitter())
		return
	}
	g.emitPosition(v, l, t)
	every := restEvery
	if l.kind == legUnderway {
		switch {
		case v.classB:
			every = 30 * time.Second
		case l.speed > 14:
			every = 6 * time.Second
		default:
			every = 10 * time.Second
		}
	}
	v.due = t.Add(every + g.jitter())
}

// jitter is a random offset in [-500, 500) ms.
func (g *AISGenerator) jitter() time.Duration {
	return time.Duration(g.rng.IntN(1000)-500) * time.Millisecond
}

// legAt returns the vessel's leg at t, planning its next cycle when t is past
// the current one.
func (g *AISGenerator) legAt(v *aisVessel, t time.Time) *leg {
	for {
		for v.leg < len(v.legs) && !t.Before(v.legs[v.leg].end) {
			v.leg++
			v.turning = false
		}
		if v.leg < len(v.legs) {
			return &v.legs[v.leg]
		}
		g.plan(v, v.legs[len(v.legs)-1].end)
	}
}

const knot = 1852.0 / 3600 // m/s

// plan replaces v's legs with its next cycle, starting at t.
func (g *AISGenerator) plan(v *aisVessel, t time.Time) {
	v.legs, v.leg = v.legs[:0], 0
	add := func(l leg, d time.Duration) {
		l.start, l.end = t, t.Add(d)
		t = l.end
		v.legs = append(v.legs, l)
	}
	underway := func(l leg, p path, knots float64) {
		l.kind, l.path, l.speed = legUnderway, p, knots
		add(l, time.Duration(p.length()/(knots*knot)*float64(time.Second)))
	}
	hours := func(lo, hi float64) time.Duration {
		return time.Duration((lo + (hi-lo)*g.rng.Float64()) * float64(time.Hour))
	}

	if v.classB {
		loop := newPath(append(v.loop[:len(v.loop):len(v.loop)], v.loop[0])...)
		underway(leg{}, loop, v.cruise)
		add(leg{kind: legMoored, spot: v.loop[0], heading: float64(g.rng.IntN(360))}, hours(1.0/3, 1.5))
		return
	}

	b := pick(g.rng, berths)
	anchor := g.anchorSpot()
	arrival := leg{dest: v.destNingbo, draught: uint8(100 + g.rng.IntN(46))}
	departure := leg{dest: pick(g.rng, nextPorts), draught: uint8(90 + g.rng.IntN(51))}

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

	add(arrival, hours(3, 24)) // away
	underway(arrival, inbound, v.cruise)
	anchored := arrival
	anchored.kind, anchored.spot, anchored.heading = legAnchored, anchor, float64(g.rng.IntN(360))
	add(anchored, hours(1, 8))
	iShift := len(v.legs)
	underway(arrival, newPath(shift...), 5+3*g.rng.Float64())
	moored := arrival
	moored.kind, moored.spot, moored.heading = legMoored, b.at, b.heading
	if g.rng.IntN(2) == 0 {
		moored.heading = math.Mod(b.heading+180, 360)
	}
	add(moored, hours(10, 30))
	departure.eta = t.Add(hours(48, 480)).Truncate(time.Minute)
	underway(departure, newPath(leave...), 6+2*g.rng.Float64())
	underway(departure, newPath(outbound...), v.cruise)
	// The ETA at Ningbo is the berthing time, known to the minute.
	eta := v.legs[iShift].end.Truncate(time.Minute)
	for i := range iShift + 2 {
		v.legs[i].eta = eta
	}
}

// anchorSpot draws a point of the Beilun anchorage at least 100 m inside it.
func (g *AISGenerator) anchorSpot() latLon {
	for {
		p := anchorageCentroid.moved(1800*(g.rng.Float64()-0.5), 1800*(g.rng.Float64()-0.5))
		if inPolygon(p.moved(100, 0), beilunAnchorage) && inPolygon(p.moved(-100, 0), beilunAnchorage) &&
			inPolygon(p.moved(0, 100), beilunAnchorage) && inPolygon(p.moved(0, -100), beilunAnchorage) {
			return p
		}
	}
}

// kinematics is a vessel's position report content at t.
type kinematics struct {
	pos     latLon
	speed   float64 // knots
	course  float64 // degrees
	heading float64 // degrees
	turn    int     // ROT_AIS, -128 when unknown
	status  uint8
}

func (g *AISGenerator) kinematics(v *aisVessel, l *leg, t time.Time) kinematics {
	switch l.kind {
	case legUnderway:
		d := l.speed * knot * t.Sub(l.start).Seconds()
		pos, course := l.path.at(d)
		k := kinematics{
			pos:   pos,
			speed: max(l.speed+0.6*(g.rng.Float64()-0.5), 0),
			// Reported course and heading wander by up to ±0.5°.
			course:  math.Mod(course+g.rng.Float64()-0.5+360, 360),
			heading: math.Mod(course+v.headingBias+360, 360),
		}
		if v.turning { // the previous report is on this leg
			dc := math.Mod(course-v.lastCourse+540, 360) - 180    // (-180, 180]
			rate := dc / max(t.Sub(v.lastReport).Minutes(), 0.01) // °/min
			if math.Abs(rate) >= 1 {
				k.turn = int(math.Copysign(min(math.Round(4.733*math.Sqrt(math.Abs(rate))), 126), rate))
			}
		}
		v.lastCourse, v.lastReport, v.turning = course, t, true
		return k
	case legAnchored:
		return kinematics{
			pos:     l.spot.moved(50*(g.rng.Float64()-0.5), 50*(g.rng.Float64()-0.5)),
			speed:   0.1 * float64(g.rng.IntN(3)),
			course:  float64(g.rng.IntN(3600)) / 10,
			heading: math.Mod(l.heading+float64(g.rng.IntN(41)-20)+360, 360),
			turn:    -128,
			status:  1,
		}
	default: // legMoored
		return kinematics{
			pos:     l.spot.moved(6*(g.rng.Float64()-0.5), 6*(g.rng.Float64()-0.5)),
			course:  l.heading,
			heading: l.heading,
			turn:    -128,
			status:  5,
		}
	}
}

// position is where the vessel is at t on leg l, before any noise.
func (l *leg) position(t time.Time) latLon {
	if l.kind == legUnderway {
		p, _ := l.path.at(l.speed * knot * t.Sub(l.start).Seconds())
		return p
	}
	return l.spot
}

// ---- Emission ----

// zoneOf is the area a position's messages are heard in: 0 the inner port
// (Beilun, Daxie), 1 Chuanshan, Meishan and Luotou, 2 Xiazhimen and beyond.
func zoneOf(p latLon) int {
	switch {
	case p.lon < 121.99:
		return 0
	case p.lon < 122.2:
		return 1
	}
	return 2
}

func (g *AISGenerator) station(zone int) *aisStation {
	return &g.stations[zone%len(g.stations)]
}

func (g *AISGenerator) channel() byte { return "AB"[g.rng.IntN(2)] }

func (g *AISGenerator) emitPosition(v *aisVessel, l *leg, t time.Time) {
	k := g.kinematics(v, l, t)
	lat, lon := int32(math.Round(k.pos.lat*600_000)), int32(math.Round(k.pos.lon*600_000))
	speed := uint16(min(math.Round(k.speed*10), 1022))
	course := uint16(math.Round(k.course*10)) % 3600
	heading := uint16(math.Round(k.heading)) % 360
	g.bits.reset()
	if v.classB {
		m := posReportB{
			mmsi: v.mmsi, speed: speed, accuracy: v.accuracy, lon: lon, lat: lat, course: course,
			heading: 511, second: uint8(t.Second()), cs: true, dsc: true, band: true, msg22: true,
			raim: v.raim, radio: 0xe0006, // "CS unit" communication state
		}
		m.encode(&g.bits)
	} else {
		m := posReportA{
			typ: 1, mmsi: v.mmsi, status: k.status, turn: int8(k.turn), speed: speed, accuracy: v.accuracy,
			lon: lon, lat: lat, course: course, heading: heading, second: uint8(t.Second()),
			raim: v.raim, radio: g.rng.Uint32() & (1<<19 - 1),
		}
		m.encode(&g.bits)
	}
	var fill int
	g.payload, fill = g.bits.appendArmoured(g.payload[:0])
	zone, ch := zoneOf(k.pos), g.channel()
	g.emitSingle(g.station(zone), t, ch, g.payload, fill, false)
	if len(g.stations) > 1 && g.rng.Float64() < g.dupRate {
		g.emitSingle(g.station(zone+1), t, ch, g.payload, fill, true)
	}
}

func (g *AISGenerator) emitStatic(v *aisVessel, l *leg, t time.Time) {
	eta := l.eta.UTC()
	m := staticVoyage{
		mmsi: v.mmsi, imo: v.imo, callsign: v.callsign, name: v.name, shipType: v.shipType,
		bow: v.bow, stern: v.stern, port: v.port, stbd: v.stbd, epfd: 1,
		month: uint8(eta.Month()), day: uint8(eta.Day()), hour: uint8(eta.Hour()), minute: uint8(eta.Minute()),
		draught: l.draught, dest: l.dest,
	}
	g.bits.reset()
	m.encode(&g.bits)
	var fill int
	g.payload, fill = g.bits.appendArmoured(g.payload[:0])
	g.emitMulti(g.station(zoneOf(l.position(t))), t, g.channel(), g.payload, fill)
}

// emitStaticB emits type 24 parts A and B, one record each.
func (g *AISGenerator) emitStaticB(v *aisVessel, l *leg, t time.Time) {
	st := g.station(zoneOf(l.position(t)))
	ch := g.channel()
	var fill int
	g.bits.reset()
	(&staticPartA{mmsi: v.mmsi, name: v.name}).encode(&g.bits)
	g.payload, fill = g.bits.appendArmoured(g.payload[:0])
	g.emitSingle(st, t, ch, g.payload, fill, false)
	g.bits.reset()
	(&staticPartB{
		mmsi: v.mmsi, shipType: v.shipType, vendor: v.vendor, model: v.model, serial: v.serial,
		callsign: v.callsign, bow: v.bow, stern: v.stern, port: v.port, stbd: v.stbd,
	}).encode(&g.bits)
	g.payload, fill = g.bits.appendArmoured(g.payload[:0])
	g.emitSingle(st, t, ch, g.payload, fill, false)
}

// emitSingle queues a single-part sentence as one record.
func (g *AISGenerator) emitSingle(st *aisStation, t time.Time, ch byte, payload []byte, fill int, dup bool) {
	v := make([]byte, 0, 64+len(payload))
	if g.rng.Float64() < g.tagRate {
		v = appendTagBlock(v, func(b []byte) []byte { return appendSourceTime(b, st.id, t) })
	}
	v = appendVDM(v, 1, 1, -1, ch, payload, fill)
	g.pending = append(g.pending, pendingRecord{rec: Record{Key: st.key, Value: v, Time: t}, dup: dup, sentences: 1})
}

// fragmentChars is the payload length of all but the last fragment; it
// keeps a sentence within NMEA's 82 characters.
const fragmentChars = 60

// emitMulti queues a multi-part message as one record of all its lines or,
// with probability multiRate, one record per fragment.
func (g *AISGenerator) emitMulti(st *aisStation, t time.Time, ch byte, payload []byte, fill int) {
	seq := st.seq
	st.seq = (st.seq + 1) % 10
	group := 0
	if g.rng.Float64() < g.tagRate {
		group = st.group
		st.group = st.group%99_999 + 1
	}
	parts := (len(payload) + fragmentChars - 1) / fragmentChars
	split := g.rng.Float64() < g.multiRate
	var v []byte
	for i := range parts {
		if v == nil {
			v = make([]byte, 0, 128*parts)
		} else if !split {
			v = append(v, '\n')
		}
		if group != 0 {
			v = appendTagBlock(v, func(b []byte) []byte {
				b = append(b, "g:"...)
				b = strconv.AppendInt(b, int64(i+1), 10)
				b = append(b, '-')
				b = strconv.AppendInt(b, int64(parts), 10)
				b = append(b, '-')
				b = strconv.AppendInt(b, int64(group), 10)
				if i == 0 { // only the first fragment carries s: and c:
					b = appendSourceTime(append(b, ','), st.id, t)
				}
				return b
			})
		}
		f := 0
		if i == parts-1 {
			f = fill
		}
		v = appendVDM(v, parts, i+1, seq, ch, payload[i*fragmentChars:min((i+1)*fragmentChars, len(payload))], f)
		if split {
			g.pending = append(g.pending, pendingRecord{rec: Record{Key: st.key, Value: v, Time: t}, sentences: 1})
			v = nil
		}
	}
	if !split {
		g.pending = append(g.pending, pendingRecord{rec: Record{Key: st.key, Value: v, Time: t}, sentences: parts})
	}
}

// ---- NMEA framing ----

const hexDigits = "0123456789ABCDEF"

// xor is the NMEA checksum of b.
func xor(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// appendTagBlock appends \<fields>*hh\ with the fields written by fields.
func appendTagBlock(dst []byte, fields func([]byte) []byte) []byte {
	dst = append(dst, '\\')
	start := len(dst)
	dst = fields(dst)
	x := xor(dst[start:])
	return append(dst, '*', hexDigits[x>>4], hexDigits[x&15], '\\')
}

func appendSourceTime(dst []byte, station string, t time.Time) []byte {
	dst = append(dst, "s:"...)
	dst = append(dst, station...)
	dst = append(dst, ",c:"...)
	return strconv.AppendInt(dst, t.Unix(), 10)
}

// appendVDM appends an !AIVDM sentence; seq < 0 leaves the sequence id empty.
func appendVDM(dst []byte, total, num, seq int, ch byte, payload []byte, fill int) []byte {
	start := len(dst)
	dst = append(dst, "!AIVDM,"...)
	dst = strconv.AppendInt(dst, int64(total), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(num), 10)
	dst = append(dst, ',')
	if seq >= 0 {
		dst = strconv.AppendInt(dst, int64(seq), 10)
	}
	dst = append(dst, ',', ch, ',')
	dst = append(dst, payload...)
	dst = append(dst, ',', byte('0'+fill))
	x := xor(dst[start+1:])
	return append(dst, '*', hexDigits[x>>4], hexDigits[x&15])
}

// ---- AIS payload encoding (DOMAIN.md §9.1, §9.2) ----

// sixBits accumulates an AIS message most significant bit first, in the
// 6-bit groups of the payload armour.
type sixBits struct {
	v []byte // 6-bit values
	n int    // bits written
}

func (b *sixBits) reset() { b.v, b.n = b.v[:0], 0 }

// put writes the low width bits of x. It panics if x does not fit: the
// encoders only write values they have range-checked.
func (b *sixBits) put(x uint64, width int) {
	if width < 64 && x>>width != 0 {
		panic(fmt.Sprintf("sim: AIS field value %d does not fit in %d bits", x, width))
	}
	for i := width - 1; i >= 0; i-- {
		if b.n%6 == 0 {
			b.v = append(b.v, 0)
		}
		b.v[len(b.v)-1] |= byte(x>>i&1) << (5 - b.n%6)
		b.n++
	}
}

// putSigned writes x in two's complement at width bits.
func (b *sixBits) putSigned(x int64, width int) {
	if lim := int64(1) << (width - 1); x < -lim || x >= lim {
		panic(fmt.Sprintf("sim: AIS field value %d does not fit in %d signed bits", x, width))
	}
	b.put(uint64(x)&(1<<width-1), width)
}

func (b *sixBits) putBool(x bool) {
	if x {
		b.put(1, 1)
	} else {
		b.put(0, 1)
	}
}

// putText writes s as chars 6-bit characters, padded with '@'. It panics on
// a character outside the AIS 6-bit set (space to '_', upper case only) or
// if s is too long.
func (b *sixBits) putText(s string, chars int) {
	if len(s) > chars {
		panic(fmt.Sprintf("sim: AIS text %q is longer than %d characters", s, chars))
	}
	for i := range chars {
		c := byte('@')
		if i < len(s) {
			c = s[i]
		}
		switch {
		case c >= '@' && c <= '_':
			b.put(uint64(c-'@'), 6)
		case c >= ' ' && c <= '?':
			b.put(uint64(c), 6)
		default:
			panic(fmt.Sprintf("sim: %q is not AIS 6-bit text", s))
		}
	}
}

// appendArmoured appends the payload characters and returns the fill bits.
func (b *sixBits) appendArmoured(dst []byte) ([]byte, int) {
	for _, v := range b.v {
		c := v + 48
		if c > 'W' {
			c += 8
		}
		dst = append(dst, c)
	}
	return dst, len(b.v)*6 - b.n
}

// posReportA is a class A position report, types 1-3 (168 bits).
type posReportA struct {
	typ, repeat uint8
	mmsi        uint32
	status      uint8
	turn        int8   // ROT_AIS
	speed       uint16 // 0.1 kn
	accuracy    bool
	lon, lat    int32  // 1/10000 min
	course      uint16 // 0.1°
	heading     uint16
	second      uint8
	maneuver    uint8
	raim        bool
	radio       uint32 // 19 bits
}

func (m *posReportA) encode(b *sixBits) {
	b.put(uint64(m.typ), 6)
	b.put(uint64(m.repeat), 2)
	b.put(uint64(m.mmsi), 30)
	b.put(uint64(m.status), 4)
	b.putSigned(int64(m.turn), 8)
	b.put(uint64(m.speed), 10)
	b.putBool(m.accuracy)
	b.putSigned(int64(m.lon), 28)
	b.putSigned(int64(m.lat), 27)
	b.put(uint64(m.course), 12)
	b.put(uint64(m.heading), 9)
	b.put(uint64(m.second), 6)
	b.put(uint64(m.maneuver), 2)
	b.put(0, 3) // spare
	b.putBool(m.raim)
	b.put(uint64(m.radio), 19)
}

// posReportB is a class B position report, type 18 (168 bits).
type posReportB struct {
	repeat                                        uint8
	mmsi                                          uint32
	speed                                         uint16
	accuracy                                      bool
	lon, lat                                      int32
	course, heading                               uint16
	second, regional                              uint8
	cs, display, dsc, band, msg22, assigned, raim bool
	radio                                         uint32 // 20 bits
}

func (m *posReportB) encode(b *sixBits) {
	b.put(18, 6)
	b.put(uint64(m.repeat), 2)
	b.put(uint64(m.mmsi), 30)
	b.put(0, 8) // reserved
	b.put(uint64(m.speed), 10)
	b.putBool(m.accuracy)
	b.putSigned(int64(m.lon), 28)
	b.putSigned(int64(m.lat), 27)
	b.put(uint64(m.course), 12)
	b.put(uint64(m.heading), 9)
	b.put(uint64(m.second), 6)
	b.put(uint64(m.regional), 2)
	for _, f := range []bool{m.cs, m.display, m.dsc, m.band, m.msg22, m.assigned, m.raim} {
		b.putBool(f)
	}
	b.put(uint64(m.radio), 20)
}

// staticVoyage is class A static and voyage data, type 5 (424 bits).
type staticVoyage struct {
	repeat, version          uint8
	mmsi, imo                uint32
	callsign, name, dest     string
	shipType                 uint8
	bow, stern               uint16
	port, stbd, epfd         uint8
	month, day, hour, minute uint8 // ETA, UTC
	draught                  uint8 // 0.1 m
	dte                      bool
}

func (m *staticVoyage) encode(b *sixBits) {
	b.put(5, 6)
	b.put(uint64(m.repeat), 2)
	b.put(uint64(m.mmsi), 30)
	b.put(uint64(m.version), 2)
	b.put(uint64(m.imo), 30)
	b.putText(m.callsign, 7)
	b.putText(m.name, 20)
	b.put(uint64(m.shipType), 8)
	b.put(uint64(m.bow), 9)
	b.put(uint64(m.stern), 9)
	b.put(uint64(m.port), 6)
	b.put(uint64(m.stbd), 6)
	b.put(uint64(m.epfd), 4)
	b.put(uint64(m.month), 4)
	b.put(uint64(m.day), 5)
	b.put(uint64(m.hour), 5)
	b.put(uint64(m.minute), 6)
	b.put(uint64(m.draught), 8)
	b.putText(m.dest, 20)
	b.putBool(m.dte)
	b.put(0, 1) // spare
}

// staticPartA is class B static data part A, type 24 (160 bits).
type staticPartA struct {
	repeat uint8
	mmsi   uint32
	name   string
}

func (m *staticPartA) encode(b *sixBits) {
	b.put(24, 6)
	b.put(uint64(m.repeat), 2)
	b.put(uint64(m.mmsi), 30)
	b.put(0, 2) // part A
	b.putText(m.name, 20)
}

// staticPartB is class B static data part B, type 24 (168 bits).
type staticPartB struct {
	repeat, shipType, model uint8
	mmsi, serial            uint32
	vendor, callsign        string
	bow, stern              uint16
	port, stbd              uint8
}

func (m *staticPartB) encode(b *sixBits) {
	b.put(24, 6)
	b.put(uint64(m.repeat), 2)
	b.put(uint64(m.mmsi), 30)
	b.put(1, 2) // part B
	b.put(uint64(m.shipType), 8)
	b.putText(m.vendor, 3)
	b.put(uint64(m.model), 4)
	b.put(uint64(m.serial), 20)
	b.putText(m.callsign, 7)
	b.put(uint64(m.bow), 9)
	b.put(uint64(m.stern), 9)
	b.put(uint64(m.port), 6)
	b.put(uint64(m.stbd), 6)
	b.put(0, 6) // spare
}
