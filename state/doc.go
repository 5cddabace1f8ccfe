// Package state owns porttrack's durable state: per-container current state,
// the full event history, the event-id dedupe index, vessels (current state,
// track, IMO index, port calls against the port model), trucks (current
// state, track, the containers they carry), the consumed offset of every
// input partition, tenants' geofences with each object's membership in them
// (fence.go, fence_eval.go), container locations (the place of each event in
// the port model, stays at places, time in the terminal, and a per-day place
// history for "what was at place X at time T": location.go,
// container_index.go), as-of reads of containers, trucks and vessels
// (asof.go), tenancy (API keys stored hashed, container links to bookings,
// transport documents and parties), the DCSA event log (every DCSA Track &
// Trace 2.2 event derived, with its filter fields), event subscriptions
// with their delivery state, customs (e-commerce order aggregates with
// three-document matching, parcel receipts, container customs state:
// customs*.go) and the outbox of messages to publish, all in
// one Pebble database whose layout is specified in FORMAT.md. Current vessel
// and truck positions are also held in in-memory H3 indexes (package geo),
// rebuilt at Open and updated after each committed batch.
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
//   - Every DCSA event is logged (and put in the outbox for the events
//     topic) in the Apply batch of the input that derived it; the log's
//     sequence numbers have no gaps and eventCreatedDateTime never
//     decreases along them, so subscribers tail it by position.
//   - Control-plane records (API keys, subscriptions) are written in their
//     own small batches; subscription records and delivery state change
//     under one lock (subLock) so a deleted subscription stays deleted.
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
// state knows nothing of Kafka, HTTP or metrics libraries: it imports only
// Pebble, geo and the standard library (never ingest, query, bench or cmd).
// Metrics() returns a plain struct that callers export.
package state
