// Package sim generates the traffic of the Ningbo-Zhoushan port and produces
// it into Kafka. It has two models:
//
//   - the day model (DayGenerator, RunDay; `porttrack sim` and `porttrack
//     demo` by default): vessel calls, quay cranes, yard, trucks and trains
//     of a day at the port, on port.rfid, port.ais and port.transport, with
//     a place for customs traffic on port.customs (see "Day model" below);
//   - two fixed-fleet streams (Generator and Run on port.rfid, AISGenerator
//     and RunAIS on port.ais; `porttrack sim --model fleet`), which the
//     ingest and crash benchmarks use for their even, endless traffic.
//
// # Day model
//
// A day at --scale 1 is the whole port: about 100,000 TEU of quay moves. The
// volumes and where they come from ([A]: porttrack's assumption, to check
// against the terminal operators' figures):
//
//	quantity                         scale 1          source
//	quay moves (boxes)               62,000 a day     39 million TEU in 2024 (the port's published
//	                                                  throughput, ~107,000 TEU a day) / 1.6 TEU per box [A],
//	                                                  rounded down
//	vessel calls                     ~45 a day        quay moves / 1,370 moves per call, the mean of
//	                                                  the call classes below [A]
//	call classes [A]                 30% feeder 200-600 moves, 2 cranes; 50% regional 800-1,800
//	                                 moves, 4 cranes; 20% mainline 2,000-4,000 moves, 6 cranes;
//	                                 40-60% of a call's moves are discharges
//	crane rate [A]                   30 moves an hour per quay crane; a call berths for
//	                                 1 h + moves / (cranes x 30) h + 1 h
//	transshipment [A]                20% of quay moves: ship to yard to ship, no land leg
//	sea-rail [A]                     5% of quay moves, to and from Yiwu West (DOMAIN.md §8), in
//	                                 trains of 60-100 boxes on 1-2 box wagons; Beilun station
//	                                 serves NBCT and MSCT, Chuanshan station CSCT
//	trucks                           the other 75% of quay moves: one gate transaction each
//	                                 (~46,000 a day), with an e-waybill
//	dwell [A]                        imports picked up 12-96 h after discharge (10%: 2-12 h);
//	                                 exports gated in 12-72 h before loading; rail boxes ready
//	                                 4-30 h after discharge, or unloaded 6-36 h before loading
//	inspections [A]                  3% of truck imports get an RFID inspection read
//
// Calls arrive as a Poisson process over a window from 5 days before to 4
// days after the simulated time, so that boxes discharged before it are
// picked up during it and boxes loaded after it are gated in during it;
// only events inside the simulated time are produced.
//
// What each kind of event looks like:
//
//   - Vessel: AIS as raw NMEA (type 1 every 6-10 s underway and 3 min at
//     rest, two-part type 5 every 6 min) along the deep-water route
//     (geo/portmodel), anchored in the Beilun anchorage (nav status 1) for
//     the wait plus 0.5-4 h, shifted to its berth, moored (status 5) from
//     the berth window's start to its end, outbound again; several
//     receiving stations with tag blocks, second-station copies and
//     fragments in one or two records, as AISGenerator frames them, plus
//     the class B small craft. Where more calls than the model's ten berths
//     are alongside, a call waits at anchor up to 8 h, then moors beside
//     the busy one.
//   - Quay cranes: one EPCIS (or raw read) DISC or LOAD per box at the
//     terminal's QCnn reader, each crane one move per 2 minutes, discharges
//     first.
//   - Yard moves: terminal tractors ("BLCT-T12") as truck.position tracks
//     carrying the box between the crane's reader position and a yard
//     block, then a report without the box (it was put down), so the box
//     takes the yard block's position; rail tractors ("BLCT-R17") between
//     the yard and the rail station. A box put down in a block (after its
//     discharge, its rail unload or its export gate-in) is read there: an
//     EPCIS storing event (the yard crane stacking the box; the engine's
//     STOR, no DCSA event) with the block's place id as read
//     point and its facility (CNNGB-BLCT-YARD-C) as location, so the engine
//     places it in the block until its next move (gate-out, load, rail
//     load, inspection).
//   - The simulated time opens with a ship discharging at BLCT: unless one
//     is already, the terminal's first call after the start is brought
//     forward to berth an hour before it, so yard blocks fill and customs
//     selects boxes in the first minutes, at any scale and start.
//   - Gate transactions: a truck.waybill 2-12 h before (keyed by the box:
//     the appointment is a one-hour window at the terminal's gate), then
//     the truck's truck.position track every ~30 s (JT/T 808 terminals
//     commonly report at that interval [A]) from 3 km up the road to the
//     gate, through the yard block (box picked up or put down) and back,
//     with the gate lane's RFID read (GTIN, GTOT) at the gate. Plates are
//     mostly Ningbo (浙B), some from the rest of Zhejiang, Shanghai, Anhui
//     and Jiangxi; positions are keyed by plate, so a truck's track stays
//     in one partition and in order.
//   - Trains: a rail.plan 12-24 h before departure (outbound) or 6-12 h
//     before leaving Yiwu (inbound), keyed by the train; 10% of outbound
//     trains are re-planned with a later departure. Per box a rail.event
//     loaded/unloaded (keyed by the box) with the Beilun ramp's RFID read
//     (Chuanshan station has no readers in the model); per train
//     departed/arrived (keyed by the train). 4% of outbound boxes are held
//     up past the cutoff, and those later than the departure miss the
//     train.
//
// Noise (DayConfig): DupRate of the RFID and transport records are re-sent
// 0.1-5 s later; LateRate are produced 1-30 minutes after their event time,
// so out of order; BadRate are followed by a malformed record of the same
// topic and key (RFID: the rotation of Generator's malformed kinds;
// transport: empty, truncated, no plate, unknown type, latitude out of
// range); AIS noise as AISConfig's.
//
// Customs: DayConfig.Customs is the place where a customs and e-commerce
// source plugs in (CustomsSource). The generator calls it at every
// Milestone of a box (manifest before berthing, discharged, loaded,
// gate-in, gate-out, rail loaded and unloaded, inspected) and produces what
// it returns on port.customs.
//
// Keys: records about one container are keyed by its number (RFID, waybills,
// rail events of a box), truck positions by plate, rail plans and train
// events by train, AIS by receiving station; the writer partitions with
// murmur2 as Kafka's Java client does, so every topic about a box lands in
// the same partition number.
//
// Determinism: records are a function of the DayConfig fields other than
// Brokers, Rate, Speedup, Burst, Total, Progress and Logger (TestSameSeedSameTraffic
// compares digests of two runs). The plan is drawn at construction from one
// random stream; event details and noise from another, in production order.
//
// Pacing (RunDay): by default the simulated clock runs Speedup times the
// wall clock; with Rate > 0, records are sent at Rate records/s, evenly
// (sustained) or a Burst period's worth at a time (burst mode); Rate < 0 is
// as fast as possible.
//
// # Fixed-fleet streams
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
// # Customs traffic
//
// CustomsGenerator (customs.go) makes port.customs traffic: per e-commerce
// order its CEB311 order, CEB411 payment and CEB511 waybill as CEB XML in a
// shuffled order, then the CEB621 inventory and CEB622 receipts (accepted,
// sometimes inspection, released). MismatchRate orders carry one wrong field
// (payer, paid amount, consignee or an inventory line), MissingRate orders
// never get one of order/payment/waybill, GBKRate records are GB2312-encoded.
// Every BoxEvery orders a container customs flow (JSON) is queued: manifest
// arrival, declaration (trade mode 1210), sometimes an inspection, a customs
// hold lifted later or a quarantine hold that stays, then release. The same
// CustomsConfig gives byte-identical records. CustomsDayFlows is the day
// model's CustomsSource: the container customs messages of the day's own
// boxes, timed by their milestones.
//
// # Producing
//
// Run owns one kafka.Writer, writes synchronously from its own goroutine in
// batches of up to 500 records and closes the writer before returning. With
// Rate > 0 each batch waits for its due time (start + produced/Rate); a late
// batch is sent at once, so the average rate holds without a per-record timer.
//
// sim imports state and ingest/rfid for identifiers and the reader table
// (its customs tests also ingest/customs);
// nothing in porttrack imports bench.
package sim
