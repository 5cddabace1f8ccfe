// Package jt808 is a gateway for JT/T 808 (2013 and 2019) truck terminals:
// it accepts their TCP connections, registers and authenticates them, and
// turns their location reports into truck.position records for Kafka.
//
// Layout:
//
//	frame.go     0x7E framing, 0x7D escaping, XOR check code, header (2013/2019)
//	body.go      message bodies 0x0100/0x8100/0x0102/0x0200/0x0704/0x8001 (pure)
//	split.go     reassembly of split messages (header bit 13), bounded
//	store.go     registrations (device → plate → auth code), persisted in a file
//	server.go    TCP listener, one goroutine per connection, limits, replies
//	record.go    truck.position / truck.alarm JSON records
//	metrics.go   counters and the ack-latency histogram (Prometheus text)
//	terminal.go  a simulated terminal (2013 header): the simulator's and bench's client
//
// Memory per connection is bounded: one frame of Config.MaxFrame escaped
// bytes, MaxPending split messages of MaxPackets packets of at most 1023
// body bytes, and the records of one message. The store is bounded by
// Store.MaxDevices.
//
// The protocol files are pure (no IO) and fuzzed. The gateway is an input
// producer, not part of the engine: ingest, state and query never import
// it. It imports state only for the plate rules, so that what it produces
// is what the engine's transport decoder accepts.
//
// Goroutines: Serve runs the accept loop; each connection has one goroutine
// that reads frames, handles them in order and writes the replies. A
// location reply (0x8001) is written only after the producer returned, that
// is after the broker acknowledged the record (at least once).
package jt808
