// Package fetch reads one Kafka partition: it issues Fetch requests with
// read_committed isolation on its own connection to the partition's leader
// and decodes the returned record batches (format v2) one record at a time.
//
// Why not kafka-go's reader: kafka-go neither filters the records of aborted
// transactions nor tells control batches from data (it hands transaction
// markers to the application, which could only guess them from their
// shape), and it decompresses whole batches into memory without a bound.
// Here:
//
//   - Transactions. The request asks for IsolationLevel 1 (read_committed),
//     so the broker stops at the last stable offset and lists the aborted
//     transactions of the range it returns. A batch is a control batch when
//     bit 5 of its attributes is set; it carries no data and is skipped. A
//     transactional batch (bit 4) of a producer whose aborted transaction
//     started at or before the batch's last offset is skipped, up to that
//     producer's ABORT marker, as the Kafka consumer does. Skipped batches
//     still move the next offset past them, so a fetch that returns only
//     markers or aborted data makes progress.
//   - Bounded decompression. A compressed batch is decoded through a
//     streaming reader (gzip, snappy incl. the xerial framing, lz4 frames,
//     zstd with a bounded window) and its records are read one at a time.
//     A value larger than Config.MaxRecordBytes is never held: its first
//     Config.PrefixBytes are kept, the rest is hashed (SHA-256 of the whole
//     value) as it streams and dropped, and the record is delivered marked
//     Oversize. A batch that decompresses to more than Config.MaxBatchBytes
//     stops there: the rest of its offsets are delivered as one range with
//     the problem ProblemBatchTooLarge, never decoded.
//   - Corruption. A batch whose CRC, length or record framing is wrong, or
//     whose format is older than v2 (magic 0 and 1, removed in Kafka 4.0), is
//     delivered as one range with a problem and skipped: one bad batch never
//     blocks the partition.
//
// A Conn is used by one goroutine (the partition's); the Records it delivers
// are valid only during the callback, except Key, Value and header slices,
// which are freshly allocated per fetch and may be kept.
package fetch
