// Package state owns porttrack's durable state: per-container current state,
// the full event history, the event-id dedupe index, vessels (current state,
// track, IMO index, port calls against the port model), trucks (package
// state/truck: current state, track, the containers they carry; their input
// rows, TruckReport, and the plate rules stay here), the consumed offset of
// every input partition, tenants' geofences with each object's membership
// in them (fence.go, fence_eval.go), container locations (the place of each event in
// the port model, stays at places, time in the terminal, and a per-day place
// history for "what was at place X at time T": location.go,
// container_index.go), as-of reads of containers and vessels
// (asof.go), container links to bookings, transport documents and parties
// and the scopes over them (scope.go; the tenants' API keys are
// state/tenant's), the DCSA events the stages derive (dcsa.go: emitted
// through Tx.DCSA to the DCSA event log, which with its subscriptions is
// state/dcsa's, Options.DCSA), the customs documents of each batch (their
// domain is package state/customs: e-commerce order aggregates with
// three-document matching, parcel receipts, container customs state) and
// the outbox of messages to publish, all in
// one Pebble database whose layout is specified in FORMAT.md. Current vessel
// positions are also held in an in-memory H3 index (package geo), rebuilt at
// Open and updated after each committed batch; state/truck does the same for
// truck positions.
//
// Invariants:
//   - Store.Apply writes the events of a batch, the current states they
//     change, the outbox messages and the partition's next offset in one
//     atomic Pebble batch. Replaying a batch after a crash therefore either
//     finds its offset stored (and is not replayed) or finds none of its
//     effects.
//   - An event id is stored at most once; a duplicate changes nothing.
//   - Fence memberships change only with a position newer than the
//     object's current one, in the Apply batch of that position; an object
//     is inside (outside) only after FenceConfig.MinDwell of event time
//     observed there. User fences are control-plane records: PutFence and
//     DeleteFence take the Apply lock and write their own batch, so Apply
//     reads the fence index without further locking.
//   - A container's location index entries are derived from its whole
//     history and written in the batch of the events that changed it; a
//     late event re-derives them. The boxes-on-board index (onboard.go)
//     holds exactly the location records that name a ship; a box on board
//     has no fence membership of its own and takes its ship's, its
//     transitions fanned out from the ship's in the same batch.
//   - Every DCSA event is logged (by state/dcsa, through Tx.DCSA; and put
//     in the outbox for the events topic) in the Apply batch of the input
//     that derived it; the log's
//     sequence numbers have no gaps and eventCreatedDateTime never
//     decreases along them, so subscribers tail it by position.
//   - Control-plane records (API keys, subscriptions) are written in their
//     own small batches; subscription records and delivery state change
//     under one lock (state/dcsa's subLock, which state/tenant takes for
//     its keys) so a deleted subscription stays deleted.
//   - Current state is the newest event by event time, not arrival: a late
//     event enters the history and leaves current state alone.
//   - Readers (Container, History, ScanOutbox) never take the write lock.
//     Values they return are copies; callbacks get memory valid only for the
//     duration of the call. An answer that reads several families reads
//     them through one View (view.go), a Pebble snapshot, so it never mixes
//     two batches. LOCKS.md gives the lock order and the places where IO is
//     still done under a lock others wait on.
//   - Every key family is a row of the table in keys.go, with its owning
//     domain and its FORMAT.md section; TestKeyFamilies keeps the three in
//     agreement.
//
// # Apply stages
//
// Store.Apply validates the batch, then runs its stages (the Stage
// interface, apply.go; their order is one list, in state/portstate) over
// one transaction (Tx: one Pebble batch, the batch's clock, the result and
// the outbox, DCSA and alert emitters): every stage's Begin hook, then
// every stage in this order, then the partition's offset, the commit, and
// every stage's Committed hook (publishing in-memory indexes). A domain
// moved into its own package under state brings its stage; until then the
// kernel's BuiltinStages lists the ones still here.
// Outbox and DCSA sequence numbers are taken in stage order, so the order
// is part of the stored bytes.
//
//  1. container-events: dedupe by event id, history, id index, current
//     states, DCSA equipment events. First: every later stage reads the
//     current states this batch left (scratch) and the set of new events.
//  2. locations: places the new events in the port model and re-derives the
//     boxes' stays, places, dwell, boxes-on-board and loads-waiting
//     entries. After container-events (it needs which events are new);
//     before container-fences, which skips the boxes it puts on a ship.
//  3. container-fences: fence observations of events that were their box's
//     newest. After locations: a box that leaves its ship first takes the
//     ship's fence membership back, and a box on board is where its ship
//     is, so its own readings are not observations. Its begin and
//     committed hooks hold the per-batch fence state of every stage that
//     observes fences (vessels and trucks too).
//  4. loads: gives loads waiting at a berth the ship now there. After
//     locations (which records new waiting loads); before vessels, so that
//     a box that finds its ship follows the ship's transitions of this
//     batch.
//  5. vessels: AIS reports, tracks, port calls (DCSA transport events),
//     fence observations of ships, fanned out to the boxes on board.
//  6. trucks: truck positions, tracks, the boxes a truck carries, fence
//     observations (package state/truck). Before multimodal, which reads
//     the rides it records (DCSA truck legs of waybills, through
//     TruckDomain.EachBatchRide).
//  7. customs: orders and three-document matching, receipts, container
//     customs state (package state/customs). Before multimodal: the
//     connection guard asks customs (Options.CustomsBlocks) for the boxes
//     whose customs state this batch changed and what blocks each.
//  8. multimodal: rail and barge plans and events, waybills, then the
//     connection guard over every plan whose boxes any earlier stage
//     changed (events, customs, rides). Last of the domains for that reason.
//  9. batch-outbox: the batch's own messages (dead letters of its records),
//     after the derived ones.
//
// state knows nothing of Kafka, HTTP or metrics libraries: it imports only
// Pebble, geo and the standard library (never ingest, query, bench or cmd).
// Metrics() returns a plain struct that callers export.
package state
