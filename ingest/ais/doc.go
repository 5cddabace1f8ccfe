// Package ais decodes NMEA 0183 AIS sentences (!AIVDM, !AIVDO, from any
// talker, also with $ framing) into reusable Messages, following
// DOMAIN.md §9.
//
// A line may carry junk before the sentence (a nanosecond receive time, a
// wrapper) and an NMEA 4.10 tag block (\s:station,c:unixtime,g:k-n-id*hh\),
// and junk after its *hh (USCG ",b003669794,1272412827"). Blank lines and
// '#' comments are skipped (a comment that quotes a sentence is decoded, as
// gpsd does: anything before the sentence is junk); other lines that hold no
// AIS sentence are counted and reported as not_ais.
//
// # Checksums
//
// The sentence checksum (XOR of the bytes between '!'/'$' and '*') and the
// tag block checksum (between '\' and '*') are checked separately. A wrong or
// missing checksum rejects the line unless Config.Lenient is set; either way
// it is counted. A tag block checksum of *00 that does not match is accepted
// as "not computed" (feeds such as AMSA's send it on every line) unless
// Config.RejectFakeTagChecksum is set.
//
// # Multi-part messages
//
// Fragments are assembled per key (source station, talker, VDM/VDO, channel,
// sequence id, fragment count). The source station is the tag block's s:, or
// else the source given to FeedFrom. Fragments carrying a tag block group
// (g:k-n-id) are keyed by the group id instead of s:, because only the first
// sentence of a group carries s: and c:. Fragments may arrive out of order,
// duplicated (ignored) and interleaved with other groups and single-part
// sentences. A fragment that repeats a held fragment number with different
// content supersedes the held group (a reused sequence id).
//
// An incomplete group is dropped once it is older than Config.FragmentTTL,
// judged on two clocks that are never mixed: the tag block time (c:) and the
// receive time the caller passes (a line without its own time is taken to be
// at the latest one seen). A group started with neither clock (a plain log
// file) expires after Config.FragmentLines further lines instead. At most
// Config.MaxGroups groups are held; the oldest is evicted first. Flush drops
// whatever is still incomplete at the end of a finite input. Every dropped
// fragment is counted (Stats.Expired, Evicted, Superseded: reason
// decode.ReasonExpiredFragment).
//
// Fragments that arrive out of order are joined by key alone, so an orphan
// (a fragment whose partners were lost) can join the next message that
// reuses its key within the expiry window. The window is what bounds that
// risk; gpsd, which only assembles in order, has the opposite failure.
//
// # Unknown values
//
// Sentinels (lat 91°, lon 181°, speed 1023, course 3600, heading 511, turn
// −128, second ≥ 60, draught 0, ETA month 0 / day 0 / hour 24 / minute 60,
// the type 27 equivalents) and out-of-range values are unknown: the
// accessors of Message return ok == false for them, and a position is only
// reported when both coordinates are known. The rate of turn is the raw
// ROT_AIS: ±127 (turning faster than 5° per 30 s, no turn indicator) is a
// known value, only its rate in °/min (TurnRate) is not. Fields that do not fit in a
// short payload are unknown too; payloads off their nominal length are
// decoded as far as they go and counted (Stats.Short, Stats.Long).
//
// # Ownership and concurrency
//
// A Decoder holds the reassembly state of one partition: one per partition
// goroutine, not safe for concurrent use. It decodes into one Message that it
// reuses: the *Message passed to the callback, and every slice reachable
// from it (Station, Callsign, Shipname, Payload, ...), are only valid during
// the callback. Copy what must outlive it. Decoding allocates nothing after
// NewDecoder; errors are shared, immutable *decode.Error values.
//
// Imports: from porttrack only ingest/decode. It must not import ingest
// (which may import it), state, query or geo.
package ais
