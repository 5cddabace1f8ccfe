// Package sim generates container RFID traffic at the Ningbo-Zhoushan port
// and produces it into Kafka (topic port.rfid). `porttrack demo` runs it at a
// modest steady rate; benchmarks run it as fast as possible for a fixed count
// or pre-generate records with a Generator.
//
// # Determinism
//
// Everything a Generator emits is a function of Config.Seed, Containers,
// Start, BadRate, DupRate and the reader table: two generators built from the
// same Config return byte-identical records. Set Start explicitly when that
// matters; its default is the current second.
//
// # Traffic model
//
// The fleet (ContainerNumbers) is interleaved in event time, a few minutes
// between the steps of one container and hours between its visits. A visit is
// one of: import (DISC at a quay crane, sometimes HOLD and/or INSP, GTOT at a
// gate lane), export (GTIN at a gate lane, LOAD at a quay crane) or sea-rail
// (quay DISC then ramp LOAD, or ramp DISC then quay LOAD). Readers are grouped
// into sites by the reader id up to its first '-' ("BLCT-GATE-L1" is in site
// BLCT): a site with gate readers (no fixed event) plus LOAD and DISC readers
// is a terminal; one with LOAD and DISC readers but no gate is a rail ramp.
// The reader table has no HOLD reader, so a customs hold is an EPCIS
// "holding" event read at the terminal's INSP reader.
//
// About half the good records are EPCIS 2.0 ObjectEvent JSON, the rest compact
// raw reads ({"reader","antenna","epc","t","rssi"} plus "dir" at gate lanes).
// Malformed records (BadRate) rotate through an empty value, truncated JSON, a
// wrong check digit, an unmapped bizStep and binary garbage. Duplicates
// (DupRate) are byte-identical re-sends of a recent good record. Every record
// is keyed by a valid container number, so Kafka's partitioning keeps each
// container's records on one partition in order.
//
// # Producing
//
// Run owns one kafka.Writer, writes synchronously from its own goroutine in
// batches of up to 500 records and closes the writer before returning. With
// Rate > 0 each batch waits for its due time (start + produced/Rate); a late
// batch is sent at once, so the average rate holds without a per-record timer.
//
// sim imports state and ingest/rfid for identifiers and the reader table;
// nothing in porttrack imports bench.
package sim
