package ingest_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/porttrack/porttrack/ingest/ais"
	"github.com/porttrack/porttrack/state"
)

// amsaCorpus is the messy real AIS feed of DOMAIN.md §9.4 (AI/AB/BS/AS and
// "=I" talkers, $PGHP/$BSALR/$GPZDA/$AIVSI/$PSHI noise, bad checksums), in
// the repository's testdata (testdata/README.md).
var amsaCorpus = filepath.Join("..", "testdata", "ais", "amsa-risky-ais-feed.txt")

// corpusLinesPerRecord is how many lines of the corpus go in one record, as
// a receiver batching its output would send them; multi-part messages may
// straddle two records.
const corpusLinesPerRecord = 4

// corpusExpect is what the AIS decoder alone makes of the records: the
// vessels a message with a position or with static data was decoded for,
// and its counters.
type corpusExpect struct {
	vessels     map[uint32]bool // MMSI → a position was decoded for it
	stats       ais.Stats
	deadRecords int // records holding no well-formed sentence but a rejected line
}

// expectFromDecoder feeds the records to an ais.Decoder exactly as they are
// produced (same grouping, same source key, same receive times) and
// collects the vessels from the decoded messages: an MMSI in 1..999999999
// with a known position in a position report, or with any static or voyage
// field. It does not use the engine.
func expectFromDecoder(t *testing.T, msgs []kafka.Message) corpusExpect {
	t.Helper()
	d, err := ais.NewDecoder(ais.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := corpusExpect{vessels: map[uint32]bool{}}
	for _, m := range msgs {
		before := d.Stats().Sentences
		ferr := d.FeedFrom(m.Key, m.Value, m.Time, func(msg *ais.Message) {
			if msg.MMSI == 0 || msg.MMSI > 999999999 {
				return
			}
			if msg.IsPositionReport() {
				if _, _, ok := msg.Position(); ok {
					e.vessels[msg.MMSI] = true
					return
				}
			}
			switch msg.Type {
			case 5, 19, 24:
			default:
				return
			}
			_, imo := msg.IMO()
			_, shiptype := msg.ShipType()
			_, _, _, _, dims := msg.Dimensions()
			_, draught := msg.Draught()
			_, _, _, _, eta := msg.ETA()
			if imo || shiptype || dims || draught || eta ||
				len(msg.Callsign()) > 0 || len(msg.Shipname()) > 0 || len(msg.Destination()) > 0 {
				if _, seen := e.vessels[msg.MMSI]; !seen {
					e.vessels[msg.MMSI] = false
				}
			}
		})
		if ferr != nil && d.Stats().Sentences == before {
			e.deadRecords++
		}
	}
	e.stats = d.Stats()
	return e
}

// promValue returns the value of one series in Prometheus text.
func promValue(t *testing.T, text, series string) uint64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", l, err)
			}
			return n
		}
	}
	t.Fatalf("metric %s missing:\n%s", series, grep(text, "porttrack_ais"))
	return 0
}

// TestAISCorpusJunkNeverReachesState produces the AMSA corpus, every line,
// into port.ais and checks that the AMSA corpus's junk lines never reach
// state and are counted by reason in /metrics: the vessels in state are
// exactly those the decoder alone finds in the same records, every position
// is in range, and porttrack_ais_lines_dropped_total shows the decoder's
// counts of not_ais and bad_checksum lines.
func TestAISCorpusJunkNeverReachesState(t *testing.T) {
	data, err := os.ReadFile(amsaCorpus)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	// Receive times 1 ms apart, as a fast feed delivers them: fragment
	// expiry (5 s by default) runs on them in the engine and here alike.
	base := time.Now().Truncate(time.Millisecond)
	var msgs []kafka.Message
	for i := 0; i < len(lines); i += corpusLinesPerRecord {
		rec := strings.Join(lines[i:min(i+corpusLinesPerRecord, len(lines))], "\n")
		msgs = append(msgs, kafka.Message{Key: []byte("AMSA-01"), Value: []byte(rec),
			Time: base.Add(time.Duration(len(msgs)) * time.Millisecond)})
	}
	want := expectFromDecoder(t, msgs)
	if want.stats.NotAIS == 0 || want.stats.BadChecksum == 0 || len(want.vessels) == 0 {
		t.Fatalf("the corpus should hold junk and vessels; decoder stats %+v, %d vessels", want.stats, len(want.vessels))
	}

	h := start(t, "", "port.ais")
	w := &kafka.Writer{Addr: kafka.TCP(h.cluster.ListenAddrs()...), Topic: "port.ais", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000, BatchBytes: 1 << 20}
	defer w.Close()
	if err := w.WriteMessages(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}

	// Every record is applied once the stored next offsets (written in the
	// same batch as the state) add up to the record count: one key, one
	// partition.
	waitFor(t, 120*time.Second, func() (bool, string) {
		var sum int64
		for p := int32(0); p < 3; p++ {
			next, ok, err := h.store.NextOffset("port.ais", p)
			if err != nil {
				return false, err.Error()
			}
			if ok {
				sum += next
			}
		}
		return sum == int64(len(msgs)), fmt.Sprintf("%d of %d records applied (engine %+v)", sum, len(msgs), h.engine.Stats())
	})

	got := map[uint32]bool{}
	var bad []string
	err = h.store.EachVessel(func(v *state.Vessel) error {
		got[v.MMSI] = v.HasPosition
		if v.HasPosition && (math.IsNaN(v.Lat) || math.IsNaN(v.Lon) || v.Lat < -90 || v.Lat > 90 || v.Lon < -180 || v.Lon > 180) {
			bad = append(bad, fmt.Sprintf("%d at %v,%v", v.MMSI, v.Lat, v.Lon))
		}
		if v.HasPosition && (v.Speed != state.UnknownFloat && (v.Speed < 0 || v.Speed > 102.2) ||
			v.Course != state.UnknownFloat && (v.Course < 0 || v.Course >= 360) ||
			v.Heading != state.UnknownInt && (v.Heading < 0 || v.Heading > 359) ||
			v.Status != state.UnknownInt && (v.Status < 0 || v.Status > 15)) {
			bad = append(bad, fmt.Sprintf("%d: speed %v course %v heading %d status %d", v.MMSI, v.Speed, v.Course, v.Heading, v.Status))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("%d vessels with values out of range, e.g. %s", len(bad), strings.Join(bad[:min(len(bad), 10)], "; "))
	}
	var missing, extra, wrongPos []uint32
	for mmsi, pos := range want.vessels {
		if gotPos, ok := got[mmsi]; !ok {
			missing = append(missing, mmsi)
		} else if gotPos != pos {
			wrongPos = append(wrongPos, mmsi)
		}
	}
	for mmsi := range got {
		if _, ok := want.vessels[mmsi]; !ok {
			extra = append(extra, mmsi)
		}
	}
	for _, s := range [][]uint32{missing, extra, wrongPos} {
		slices.Sort(s)
	}
	if len(missing)+len(extra)+len(wrongPos) > 0 {
		t.Errorf("state holds %d vessels, the decoder found %d: missing %d %v, extra %d %v, position known in one but not the other %d %v",
			len(got), len(want.vessels), len(missing), head(missing), len(extra), head(extra), len(wrongPos), head(wrongPos))
	}
	positions := 0
	for _, p := range want.vessels {
		if p {
			positions++
		}
	}
	t.Logf("%d lines in %d records: %d vessels in state (%d with a position); decoder: %d sentences, %d messages, %d not_ais, %d bad_checksum; %d records hold no good sentence",
		len(lines), len(msgs), len(got), positions, want.stats.Sentences, want.stats.Messages, want.stats.NotAIS, want.stats.BadChecksum, want.deadRecords)

	var sb strings.Builder
	h.engine.WritePrometheus(&sb)
	text := sb.String()
	for _, c := range []struct {
		series string
		want   uint64
	}{
		{`porttrack_ais_lines_total`, want.stats.Lines},
		{`porttrack_ais_sentences_total`, want.stats.Sentences},
		{`porttrack_ais_messages_total`, want.stats.Messages},
		{`porttrack_ais_lines_dropped_total{reason="not_ais"}`, want.stats.NotAIS},
		{`porttrack_ais_lines_dropped_total{reason="bad_checksum"}`, want.stats.BadChecksum},
		{`porttrack_ais_lines_dropped_total{reason="bad_field"}`, want.stats.BadField},
		{`porttrack_ais_lines_dropped_total{reason="bad_armour"}`, want.stats.BadArmour},
		{`porttrack_ais_lines_dropped_total{reason="bad_length"}`, want.stats.BadLength},
		{`porttrack_ais_lines_dropped_total{reason="expired_fragment"}`, want.stats.Expired},
	} {
		if got := promValue(t, text, c.series); got != c.want {
			t.Errorf("%s = %d, the decoder alone counted %d", c.series, got, c.want)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("engine AIS metrics:\n%s\ndead letters: %v", grep(text, "porttrack_ais"), h.engine.DeadLettered())
	}
}

// head returns the first 10 elements of s, for failure messages.
func head(s []uint32) []uint32 { return s[:min(len(s), 10)] }
