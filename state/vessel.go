package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Unknown markers of VesselReport and Vessel numeric fields.
const (
	UnknownInt   = -1
	UnknownFloat = -1.0
	// UnknownTurn marks an unknown rate of turn: the AIS "not available"
	// −128, since −1 is a raw rate like any other.
	UnknownTurn = -128
)

// VesselReport is one decoded AIS message about a vessel, in porttrack's
// terms: every field is either known or carries its Unknown marker. Ingest
// builds it from the AIS decoder's message; state knows nothing of NMEA.
type VesselReport struct {
	MMSI    uint32
	Time    int64  // observation time, Unix ns
	Station string // receiving station (tag block s:), "" if unknown
	MsgType uint8  // AIS message type

	HasPosition bool
	Lat, Lon    float64
	Speed       float64 // knots, UnknownFloat
	Course      float64 // degrees, UnknownFloat
	Heading     int     // degrees, UnknownInt
	Status      int     // navigation status 0-15, UnknownInt
	Turn        int     // raw ROT_AIS -127..127, UnknownTurn when not available

	// Static and voyage data; zero values and "" mean not in this report.
	IMO                              uint32
	CallSign, Name, Destination, ETA string
	ShipType                         int     // UnknownInt
	ToBow, ToStern, ToPort, ToStarbd int     // UnknownInt
	Draught                          float64 // metres, 0 unknown
}

// HasStatic reports whether the report carries any static or voyage field.
func (r *VesselReport) HasStatic() bool {
	return r.IMO != 0 || r.CallSign != "" || r.Name != "" || r.Destination != "" || r.ETA != "" ||
		r.ShipType != UnknownInt || r.ToBow != UnknownInt || r.Draught != 0
}

// Validate checks the invariants the store relies on.
func (r *VesselReport) Validate() error {
	switch {
	case r.MMSI == 0 || r.MMSI > 999999999:
		return fmt.Errorf("mmsi %d out of range", r.MMSI)
	case r.Time == 0:
		return errors.New("vessel report has no time")
	case r.HasPosition && (math.IsNaN(r.Lat) || math.IsNaN(r.Lon) || r.Lat < -90 || r.Lat > 90 || r.Lon < -180 || r.Lon > 180):
		return fmt.Errorf("position %v,%v out of range", r.Lat, r.Lon)
	case len(r.Station) > MaxFieldLen || len(r.Name) > MaxFieldLen || len(r.CallSign) > MaxFieldLen ||
		len(r.Destination) > MaxFieldLen || len(r.ETA) > MaxFieldLen:
		return fmt.Errorf("vessel field longer than %d bytes", MaxFieldLen)
	}
	return nil
}

// Vessel is the current state of one vessel: the newest position by
// observation time and the merged static/voyage data, each with the time
// and station it came from.
type Vessel struct {
	MMSI uint32

	HasPosition bool
	Lat, Lon    float64
	Speed       float64
	Course      float64
	Heading     int
	Status      int
	Turn        int
	PosTime     int64
	PosStation  string

	IMO                              uint32
	CallSign, Name, Destination, ETA string
	ShipType                         int
	ToBow, ToStern, ToPort, ToStarbd int
	Draught                          float64
	StaticTime                       int64
	StaticStation                    string

	LastSeen int64  // newest observation time of any report
	Reports  uint64 // reports applied (after dedupe)

	PortCall PortCall
}

func newVessel(mmsi uint32) Vessel {
	return Vessel{MMSI: mmsi, Speed: UnknownFloat, Course: UnknownFloat, Heading: UnknownInt, Status: UnknownInt,
		Turn: UnknownTurn, ShipType: UnknownInt, ToBow: UnknownInt, ToStern: UnknownInt, ToPort: UnknownInt, ToStarbd: UnknownInt}
}

// merge applies a report; it returns whether the position changed and the
// IMO the vessel had before (for the IMO index).
func (v *Vessel) merge(r *VesselReport) (moved bool) {
	v.Reports++
	v.LastSeen = max(v.LastSeen, r.Time)
	if r.HasPosition && r.Time > v.PosTime {
		// Out-of-order positions (satellite back-fill) never move a vessel
		// backwards in time: they go to the track only.
		v.HasPosition, v.Lat, v.Lon = true, r.Lat, r.Lon
		v.Speed, v.Course, v.Heading, v.Status, v.Turn = r.Speed, r.Course, r.Heading, r.Status, r.Turn
		v.PosTime, v.PosStation = r.Time, r.Station
		moved = true
	}
	if r.HasStatic() && r.Time >= v.StaticTime {
		setStr := func(dst *string, s string) {
			if s != "" {
				*dst = s
			}
		}
		setInt := func(dst *int, n int) {
			if n != UnknownInt {
				*dst = n
			}
		}
		if r.IMO != 0 {
			v.IMO = r.IMO
		}
		setStr(&v.CallSign, r.CallSign)
		setStr(&v.Name, r.Name)
		setStr(&v.Destination, r.Destination)
		setStr(&v.ETA, r.ETA)
		setInt(&v.ShipType, r.ShipType)
		setInt(&v.ToBow, r.ToBow)
		setInt(&v.ToStern, r.ToStern)
		setInt(&v.ToPort, r.ToPort)
		setInt(&v.ToStarbd, r.ToStarbd)
		if r.Draught != 0 {
			v.Draught = r.Draught
		}
		v.StaticTime, v.StaticStation = r.Time, r.Station
	}
	return moved
}

func vesselKey(dst []byte, mmsi uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, prefixVessel), mmsi)
}

func trackKey(dst []byte, mmsi uint32, t int64) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, prefixVesselTrack), mmsi)
	return binary.BigEndian.AppendUint64(dst, sortableTime(t))
}

func imoKey(dst []byte, imo uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, prefixVesselIMO), imo)
}

func appendF64(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

func (r *reader) f64() float64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errCorrupt
		return 0
	}
	f := math.Float64frombits(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}

func (r *reader) int() int { return int(r.varint()) }

// vesselV2 is the version of a vessel value whose unknown turn is
// UnknownTurn; version 1 wrote UnknownInt (−1), which is also a raw rate.
const vesselV2 byte = 2

func appendVessel(dst []byte, v *Vessel) []byte {
	dst = append(dst, vesselV2)
	var flags byte
	if v.HasPosition {
		flags |= 1
	}
	dst = append(dst, flags)
	dst = appendF64(dst, v.Lat)
	dst = appendF64(dst, v.Lon)
	dst = appendF64(dst, v.Speed)
	dst = appendF64(dst, v.Course)
	for _, n := range []int{v.Heading, v.Status, v.Turn} {
		dst = binary.AppendVarint(dst, int64(n))
	}
	dst = binary.AppendVarint(dst, v.PosTime)
	dst = appendStr(dst, v.PosStation)
	dst = binary.AppendUvarint(dst, uint64(v.IMO))
	for _, s := range []string{v.CallSign, v.Name, v.Destination, v.ETA} {
		dst = appendStr(dst, s)
	}
	for _, n := range []int{v.ShipType, v.ToBow, v.ToStern, v.ToPort, v.ToStarbd} {
		dst = binary.AppendVarint(dst, int64(n))
	}
	dst = appendF64(dst, v.Draught)
	dst = binary.AppendVarint(dst, v.StaticTime)
	dst = appendStr(dst, v.StaticStation)
	dst = binary.AppendVarint(dst, v.LastSeen)
	dst = binary.AppendUvarint(dst, v.Reports)
	pc := &v.PortCall
	for _, s := range []string{pc.Phase, pc.Fence, pc.Pending, pc.PendingFence} {
		dst = appendStr(dst, s)
	}
	for _, t := range []int64{pc.PhaseSince, pc.PendingSince, pc.AnchorageSince, int64(pc.LastAnchorageWait)} {
		dst = binary.AppendVarint(dst, t)
	}
	return dst
}

func decodeVessel(mmsi uint32, b []byte, v *Vessel) error {
	r := reader{b: b}
	ver := r.byte()
	if ver != valueV1 && ver != vesselV2 {
		return errCorrupt
	}
	*v = Vessel{MMSI: mmsi}
	v.HasPosition = r.byte()&1 != 0
	v.Lat, v.Lon, v.Speed, v.Course = r.f64(), r.f64(), r.f64(), r.f64()
	v.Heading, v.Status, v.Turn = r.int(), r.int(), r.int()
	if ver == valueV1 && v.Turn == UnknownInt {
		v.Turn = UnknownTurn
	}
	v.PosTime = r.varint()
	v.PosStation = r.str()
	v.IMO = uint32(r.uvarint())
	v.CallSign, v.Name, v.Destination, v.ETA = r.str(), r.str(), r.str(), r.str()
	v.ShipType, v.ToBow, v.ToStern, v.ToPort, v.ToStarbd = r.int(), r.int(), r.int(), r.int(), r.int()
	v.Draught = r.f64()
	v.StaticTime = r.varint()
	v.StaticStation = r.str()
	v.LastSeen = r.varint()
	v.Reports = r.uvarint()
	pc := &v.PortCall
	pc.Phase, pc.Fence, pc.Pending, pc.PendingFence = r.str(), r.str(), r.str(), r.str()
	pc.PhaseSince, pc.PendingSince, pc.AnchorageSince = r.varint(), r.varint(), r.varint()
	pc.LastAnchorageWait = time.Duration(r.varint())
	return r.err
}

// TrackPoint is one stored position of a vessel.
type TrackPoint struct {
	Time     int64
	Lat, Lon float64
	Speed    float64
	Course   float64
	Heading  int
	Status   int
	Station  string
}

func appendTrackPoint(dst []byte, r *VesselReport) []byte {
	dst = append(dst, valueV1)
	dst = appendF64(dst, r.Lat)
	dst = appendF64(dst, r.Lon)
	dst = appendF64(dst, r.Speed)
	dst = appendF64(dst, r.Course)
	dst = binary.AppendVarint(dst, int64(r.Heading))
	dst = binary.AppendVarint(dst, int64(r.Status))
	return appendStr(dst, r.Station)
}

func decodeTrackPoint(key, b []byte, p *TrackPoint) error {
	if len(key) != 1+4+8 {
		return errCorrupt
	}
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	p.Time = unsortTime(binary.BigEndian.Uint64(key[5:]))
	p.Lat, p.Lon, p.Speed, p.Course = r.f64(), r.f64(), r.f64(), r.f64()
	p.Heading, p.Status = r.int(), r.int()
	p.Station = r.str()
	return r.err
}

// applyVessels adds the vessel reports of a batch to pb. Called by Apply
// under s.mu.
func (s *Store) applyVessels(pb *pebble.Batch, reports []VesselReport, now int64, res *ApplyResult) error {
	sc := &s.mu.scratch
	if sc.vessels == nil {
		sc.vessels = make(map[uint32]*vesselWork)
	}
	clear(sc.vessels)
	for i := range reports {
		r := &reports[i]
		w, err := s.vesselForApply(sc, r.MMSI)
		if err != nil {
			return err
		}
		if r.HasPosition && r.Time == w.v.PosTime && r.Lat == w.v.Lat && r.Lon == w.v.Lon {
			// The same report heard by another station.
			res.VesselDuplicates++
			continue
		}
		if r.HasPosition {
			// One key per (vessel, time): the same position heard by
			// several stations collapses into one track point.
			sc.key = trackKey(sc.key[:0], r.MMSI, r.Time)
			sc.val = appendTrackPoint(sc.val[:0], r)
			if err := pb.Set(sc.key, sc.val, nil); err != nil {
				return err
			}
			s.observePendingBerths(r)
		}
		if w.v.merge(r) {
			w.moved = true
			if err := s.observeVesselFences(pb, r, res); err != nil {
				return err
			}
			if pm := s.opts.PortModel; pm != nil {
				if err := s.observePortCall(pb, &w.v, pm, now, res); err != nil {
					return err
				}
			}
		}
		res.VesselReports++
	}
	for mmsi, w := range sc.vessels {
		if ret := s.opts.TrackRetention; ret > 0 && w.moved && trimDue(w.stored, w.prevPos, w.v.PosTime, ret) {
			// Range tombstone over the points older than the retention.
			if err := pb.DeleteRange(trackKey(nil, mmsi, math.MinInt64), trackKey(nil, mmsi, w.v.PosTime-int64(ret)), nil); err != nil {
				return err
			}
		}
		sc.key = vesselKey(sc.key[:0], mmsi)
		sc.val = appendVessel(sc.val[:0], &w.v)
		if err := pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
		if w.v.IMO != 0 && w.v.IMO != w.oldIMO {
			if w.oldIMO != 0 {
				if err := pb.Delete(imoKey(sc.key[:0], w.oldIMO), nil); err != nil {
					return err
				}
			}
			sc.key = imoKey(sc.key[:0], w.v.IMO)
			if err := pb.Set(sc.key, binary.BigEndian.AppendUint32(sc.val[:0], mmsi), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

type vesselWork struct {
	v       Vessel
	oldIMO  uint32
	moved   bool
	stored  bool  // stored before this batch
	prevPos int64 // the position time stored before this batch
}

func (s *Store) vesselForApply(sc *applyScratch, mmsi uint32) (*vesselWork, error) {
	if w, ok := sc.vessels[mmsi]; ok {
		return w, nil
	}
	w := &vesselWork{}
	v, err := s.Vessel(mmsi)
	switch {
	case errors.Is(err, ErrNotFound):
		w.v = newVessel(mmsi)
	case err != nil:
		return nil, err
	default:
		w.v = v
		w.oldIMO = v.IMO
		w.stored, w.prevPos = true, v.PosTime
	}
	sc.vessels[mmsi] = w
	return w, nil
}

// Vessel returns the current state of a vessel by MMSI, or ErrNotFound.
func (s *Store) Vessel(mmsi uint32) (Vessel, error) { return s.live().Vessel(mmsi) }

// Vessel is Store.Vessel as the view sees it.
func (vw *View) Vessel(mmsi uint32) (Vessel, error) {
	var v Vessel
	var kb [5]byte
	b, closer, err := vw.r.Get(vesselKey(kb[:0], mmsi))
	if errors.Is(err, pebble.ErrNotFound) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	defer closer.Close()
	if err := decodeVessel(mmsi, b, &v); err != nil {
		return v, fmt.Errorf("state: vessel %d: %w", mmsi, err)
	}
	return v, nil
}

// VesselByIMO returns the vessel currently reporting an IMO number.
func (s *Store) VesselByIMO(imo uint32) (Vessel, error) {
	var kb [5]byte
	b, closer, err := s.db.Get(imoKey(kb[:0], imo))
	if errors.Is(err, pebble.ErrNotFound) {
		return Vessel{}, ErrNotFound
	}
	if err != nil {
		return Vessel{}, err
	}
	if len(b) != 4 {
		closer.Close()
		return Vessel{}, errCorrupt
	}
	mmsi := binary.BigEndian.Uint32(b)
	closer.Close()
	return s.Vessel(mmsi)
}

// Track calls fn for the vessel's positions with time in [from, to) (0: no
// bound), in time order, at most limit of them.
func (s *Store) Track(mmsi uint32, from, to int64, limit int, fn func(*TrackPoint) error) error {
	lower := binary.BigEndian.AppendUint32([]byte{prefixVesselTrack}, mmsi)
	upper := binary.BigEndian.AppendUint32([]byte{prefixVesselTrack}, mmsi+1)
	if mmsi == math.MaxUint32 {
		upper = []byte{prefixVesselTrack + 1}
	}
	if from != 0 {
		lower = binary.BigEndian.AppendUint64(lower, sortableTime(from))
	}
	if to != 0 {
		upper = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32([]byte{prefixVesselTrack}, mmsi), sortableTime(to))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	var p TrackPoint
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		if err := decodeTrackPoint(it.Key(), it.Value(), &p); err != nil {
			return fmt.Errorf("state: track of %d: %w", mmsi, err)
		}
		if err := fn(&p); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// EachVessel calls fn for every vessel in MMSI order (startup index
// rebuild, scans).
func (s *Store) EachVessel(fn func(*Vessel) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixVessel}, UpperBound: []byte{prefixVessel + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var v Vessel
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != 5 {
			return errCorrupt
		}
		if err := decodeVessel(binary.BigEndian.Uint32(k[1:]), it.Value(), &v); err != nil {
			return err
		}
		if err := fn(&v); err != nil {
			return err
		}
	}
	return it.Error()
}

// observePortCall advances a vessel's port call with its new position and
// writes ARRI/DEPA events to the outbox (under s.mu, in the Apply batch).
func (s *Store) observePortCall(pb *pebble.Batch, v *Vessel, pm *PortModel, now int64, res *ApplyResult) error {
	cfg := &s.opts.PortCalls
	fence, kind := pm.zone(v.Lat, v.Lon)
	tr, ok := v.PortCall.observe(v.PosTime, fence, kind, v.Speed, v.Status, cfg)
	if !ok {
		return nil
	}
	res.PhaseChanges++
	if cfg.EventTopic == "" {
		return nil
	}
	var code, at string
	switch {
	case tr.to == PhaseBerthed:
		code, at = "ARRI", tr.fence
	case tr.from == PhaseBerthed:
		code, at = "DEPA", tr.prev
	default:
		return nil
	}
	d := transportDCSA(v, code, tr.at, at, pm.Locode)
	return s.writeDCSA(pb, &d, now, strconv.FormatUint(uint64(v.MMSI), 10), res)
}

// trimDue reports whether a track's retention cut-off moved far enough,
// from the newest position time stored before a batch (prev, when stored)
// to the one after it (now), to trim the track again: when it crossed a
// step of a sixteenth of the retention, at most an hour. A range tombstone
// per position would cost every update a second memtable entry and every
// later read and compaction a tombstone to step over; this way a track
// holds at most one step more than the retention.
func trimDue(stored bool, prev, now int64, ret time.Duration) bool {
	if !stored {
		return true
	}
	step := max(min(int64(ret)/16, int64(time.Hour)), 1)
	return floorDiv(now-int64(ret), step) > floorDiv(prev-int64(ret), step)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
