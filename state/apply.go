package state

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// Tx is the write transaction of one Store.Apply: the one Pebble batch
// every stage writes into, the batch's clock, the result being built and
// the emitters of derived messages. It lives under s.mu for the duration of
// Apply; stages must not keep it.
type Tx struct {
	s   *Store
	pb  *pebble.Batch
	b   *Batch
	now int64 // the batch's clock, Unix ns (Options.Now at the start of Apply)
	res *ApplyResult
	sc  *applyScratch
	// stored is the set of the batch's event ids that were already stored
	// before the batch (filled by the container-events stage).
	stored map[[32]byte]struct{}
	// truckUps are the trucks the batch changed, with their cells,
	// published to the in-memory table after the commit.
	truckUps []truckUpdate
}

// Now returns the batch's clock, Unix ns.
func (tx *Tx) Now() int64 { return tx.now }

// Outbox adds m to the outbox at the next sequence number.
func (tx *Tx) Outbox(m *Message) error { return tx.s.putOutbox(tx.pb, m) }

// DCSA appends e to the DCSA event log and puts it in the outbox for the
// events topic, keyed by key (writeDCSA).
func (tx *Tx) DCSA(e *DCSAEvent, key string) error {
	return tx.s.writeDCSA(tx.pb, e, tx.now, key, tx.res)
}

// Alert puts an alert (body, already rendered) on topic with the
// porttrack-id and event-type headers every alert carries.
func (tx *Tx) Alert(topic, key, id, kind string, body []byte) error {
	return tx.Outbox(&Message{Topic: topic, Key: []byte(key), Value: body,
		Headers: []Header{{Key: "porttrack-id", Value: []byte(id)}, {Key: "event-type", Value: []byte(kind)}}})
}

// stage is one step of Apply over one domain. Apply calls begin for every
// stage, then apply for every stage in applyOrder, commits the Pebble batch,
// then calls committed for every stage. begin forgets what a failed batch
// left in the stage's per-batch memory; committed publishes the in-memory
// changes of the committed batch (indexes readers use). All three run under
// s.mu.
type stage interface {
	name() string
	begin(tx *Tx)
	apply(tx *Tx) error
	committed(tx *Tx) error
}

// applyOrder is the order of the stages of Apply. Why each comes where it
// does is in doc.go ("Apply stages"); a stage reads what earlier stages of
// the same batch wrote (in memory or in tx), never what later ones will.
var applyOrder = []stage{
	containerEventsStage{},
	locationsStage{},
	containerFencesStage{},
	loadsStage{},
	vesselsStage{},
	trucksStage{},
	customsStage{},
	multimodalStage{},
	batchOutboxStage{},
}

// noHooks is embedded by stages without begin or committed work.
type noHooks struct{}

func (noHooks) begin(*Tx)           {}
func (noHooks) committed(*Tx) error { return nil }

// containerEventsStage dedupes the batch's container events by id, stores
// the new ones in history and the id index, updates current states and
// logs their DCSA equipment events.
type containerEventsStage struct{}

func (containerEventsStage) name() string { return "container-events" }

func (containerEventsStage) begin(tx *Tx) {
	sc := tx.sc
	// Made anew after a large batch: clear costs a map's capacity.
	if sc.current == nil || len(sc.current) > scratchMapMax || len(sc.seen) > scratchMapMax {
		sc.current = make(map[string]*Container)
		sc.seen = make(map[[32]byte]struct{})
	}
	clear(sc.current)
	if sc.changed == nil {
		sc.changed = make(map[string]struct{})
	}
	clear(sc.changed)
	clear(sc.seen)
	sc.observe = sc.observe[:0]
}

func (containerEventsStage) committed(*Tx) error { return nil }

func (containerEventsStage) apply(tx *Tx) error {
	s, sc, b, res := tx.s, tx.sc, tx.b, tx.res
	stored, err := s.storedIDs(sc, b.Events)
	if err != nil {
		return err
	}
	tx.stored = stored
	if err := s.loadCurrent(sc, b.Events); err != nil {
		return err
	}
	for i := range b.Events {
		e := &b.Events[i]
		h := sc.hashes[i]
		if _, dup := sc.seen[h]; dup {
			res.Duplicates++
			continue
		}
		sc.seen[h] = struct{}{}
		if _, ok := stored[h]; ok {
			res.Duplicates++
			continue
		}
		sc.key = eventIdxKey(sc.key[:0], &h)

		hk := historyKey(nil, e.Container, e.Time, &h)
		sc.val = appendHistory(sc.val[:0], e, tx.now)
		if err := tx.pb.Set(hk, sc.val, nil); err != nil {
			return err
		}
		if err := tx.pb.Set(sc.key, hk[1:], nil); err != nil {
			return err
		}
		c := sc.current[e.Container] // loaded by loadCurrent; Count == 0: new
		if c.Count == 0 || newer(e, &c.Last) {
			c.Last = Event{ID: e.ID, Container: e.Container, Code: e.Code, Time: e.Time, Location: e.Location}
			// Observed by the container-fences stage.
			sc.observe = append(sc.observe, i)
		} else {
			res.Late++
		}
		if c.Count == 0 || e.Time < c.First {
			c.First = e.Time
		}
		if err := s.dcsaContainerEvent(tx.pb, e, tx.now, res); err != nil {
			return err
		}
		sc.changed[e.Container] = struct{}{}
		c.Count++
		c.Updated = tx.now
		res.Stored++
	}
	for id := range sc.changed {
		sc.key = currentKey(sc.key[:0], id)
		sc.val = appendCurrent(sc.val[:0], sc.current[id])
		if err := tx.pb.Set(sc.key, sc.val, nil); err != nil {
			return err
		}
	}
	return nil
}

// locationsStage places the new events in the port model and re-derives
// the location index (stays, places, dwell, boxes on board, loads waiting)
// of the boxes they changed.
type locationsStage struct{ noHooks }

func (locationsStage) name() string { return "locations" }

func (locationsStage) apply(tx *Tx) error {
	if tx.res.Stored == 0 {
		return nil
	}
	return tx.s.applyLocations(tx.pb, tx.b.Events, tx.sc.hashes, tx.stored, tx.res)
}

// containerFencesStage observes the container events that were their
// box's newest at their reader's position. It owns the per-batch fence
// state: its begin and committed hooks also cover the fence observations
// of the vessels and trucks stages.
type containerFencesStage struct{}

func (containerFencesStage) name() string { return "container-fences" }

func (containerFencesStage) begin(tx *Tx) { tx.s.fenceBegin(tx.b) }

func (containerFencesStage) apply(tx *Tx) error {
	for _, i := range tx.sc.observe {
		// A box on board is where its ship is: its own readings (the load's
		// crane reader) are not fence observations.
		if e := &tx.b.Events[i]; !tx.s.fence.onShip[e.Container] {
			if err := tx.s.observeContainerEvent(tx.pb, e, tx.res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (containerFencesStage) committed(tx *Tx) error {
	tx.s.fenceCommitted()
	return nil
}

// loadsStage gives the loads waiting for their ship the ship that is now
// at their berth.
type loadsStage struct{}

func (loadsStage) name() string           { return "loads" }
func (loadsStage) begin(tx *Tx)           { tx.s.loadsBegin() }
func (loadsStage) apply(tx *Tx) error     { return tx.s.resolveLoads(tx.pb, tx.res) }
func (loadsStage) committed(tx *Tx) error { tx.s.loadsCommitted(); return nil }

// vesselsStage applies AIS reports: current state, track, IMO index, port
// calls with their DCSA transport events, fence observations of the ships
// and of the boxes on board.
type vesselsStage struct{ noHooks }

func (vesselsStage) name() string { return "vessels" }

func (vesselsStage) apply(tx *Tx) error {
	if len(tx.b.Vessels) == 0 {
		return nil
	}
	return tx.s.applyVessels(tx.pb, tx.b.Vessels, tx.now, tx.res)
}

func (vesselsStage) committed(tx *Tx) error {
	if len(tx.b.Vessels) > 0 {
		tx.s.indexMovedVessels()
	}
	return nil
}

// trucksStage applies truck positions: current state, track, the boxes a
// truck carries, fence observations.
type trucksStage struct{ noHooks }

func (trucksStage) name() string { return "trucks" }

func (trucksStage) apply(tx *Tx) error {
	if len(tx.b.Trucks) == 0 {
		return nil
	}
	if err := tx.s.applyTrucks(tx.pb, tx.b.Trucks, tx.res); err != nil {
		return err
	}
	// The cells of the new positions, computed before the commit so that
	// the cgo calls stay outside the truck table's lock.
	ups, err := tx.s.truckUpdates()
	tx.truckUps = ups
	return err
}

func (trucksStage) committed(tx *Tx) error {
	if len(tx.truckUps) == 0 {
		return nil
	}
	// The batch is durable; the table is rebuilt from it at the next
	// Open. Answers would be stale until then: fail loudly.
	return tx.s.trucks.upsert(tx.truckUps)
}

// customsStage applies customs documents: orders and three-document
// matching, receipts, container customs state.
type customsStage struct{ noHooks }

func (customsStage) name() string { return "customs" }

func (customsStage) apply(tx *Tx) error {
	return tx.s.applyCustoms(tx.pb, tx.b.Customs, tx.now, tx.res)
}

// multimodalStage applies rail and barge plans and events and truck
// waybills, then runs the connection guard over the plans the batch
// touched (by any of the stages before it).
type multimodalStage struct{ noHooks }

func (multimodalStage) name() string { return "multimodal" }

func (multimodalStage) apply(tx *Tx) error {
	return tx.s.applyMultimodal(tx.pb, tx.b, tx.now, tx.res)
}

func (multimodalStage) committed(tx *Tx) error {
	tx.s.commitMultimodal()
	return nil
}

// batchOutboxStage puts the batch's own messages (the dead letters of its
// records) in the outbox.
type batchOutboxStage struct{ noHooks }

func (batchOutboxStage) name() string { return "batch-outbox" }

func (batchOutboxStage) apply(tx *Tx) error {
	for i := range tx.b.Outbox {
		if err := tx.Outbox(&tx.b.Outbox[i]); err != nil {
			return err
		}
	}
	return nil
}

// publishCommitted calls every stage's committed hook in order, even after
// one failed: each publishes an independent in-memory index. It returns the
// errors joined.
func publishCommitted(tx *Tx) error {
	var errs []error
	for _, st := range applyOrder {
		if err := st.committed(tx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
