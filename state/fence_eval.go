package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/geo"
)

// Object types of fence memberships; the byte leads the object in keys.
const (
	ObjVessel    byte = 'v' // id: MMSI in decimal
	ObjTruck     byte = 't' // id: canonical plate
	ObjContainer byte = 'c' // id: ISO 6346 number
)

// ObjectTypeName is the JSON name of an object type.
func ObjectTypeName(t byte) string {
	switch t {
	case ObjVessel:
		return "vessel"
	case ObjTruck:
		return "truck"
	case ObjContainer:
		return "container"
	}
	return ""
}

// fenceState is the store's geofence state: the user fences, the
// memberships of objects that are inside a fence or on their way in or out
// (everything else is outside and has no record), and the counters.
// members is read and written by Apply under Store.mu only; work is the
// current batch's copy-on-write view of the objects it touched, moved into
// members after the commit.
type fenceState struct {
	reg     fenceRegistry
	members map[string]map[string]*membership // object key → fence key → state
	work    map[string]map[string]*membership
	cobs    map[string]int64 // container → newest observation time, this batch
	// refs are the links this batch's events carry, by container: a fence
	// event of a box seen in the batch that first links it must find them,
	// and they are not readable from the db before the commit.
	refs map[string][]Ref
	// board is this batch's changes of the on-board index (ship → box →
	// entry, Container "" removed); onShip the boxes whose location record
	// names a ship after this batch, among those the batch gave events.
	board  map[uint32]map[string]OnBoard
	onShip map[string]bool
	hits   []string
	keys   []string
	objBuf []byte

	evals, enters, exits atomic.Uint64
	hidden               atomic.Uint64 // transitions not published: the owner may not see the object
	fanned               atomic.Uint64 // container transitions fanned out from their ship's
}

// membership is one object's state for one fence.
type membership struct {
	inside bool
	since  int64 // event time the current state began (the enter, for inside)
	// pending is the time of the first observation on the other side, not
	// yet held for MinDwell; 0 none. pLat, pLon: where that was.
	pending    int64
	pLat, pLon float64
}

func (m *membership) zero() bool { return !m.inside && m.pending == 0 }

func appendMembership(dst []byte, m *membership) []byte {
	var flags byte
	if m.inside {
		flags = 1
	}
	dst = append(dst, valueV1, flags)
	dst = binary.AppendVarint(dst, m.since)
	dst = binary.AppendVarint(dst, m.pending)
	dst = appendF64(dst, m.pLat)
	return appendF64(dst, m.pLon)
}

func decodeMembership(b []byte, m *membership) error {
	r := reader{b: b}
	if r.byte() != valueV1 {
		return errCorrupt
	}
	m.inside = r.byte()&1 != 0
	m.since, m.pending = r.varint(), r.varint()
	m.pLat, m.pLon = r.f64(), r.f64()
	return r.err
}

// memberKey: 0x71 | tenant | 0x00 | fence id | 0x00 | object type | object id.
func memberKey(dst []byte, fk, obj string) []byte {
	dst = append(dst, prefixFenceMember)
	dst = append(dst, fk...)
	dst = append(dst, fenceKeySep)
	return append(dst, obj...)
}

// memberRange bounds the memberships of one fence.
func memberRange(fk string) (lo, hi []byte) {
	lo = memberKey(nil, fk, "")
	hi = bytes.Clone(lo)
	hi[len(hi)-1]++
	return lo, hi
}

func containerObsKey(dst []byte, box string) []byte {
	dst = append(dst, prefixContainerFObs)
	return append(dst, box...)
}

func (s *Store) scanMembers(r pebble.Reader, lo, hi []byte, fn func(obj string, m *membership) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	var m membership
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < len(lo)+2 {
			return fmt.Errorf("state: membership key %x: %w", k, errCorrupt)
		}
		if err := decodeMembership(it.Value(), &m); err != nil {
			return fmt.Errorf("state: membership %x: %w", k, err)
		}
		if err := fn(string(k[len(lo):]), &m); err != nil {
			return err
		}
	}
	return it.Error()
}

func (s *Store) loadMemberships() error {
	fs := &s.fence
	fs.members = map[string]map[string]*membership{}
	fs.work = map[string]map[string]*membership{}
	fs.cobs = map[string]int64{}
	fs.refs = map[string][]Ref{}
	fs.board = map[uint32]map[string]OnBoard{}
	fs.onShip = map[string]bool{}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixFenceMember}, UpperBound: []byte{prefixFenceMember + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[1:]
		// tenant 0x00 id 0x00 obj: the object follows the second 0x00.
		i := bytes.IndexByte(k, fenceKeySep)
		j := -1
		if i >= 0 {
			j = bytes.IndexByte(k[i+1:], fenceKeySep)
		}
		if j < 0 || i+1+j+2 > len(k) {
			return fmt.Errorf("state: membership key %x: %w", it.Key(), errCorrupt)
		}
		fk, obj := string(k[:i+1+j]), string(k[i+1+j+1:])
		if _, ok := fs.reg.byKey[fk]; !ok {
			continue // DeleteFence removes a fence and its memberships in one batch
		}
		m := &membership{}
		if err := decodeMembership(it.Value(), m); err != nil {
			return fmt.Errorf("state: membership %x: %w", it.Key(), err)
		}
		ms := fs.members[obj]
		if ms == nil {
			ms = map[string]*membership{}
			fs.members[obj] = ms
		}
		ms[fk] = m
	}
	return it.Error()
}

// fenceBegin starts a batch: forget what a failed batch left in work, and
// note the links the batch's events carry. Called by Apply under s.mu.
func (s *Store) fenceBegin(b *Batch) {
	fs := &s.fence
	clear(fs.work)
	clear(fs.cobs)
	clear(fs.refs)
	clear(fs.board)
	clear(fs.onShip)
	if fs.reg.idx.Len() == 0 {
		return
	}
	for i := range b.Events {
		if e := &b.Events[i]; len(e.Refs) > 0 {
			fs.refs[e.Container] = append(fs.refs[e.Container], e.Refs...)
		}
	}
}

// fenceCommitted publishes the committed batch's memberships. Called by
// Apply under s.mu after the commit.
func (s *Store) fenceCommitted() {
	fs := &s.fence
	for obj, ms := range fs.work {
		if len(ms) == 0 {
			delete(fs.members, obj)
		} else {
			fs.members[obj] = ms
		}
	}
	clear(fs.work)
}

// observeContainerEvent observes a container at the reader that saw it, if
// the port model places the reader. Called by Apply for an event that is
// the container's newest.
func (s *Store) observeContainerEvent(pb *pebble.Batch, e *Event, res *ApplyResult) error {
	if e.ReadPoint == "" || len(s.opts.Fences.Readers) == 0 {
		return nil
	}
	p, ok := s.opts.Fences.Readers[e.ReadPoint]
	if !ok {
		return nil
	}
	return s.observeContainer(pb, e.Container, p.Lat, p.Lng, e.Time, res)
}

// observeContainer observes a container at a position (a reader's, or the
// truck's that carries it). Its observations come from several sources, so
// the newest observation time is kept (0x72) and an older one is ignored.
func (s *Store) observeContainer(pb *pebble.Batch, box string, lat, lon float64, t int64, res *ApplyResult) error {
	fs := &s.fence
	if fs.reg.idx.Len() == 0 {
		return nil
	}
	last, ok := fs.cobs[box]
	if !ok {
		var kb [1 + ContainerLen]byte
		v, closer, err := s.db.Get(containerObsKey(kb[:0], box))
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return err
		default:
			if len(v) != 8 {
				closer.Close()
				return fmt.Errorf("state: fence observation of %s: %w", box, errCorrupt)
			}
			last = unsortTime(binary.BigEndian.Uint64(v))
			closer.Close()
		}
	}
	if ok || last != 0 {
		if t <= last {
			return nil
		}
	}
	fs.cobs[box] = t
	var kb [1 + ContainerLen]byte
	if err := pb.Set(containerObsKey(kb[:0], box), binary.BigEndian.AppendUint64(nil, sortableTime(t)), nil); err != nil {
		return err
	}
	return s.observeFences(pb, ObjContainer, box, "", lat, lon, t, res)
}

// observeFences evaluates every user fence for one newer position of an
// object: the fences containing the point (one FenceIndex lookup) and the
// fences the object has a membership in. box is the container a truck
// carries at this position ("" none, or not a truck). Called by Apply under
// s.mu; the callers pass positions in event-time order per object (newer
// than the object's current position).
func (s *Store) observeFences(pb *pebble.Batch, typ byte, id, box string, lat, lon float64, t int64, res *ApplyResult) error {
	fs := &s.fence
	if fs.reg.idx.Len() == 0 {
		return nil
	}
	fs.evals.Add(1)
	fs.objBuf = append(append(fs.objBuf[:0], typ), id...)
	p := geo.LatLng{Lat: lat, Lng: lon}
	fs.hits = fs.hits[:0]
	if err := fs.reg.idx.Containing(p, func(fk string) bool {
		fs.hits = append(fs.hits, fk)
		return true
	}); err != nil {
		return nil // positions were range-checked; an invalid one is in no fence
	}
	ms, touched := fs.work[string(fs.objBuf)]
	if !touched {
		ms = fs.members[string(fs.objBuf)]
	}
	if len(fs.hits) == 0 && len(ms) == 0 {
		return nil
	}
	obj := string(fs.objBuf)
	if !touched {
		cp := make(map[string]*membership, len(ms)+len(fs.hits))
		for k, m := range ms {
			c := *m
			cp[k] = &c
		}
		ms = cp
		fs.work[obj] = ms
	}
	fs.keys = append(fs.keys[:0], fs.hits...)
	for k := range ms {
		if _, in := slices.BinarySearch(fs.hits, k); !in {
			fs.keys = append(fs.keys, k)
		}
	}
	slices.Sort(fs.keys)
	for _, fk := range fs.keys {
		_, in := slices.BinarySearch(fs.hits, fk)
		m := ms[fk]
		if m == nil {
			m = &membership{}
		}
		before := *m
		ev, dwell, at, alat, alon, changed := m.observe(in, t, lat, lon, s.opts.Fences.MinDwell)
		if *m == before {
			continue
		}
		key := memberKey(nil, fk, obj)
		if m.zero() {
			delete(ms, fk)
			if err := pb.Delete(key, nil); err != nil {
				return err
			}
		} else {
			ms[fk] = m
			if err := pb.Set(key, appendMembership(nil, m), nil); err != nil {
				return err
			}
		}
		if !changed {
			continue
		}
		if ev == "enter" {
			fs.enters.Add(1)
		} else {
			fs.exits.Add(1)
		}
		if err := s.fenceAlert(pb, fk, typ, id, box, ev, at, alat, alon, dwell, res); err != nil {
			return err
		}
		if typ == ObjVessel {
			mmsi, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return fmt.Errorf("state: vessel fence object %q: %w", id, err)
			}
			if err := s.fanOutToBoard(pb, fk, uint32(mmsi), ev, at, alat, alon, int64(dwell), before.since, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// observe feeds one observation (inside or not) at time t. It returns the
// transition it confirmed, if any: the event, the dwell, and the time and
// position of the first observation on the new side.
func (m *membership) observe(in bool, t int64, lat, lon float64, minDwell time.Duration) (ev string, dwell time.Duration, at int64, alat, alon float64, changed bool) {
	if in == m.inside {
		m.pending, m.pLat, m.pLon = 0, 0, 0
		return "", 0, 0, 0, 0, false
	}
	if m.pending == 0 {
		m.pending, m.pLat, m.pLon = t, lat, lon
	}
	held := time.Duration(t - m.pending)
	if held < minDwell {
		return "", 0, 0, 0, 0, false
	}
	at, alat, alon = m.pending, m.pLat, m.pLon
	if in {
		ev, dwell = "enter", held
	} else {
		ev, dwell = "exit", time.Duration(at-m.since)
	}
	m.inside, m.since = in, at
	m.pending, m.pLat, m.pLon = 0, 0, 0
	if !in {
		m.since = 0
	}
	return ev, dwell, at, alat, alon, true
}

// FenceAlert is the JSON record published to the alert topic per
// transition.
type FenceAlert struct {
	ID     string      `json:"id"`
	Kind   string      `json:"kind"`
	Event  string      `json:"event"`
	Fence  string      `json:"fence"`
	Tenant string      `json:"tenant"`
	Object AlertObject `json:"object"`
	Lat    float64     `json:"lat"`
	Lon    float64     `json:"lon"`
	Time   string      `json:"time"`
	DwellS float64     `json:"dwell_s"`
}

// AlertObject names the object of an alert.
type AlertObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// fenceAlertID is stable: the same transition always gets the same id.
func fenceAlertID(fk string, typ byte, id, ev string, at int64) string {
	h := sha256.New()
	fmt.Fprintf(h, "porttrack/geofence\x00%s\x00%c%s\x00%s\x00%d", fk, typ, id, ev, at)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// fenceAlert publishes one transition, when the fence's owner may see the
// object (FenceOwner): its membership is kept either way, so /inside and
// later transitions follow links that appear later.
func (s *Store) fenceAlert(pb *pebble.Batch, fk string, typ byte, id, box, ev string, at int64, lat, lon float64, dwell time.Duration, res *ApplyResult) error {
	topic := s.opts.Fences.AlertTopic
	if topic == "" {
		return nil
	}
	if uf := s.fence.reg.byKey[fk]; uf != nil {
		if scope := uf.Owner.scope(); scope != nil {
			vis, err := objectVisible(s.db, typ, id, box, scope, s.fence.refs)
			if err != nil {
				return fmt.Errorf("state: visibility of %s %s: %w", ObjectTypeName(typ), id, err)
			}
			if !vis {
				s.fence.hidden.Add(1)
				return nil
			}
		}
	}
	tenant, fid := splitFenceKey(fk)
	a := FenceAlert{ID: fenceAlertID(fk, typ, id, ev, at), Kind: "geofence", Event: ev, Fence: fid, Tenant: tenant,
		Object: AlertObject{Type: ObjectTypeName(typ), ID: id}, Lat: lat, Lon: lon,
		Time: time.Unix(0, at).UTC().Format(time.RFC3339Nano), DwellS: dwell.Seconds()}
	body, err := json.Marshal(&a)
	if err != nil {
		return err
	}
	m := Message{Topic: topic, Key: []byte(id), Value: body,
		Headers: []Header{{Key: "porttrack-id", Value: []byte(a.ID)}, {Key: "event-type", Value: []byte("geofence")}}}
	res.Events++
	return s.putOutbox(pb, &m)
}

// FenceMember is an object inside a fence.
type FenceMember struct {
	Type  byte   // ObjVessel, ObjTruck, ObjContainer
	ID    string // MMSI, plate or container number
	Since int64  // event time of its enter (the first observation inside)
	// Vessel is, for a container on board, the ship it is inside with (0
	// otherwise); Since is then the later of the ship's enter and the load.
	Vessel uint32
}

// FenceInside calls fn with the objects inside the tenant's fence id, by
// type and id, each vessel followed by the boxes on board (the on-board
// index), until fn returns false; ErrNotFound for an unknown fence.
// scope, when not nil, is a logistics caller's: only the objects it may
// see are listed (objectVisible; a truck by the box it carries now). The
// member is valid only during the call.
func (s *Store) FenceInside(tenant, id string, scope *Scope, fn func(*FenceMember) bool) error {
	if _, err := s.UserFence(tenant, id); err != nil {
		return err
	}
	lo, hi := memberRange(fenceKey(tenant, id))
	var fm FenceMember
	errStop := errors.New("stop")
	snap := s.db.NewSnapshot()
	defer snap.Close()
	err := s.scanMembers(snap, lo, hi, func(obj string, m *membership) error {
		if !m.inside {
			return nil
		}
		if scope != nil {
			box := ""
			if obj[0] == ObjTruck && s.opts.Trucks != nil {
				box, _ = s.opts.Trucks.Carries(obj[1:])
			}
			vis, err := objectVisible(snap, obj[0], obj[1:], box, scope, nil)
			if err != nil || !vis {
				return err
			}
		}
		fm = FenceMember{Type: obj[0], ID: obj[1:], Since: m.since}
		if !fn(&fm) {
			return errStop
		}
		if obj[0] != ObjVessel {
			return nil
		}
		// The boxes on board are inside with their ship: one range scan
		// of its on-board entries.
		mmsi, err := strconv.ParseUint(obj[1:], 10, 32)
		if err != nil {
			return fmt.Errorf("state: vessel fence object %q: %w", obj[1:], err)
		}
		stop := false
		var verr error
		err = scanOnBoard(snap, uint32(mmsi), func(b OnBoard) bool {
			if scope != nil {
				vis, err := objectVisible(snap, ObjContainer, b.Container, "", scope, nil)
				if err != nil || !vis {
					verr = err
					return err == nil
				}
			}
			fm = FenceMember{Type: ObjContainer, ID: b.Container, Since: boardSince(m.since, b.Loaded), Vessel: uint32(mmsi)}
			stop = !fn(&fm)
			return !stop
		})
		if err = errors.Join(err, verr); err != nil {
			return err
		}
		if stop {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// FenceMetrics are the geofence counters since Open.
type FenceMetrics struct {
	Fences      int    // user fences
	Evaluations uint64 // positions evaluated against the user fences
	Enters      uint64 // enter transitions
	Exits       uint64 // exit transitions
	// Hidden counts transitions not published because the fence's
	// logistics owner may not see the object.
	Hidden uint64
	// OnBoard counts container transitions fanned out from their ship's
	// (also counted in Enters and Exits).
	OnBoard uint64
	// PendingLoads is how many loads wait for their ship (found no ship
	// at the berth when applied); LoadsResolved how many found it later.
	PendingLoads  int64
	LoadsResolved uint64
}

// FenceMetrics returns the geofence counters.
func (s *Store) FenceMetrics() FenceMetrics {
	s.fence.reg.RLock()
	n := len(s.fence.reg.byKey)
	s.fence.reg.RUnlock()
	return FenceMetrics{Fences: n, Evaluations: s.fence.evals.Load(), Enters: s.fence.enters.Load(), Exits: s.fence.exits.Load(),
		Hidden: s.fence.hidden.Load(), OnBoard: s.fence.fanned.Load(),
		PendingLoads: s.loads.pending.Load(), LoadsResolved: s.loads.resolved.Load()}
}

func readerPositions(data []byte) (map[string]geo.LatLng, error) {
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   *struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		return nil, fmt.Errorf("reader positions: %w", err)
	}
	out := map[string]geo.LatLng{}
	for i, f := range fc.Features {
		kind, _ := f.Properties["kind"].(string)
		reader, _ := f.Properties["reader"].(string)
		if kind != "reader" || reader == "" || f.Geometry == nil || f.Geometry.Type != "Point" {
			continue
		}
		var c []float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &c); err != nil || len(c) < 2 {
			return nil, fmt.Errorf("reader positions: feature[%d] reader %q: coordinates are not [lng, lat]", i, reader)
		}
		p, err := geo.NewLatLng(c[1], c[0])
		if err != nil {
			return nil, fmt.Errorf("reader positions: feature[%d] reader %q: %w", i, reader, err)
		}
		out[reader] = p
	}
	return out, nil
}

// ObserveTruckFences observes a truck at its newer position, and the box it
// carries there, in tx: the trucks stage's fence observations (truck.Fences,
// wired by portstate).
func (s *Store) ObserveTruckFences(tx *Tx, r *TruckReport) error {
	if s.fence.reg.idx.Len() == 0 {
		return nil
	}
	pb, res := tx.pb, tx.res
	if err := s.observeFences(pb, ObjTruck, r.Plate, r.Container, r.Lat, r.Lon, r.Time, res); err != nil {
		return err
	}
	if r.Container != "" {
		return s.observeContainer(pb, r.Container, r.Lat, r.Lon, r.Time, res)
	}
	return nil
}

// observeVesselFences observes a vessel at its newer position.
func (s *Store) observeVesselFences(pb *pebble.Batch, r *VesselReport, res *ApplyResult) error {
	if s.fence.reg.idx.Len() == 0 {
		return nil
	}
	return s.observeFences(pb, ObjVessel, strconv.FormatUint(uint64(r.MMSI), 10), "", r.Lat, r.Lon, r.Time, res)
}

// objectVisible reports whether a logistics tenant with this scope may see
// an object of a fence (ObjVessel, ObjTruck, ObjContainer), read from rd: a
// container when it is linked to the scope (Visible); a truck while it
// carries such a container (box: the container it carries, "" none); a
// vessel always (AIS positions are public: every role may read
// /v1/vessels). Port and customs see every object and need no check.
// pending, when not nil, holds links of the current Apply batch, not yet
// readable from rd.
func objectVisible(rd pebble.Reader, typ byte, id, box string, scope *Scope, pending map[string][]Ref) (bool, error) {
	switch typ {
	case ObjVessel:
		return true, nil
	case ObjTruck:
		if box == "" {
			return false, nil
		}
		id = box
	case ObjContainer:
	default:
		return false, nil
	}
	for _, r := range pending[id] {
		if scope.Has(r) {
			return true, nil
		}
	}
	return VisibleIn(rd, id, scope)
}
