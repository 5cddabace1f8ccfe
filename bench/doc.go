// Package bench holds porttrack's end-to-end benchmarks: each workload is a
// Config plus a Run function, bound to flags by cmd/porttrack. Every figure
// is reported next to a ceiling measured in the same run on the same machine.
// Scenarios: ingest (RFID to durable state), ais, geo (truck queries), and
// customs (CEB documents to results on porttrack.customs-results, with the
// result latency).
//
// bench may import every porttrack package; only cmd/porttrack imports bench.
package bench
