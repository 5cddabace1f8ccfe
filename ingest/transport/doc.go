// Package transport decodes the record values of the port.transport Kafka
// topic: JSON objects told apart by their "type". This package decodes truck
// GNSS positions (BeiDou/GPS) into state.TruckReports:
//
//	{"type":"truck.position","plate":"浙B12345","lat":29.93,"lon":121.86,
//	 "t":"2026-11-22T08:00:00Z","speed":12.5,"heading":90,"container":"MSKU9070323"}
//
// "t" is RFC 3339 with a zone offset or Unix milliseconds. "speed" is in
// km/h, as Chinese truck GNSS terminals (JT/T 808) report it, and is stored
// as such (state.TruckReport.SpeedKmh); "speed", "heading" and "container"
// are optional (absent or null: unknown, or no box). A report without a
// container after one with it means the truck dropped its box.
//
// The other message families of the topic (truck.waybill, truck.appointment,
// rail.plan, rail.event, barge.*) belong to later work. They are not errors:
// Decode returns no reports, no error and the label to count the record
// under (IgnoredTypes lists every label, so the metric's label set is
// bounded). A type outside the truck., rail. and barge. families is an
// error (unknown_format).
//
// Invariants:
//
//   - Decoding is pure: no IO, no goroutines, no logging, no clock. The same
//     value always gives the same reports.
//   - A record is all or nothing: on error Decode leaves dst as it was and
//     returns a *decode.Error with a stable reason code; the caller sends the
//     record to the dead-letter topic.
//   - Every returned report passes state.TruckReport.Validate and owns its
//     strings: none alias the record value or the parser's buffers.
//
// A Decoder is immutable and safe for concurrent use; its JSON parsers come
// from a pool.
//
// Imports: from porttrack only state and ingest/decode. It must not import
// ingest (which imports it), query or geo.
package transport
