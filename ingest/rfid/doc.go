// Package rfid decodes the record values of the port.rfid Kafka topic into
// canonical state.Events. It owns two input forms, told apart by content:
//
//   - GS1 EPCIS 2.0 JSON-LD from partners: an EPCISDocument
//     (epcisBody.eventList) or a bare ObjectEvent or AggregationEvent.
//     Containers are urn:epc:id:bic:<ISO 6346> EPCs in epcList (ObjectEvent)
//     or childEPCs (AggregationEvent); other EPCs (SSCC, SGTIN, ...) are
//     skipped. bizStep maps to the event code (arriving GTIN, departing GTOT,
//     loading LOAD, unloading DISC, inspecting INSP, holding HOLD, storing
//     STOR), following the port usage in DOMAIN.md §5. The event's links (state.Ref) come
//     from bizTransactionList (bol: transport document; bkg: booking) and
//     the owning_party / possessing_party entries of sourceList and
//     destinationList (refs.go). eventTime must carry an offset (or Z); an
//     eventTimeZoneOffset, when present, must be ±hh:mm within ±14:00
//     (else bad_time). Source "epcis". Other event types and
//     EPCISQueryDocument (subscription results) are rejected as unsupported.
//   - Compact reads from porttrack's own fixed readers
//     ({"reader":..,"antenna":..,"epc":..,"t":..,"rssi":..,"dir":..}),
//     given meaning by the reader table (Config.Readers). Source "rfid-read".
//
// Invariants:
//
//   - Decoding is pure: no IO, no goroutines, no logging, no clock. The same
//     value always gives the same events, so a redelivered record gives the
//     same event IDs (the source's eventID, eventID#container when one EPCIS
//     event names several boxes, otherwise "sha256:" over the canonical
//     content, see hashID). The ID format is stored: never change it.
//   - A record is all or nothing: on any error Decode leaves dst as it was
//     and returns a *decode.Error with a stable reason code; the caller sends
//     the record to the dead-letter topic.
//   - Every returned event passes state.Event.Validate, and owns its strings:
//     none alias the record value or the JSON parser's buffers.
//
// A Decoder is immutable after NewDecoder and safe for concurrent use; its
// JSON parsers come from a pool, so partition goroutines may share one.
//
// Imports: from porttrack only state and ingest/decode. It must not import
// ingest (which imports it), query or geo.
package rfid
