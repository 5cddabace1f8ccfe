package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes r as an aligned text table: the ceiling and the engine
// (medians over the rounds, then each round), the ratio, and the sizes.
func (r IngestResult) WriteTable(w io.Writer) {
	sync := "fsync on"
	if r.NoSync {
		sync = "fsync off (--no-sync)"
	}
	rounds := "1 round"
	if r.Rounds != 1 {
		rounds = fmt.Sprintf("medians of %d rounds", r.Rounds)
	}
	fmt.Fprintf(w, "ingest: %d records, %d partitions, %d containers, codec %s, %s, %d CPUs, %s\n\n",
		r.Records, r.Partitions, r.Containers, r.Codec, sync, r.CPUs, rounds)
	const row = "%-30s %9s %9s %11s   %s\n"
	fmt.Fprintf(w, row, "path", "records", "seconds", "records/s", "per round (records/s)")
	perRound := func(f func(IngestRound) string) string {
		parts := make([]string, len(r.PerRound))
		for i, pr := range r.PerRound {
			parts[i] = f(pr)
		}
		return strings.Join(parts, " ")
	}
	fmt.Fprintf(w, row, "ceiling: fetch only",
		fmt.Sprint(r.CeilingRecords), fmt.Sprintf("%.3f", r.CeilingSeconds), fmt.Sprintf("%.0f", r.CeilingRate),
		perRound(func(pr IngestRound) string { return fmt.Sprintf("%.0f", pr.CeilingRate) }))
	fmt.Fprintf(w, row, "engine: to durable state",
		fmt.Sprint(r.EngineRecords), fmt.Sprintf("%.3f", r.EngineSeconds), fmt.Sprintf("%.0f", r.EngineRate),
		perRound(func(pr IngestRound) string { return fmt.Sprintf("%.0f", pr.EngineRate) }))
	fmt.Fprintf(w, row, "ratio engine/ceiling", "", "", fmt.Sprintf("%.3f", r.Ratio),
		perRound(func(pr IngestRound) string { return fmt.Sprintf("%.3f", pr.Ratio) }))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "records: %s key+value, broker log %s (%s), produced in %.1f s (setup, not measured)\n",
		mb(r.ProducedBytes), mb(r.BrokerDiskBytes), r.Codec, r.ProduceSeconds)
	fmt.Fprintf(w, "state:   %s on disk incl. WAL, %.0f B/record, %d batches\n",
		mb(int64(r.StateDiskBytes)), r.StateBytesPerRecord, r.EngineBatches)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
