// Package ingest owns the path from Kafka to state: consumer-group
// membership, one goroutine per assigned partition, decoding, dead-lettering
// and the outbox publisher. Its subpackages are the pure decoders (rfid,
// ais, transport, customs) and deliver, which sends the DCSA events state
// logged to webhook subscribers.
//
// Offsets. The offset of each partition is stored by state in the same
// Pebble batch as the events it produced (Store.Apply); a partition goroutine
// starts at that stored offset, never at Kafka's committed offset. The group's
// committed offsets are written only to report progress (lag tools), a few
// seconds behind. A crash at any moment therefore neither loses nor repeats
// the effect of a record.
//
// Pipeline per partition goroutine: fetch (ingest/fetch: read_committed
// Fetch requests on its own connection to the leader, record batches
// decoded as a bounded stream, aborted transactions and control batches
// skipped from the batch attributes) → decode each record → one state.Batch
// per fetch (applied early once it holds 32 MiB of records) → Apply.
// kafka-go remains for group membership and the outbox writer. Each input topic has a decoder made per
// partition goroutine (recordDecoder): ingest/rfid for port.rfid (container
// events), ingest/ais for port.ais (vessel reports; it holds the fragment
// reassembly of its partition), ingest/transport for port.transport (truck
// positions), ingest/customs for port.customs (CEB e-commerce documents and
// container customs messages). A missing input topic is logged and skipped
// at start. A ticker goroutine calls Config.Deadlines (the customs domain)
// every CustomsTick so that orders still missing documents are reported
// incomplete while the customs topic is quiet (Apply checks the same
// deadlines).
// A record that cannot be decoded or validated becomes an outbox message to
// the dead-letter topic, with its original key, value and headers plus the
// headers error, source-topic, source-partition, source-offset and
// porttrack-id, written in the same batch as the offset: it is neither lost
// nor sent twice for one consumption, and the partition goes on.
//
// A dead letter carries at most DeadLetterMaxBytes of the value (headers
// value-truncated, value-size, value-sha256); a value over MaxRecordBytes is
// never held whole (ingest/fetch hashes it as it streams).
//
// The outbox publisher sends outbox messages with RequiredAcks=all and
// deletes them once acknowledged (at least once; consumers dedupe on the
// porttrack-id header). An entry the broker refuses for good is set aside
// (a stub dead letter names it) so that one entry never stops publishing;
// other errors are retried with backoff. It tracks the age of the oldest
// unpublished entry (Degraded, porttrack_outbox_oldest_age_seconds).
//
// Goroutines: Run owns all of them (group loop, partition consumers,
// publisher, customs deadline ticker) and returns after they stopped. Ready,
// Degraded, Stats, DeadLettered and WritePrometheus may be called from any
// goroutine.
//
// ingest imports state and its own sub-packages; it never imports query,
// bench or cmd.
package ingest
