package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/bench/sim"
	"github.com/porttrack/porttrack/geo"
	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/ingest/fetch"
	"github.com/porttrack/porttrack/state"
	"github.com/porttrack/porttrack/state/portstate"
)

var update = flag.Bool("update", false, "rewrite the golden state dump in testdata/golden")

// goldenFile is the digest of the store after the golden input.
const goldenFile = "testdata/golden/day-seed1.txt"

// goldenDumpVersion is the version of the golden file's own layout.
const goldenDumpVersion = 1

// Golden input: the day model and cross-border e-commerce orders, seed 1.
var (
	goldenStart    = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	goldenDuration = time.Duration(goldenHours) * time.Hour
)

const (
	goldenScale      = 0.05
	goldenHours      = 6
	goldenPartitions = 3   // per topic
	goldenRound      = 400 // records fed to the workers between two rounds of Apply
	goldenTenant     = "acme"
	// goldenOrders is how many records of the e-commerce generator are
	// taken (its queued records are flushed after them).
	goldenOrders = 2500
	// goldenRFID is how many records of the plain RFID generator are taken.
	goldenRFID = 600
)

// goldenFence is a user fence over the first terminal of the port model:
// its berths, yard, gate and the water in front.
const goldenFence = `{"type":"Feature","id":"nbct-watch","properties":{"name":"terminal watch"},"geometry":{"type":"Polygon","coordinates":[[[121.855,29.928],[121.902,29.928],[121.902,29.946],[121.855,29.946],[121.855,29.928]]]}}`

// goldenFamilies names the key families (first key byte) after
// state/FORMAT.md.
var goldenFamilies = map[byte]string{
	0x01: "version", 0x02: "offset",
	0x10: "current", 0x11: "history", 0x12: "event-id", 0x13: "place-now", 0x14: "place-history",
	0x15: "dwell", 0x16: "location", 0x17: "on-board", 0x18: "pending-load",
	0x20: "outbox",
	0x30: "vessel", 0x31: "vessel-track", 0x32: "vessel-imo",
	0x40: "truck", 0x41: "truck-track", 0x42: "container-truck",
	0x50: "customs-order", 0x51: "customs-logistics-link", 0x52: "customs-logistics", 0x53: "customs-receipt",
	0x54: "customs-cop-link", 0x55: "customs-order-index", 0x56: "customs-deadline", 0x58: "customs-box",
	0x59: "customs-box-list",
	0x60: "api-key", 0x61: "container-link", 0x64: "dcsa-log", 0x65: "dcsa-id", 0x66: "subscription",
	0x67: "subscription-state", 0x68: "subscription-dead", 0x69: "subscription-log", 0x6A: "subscription-replay",
	0x6B: "dcsa-equipment",
	0x70: "user-fence", 0x71: "fence-member", 0x72: "container-fence-obs",
	0x80: "plan", 0x81: "plan-member", 0x83: "plan-service", 0x84: "plan-station", 0x85: "plan-cutoff",
	0x86: "waybill", 0x87: "waybill-member", 0x88: "gate-appointment", 0x8F: "guard-clock",
}

// goldenExercised are the families the golden input must leave non-empty:
// a stage that silently writes nothing fails the test. Not listed: API
// keys, container links and subscriptions (control-plane records written
// by the API, not by Apply).
var goldenExercised = []byte{
	0x01, 0x02,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x20,
	0x30, 0x31, 0x32,
	0x40, 0x41, 0x42,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x58, 0x59,
	0x64, 0x65, 0x6B,
	0x70, 0x71, 0x72,
	0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8F,
}

// goldenInput is the golden input in production-time order: the day model
// (with its container customs flows) merged with e-commerce orders.
func goldenInput(t *testing.T) []sim.Record {
	t.Helper()
	day := sim.NewDayGenerator(sim.DayConfig{Scale: goldenScale, Duration: goldenDuration, Seed: 1, Start: goldenStart,
		BadRate: 0.01, Customs: sim.CustomsDayFlows(1)})
	// The input ends with the day (the model schedules some customs
	// messages a day after their box's milestone): orders, plans and holds
	// are left in flight, their deadlines and cutoffs still stored.
	end := goldenStart.Add(goldenDuration)
	var recs []sim.Record
	for _, r := range day.Next(nil, 1<<30) {
		if r.Time.Before(end) {
			recs = append(recs, r)
		}
	}
	cg := sim.NewCustomsGenerator(sim.CustomsConfig{Seed: 1, Start: goldenStart, MismatchRate: 0.05, MissingRate: 0.15,
		GBKRate: 0.1, DupRate: 0.02, Containers: 50, OrderEvery: 90 * time.Second})
	var orders []sim.Record
	for _, r := range cg.Flush(cg.Next(nil, goldenOrders)) {
		if r.Time.Before(end) {
			r.Topic = DefaultCustomsTopic
			orders = append(orders, r)
		}
	}
	// The day model's boxes are never held at the terminal: a few hundred
	// records of the plain RFID generator (holds, inspections, its own
	// boxes) spread evenly over the day.
	rfid := sim.NewGenerator(sim.Config{Seed: 1, Start: goldenStart, BadRate: 0.01, DupRate: 0.02}).Next(nil, goldenRFID)
	for i := range rfid {
		rfid[i].Topic = DefaultRFIDTopic
		rfid[i].Time = goldenStart.Add(time.Duration(i) * goldenDuration / goldenRFID)
	}
	return mergeByTime(mergeByTime(recs, orders), rfid)
}

// mergeByTime merges two runs of records by time, stably: on a tie a's
// record comes first.
func mergeByTime(a, b []sim.Record) []sim.Record {
	all := make([]sim.Record, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || (i < len(a) && !b[j].Time.Before(a[i].Time)) {
			all = append(all, a[i])
			i++
		} else {
			all = append(all, b[j])
			j++
		}
	}
	return all
}

// TestGolden applies a fixed input through the real decoders and workers to
// a fresh store and compares a digest of every Pebble key and value with
// testdata/golden/day-seed1.txt. A change of the stored bytes fails it: a
// deliberate one bumps the format version and rewrites the file with
// -update. On a mismatch the full dump is written (PORTTRACK_GOLDEN_DUMP or
// a temporary file) to be diffed with the dump of the previous code.
func TestGolden(t *testing.T) {
	fs := vfs.NewMem()
	// Every clock of the store reads the input's time: the newest record
	// time fed to the workers.
	var clock int64
	opts := goldenOptions(t, fs, func() time.Time { return time.Unix(0, clock).UTC() })
	store, err := portstate.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()
	e, err := New(Config{Brokers: []string{"127.0.0.1:9"}}, store.Store)
	if err != nil {
		t.Fatal(err)
	}
	clock = goldenStart.UnixNano()
	if _, err := store.PutFence(goldenTenant, "nbct-watch", state.FenceOwner{Role: state.RolePort}, []byte(goldenFence)); err != nil {
		t.Fatal(err)
	}

	input := goldenInput(t)
	workers := map[tp]*worker{}
	next := map[tp]int64{}
	var order []tp // every partition, in a fixed order
	for _, topic := range e.Topics() {
		for p := range int32(goldenPartitions) {
			k := tp{topic: topic, partition: p}
			w := &worker{e: e, p: k, ps: &partitionState{}, dec: e.decoders[topic]()}
			w.reset(0)
			workers[k] = w
			order = append(order, k)
		}
	}
	perTopic := map[string]int{}
	flush := func() {
		t.Helper()
		for _, k := range order {
			if w := workers[k]; w.records > 0 {
				if err := w.apply(); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The customs deadline tick, at the input's time.
		if _, err := store.Customs.Expire(); err != nil {
			t.Fatal(err)
		}
	}
	for n, r := range input {
		topic := r.Topic
		if _, ok := e.decoders[topic]; !ok {
			t.Fatalf("record %d: topic %q has no decoder", n, topic)
		}
		perTopic[topic]++
		h := fnv.New32a()
		h.Write(r.Key)
		k := tp{topic: topic, partition: int32(h.Sum32() % goldenPartitions)}
		rec := &fetch.Record{Offset: next[k], Time: r.Time, Key: r.Key, Value: r.Value,
			KeySize: int64(len(r.Key)), Size: int64(len(r.Value)), SHA256: sha256.Sum256(r.Value)}
		next[k]++
		clock = max(clock, r.Time.UnixNano())
		if err := workers[k].add(rec); err != nil {
			t.Fatal(err)
		}
		if (n+1)%goldenRound == 0 {
			flush()
		}
	}
	flush()
	t.Logf("golden input: %d records %v, %d batches, dead letters %v", len(input), perTopic,
		e.metrics.batches.Load(), e.DeadLettered())
	storeOpen = false
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	d := dumpStore(t, fs, opts.Dir)
	got := d.golden()
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenFile)
	}
	t.Logf("outbox: %v", d.outbox)
	for _, k := range goldenOutboxKinds {
		if d.outbox[k] == 0 {
			t.Errorf("no outbox message %q after the golden input", k)
		}
	}
	for _, f := range goldenExercised {
		if d.fam[f] == nil || d.fam[f].keys == 0 {
			t.Errorf("family 0x%02X %s is empty after the golden input: its stage wrote nothing", f, goldenFamilies[f])
		}
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	// PORTTRACK_GOLDEN_DUMP asks for the full dump even when it matches
	// (to compare two versions of the code).
	path := os.Getenv("PORTTRACK_GOLDEN_DUMP")
	if path != "" || got != string(want) {
		if path == "" {
			path = filepath.Join(t.TempDir(), "dump.txt")
		}
		if err := d.writeFull(path); err != nil {
			t.Error(err)
		}
	}
	if got == string(want) {
		return
	}
	t.Errorf("the store after the golden input differs from %s in %s; full dump in %s (diff it with a dump of the previous code)",
		goldenFile, strings.Join(diffFamilies(string(want), got), ", "), path)
}

// goldenOptions are the store options of the golden test: the product's
// defaults (cmd/porttrack) with the clock pinned to now.
func goldenOptions(t *testing.T, fs vfs.FS, now func() time.Time) state.Options {
	t.Helper()
	data := portmodel.GeoJSON()
	features, err := geo.ParseFeatureCollection(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	readers, err := state.ReaderPositions(data)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := state.NewPortModel(features, "CNNGB")
	if err != nil {
		t.Fatal(err)
	}
	return state.Options{Dir: "db", FS: fs, NoSync: true, Now: now, PortModel: pm, TrackRetention: 7 * 24 * time.Hour,
		PortCalls: state.PortCallConfig{EventTopic: "porttrack.events", MinDwell: 2 * time.Minute},
		Fences:    state.FenceConfig{MinDwell: 30 * time.Second, AlertTopic: "porttrack.alerts", Readers: readers},
		Guard:     state.GuardConfig{AlertTopic: "porttrack.alerts"},
		Customs:   state.CustomsConfig{IncompleteAfter: int64(30 * time.Minute), ResultTopic: "porttrack.customs-results"},
	}
}

// familyDigest is the size and SHA-256 of one key family.
type familyDigest struct {
	keys, bytes int
	h           hash.Hash
}

type storeDump struct {
	version string // the stored format version, hex
	fam     map[byte]*familyDigest
	all     familyDigest
	lines   []string // hex key, hex value
	// outbox counts the outbox messages by outboxKind.
	outbox map[string]int
}

// goldenOutboxKinds are outbox messages the golden input must derive, as
// outboxKind names them.
var goldenOutboxKinds = []string{
	"porttrack.dlq",
	"porttrack.events ARRI", "porttrack.events DEPA", // vessel port calls
	"porttrack.events DISC", "porttrack.events LOAD", "porttrack.events GTIN", "porttrack.events GTOT",
	"porttrack.events HOLD", "porttrack.events INSP",
	"porttrack.alerts connection",
	"porttrack.alerts geofence",
	"porttrack.customs-results three_doc_match incomplete",
}

// outboxKind names an outbox message (state/FORMAT.md, 0x20) by its topic
// and, when present, its JSON "kind", "result" and DCSA event type code.
func outboxKind(v []byte) string {
	if len(v) == 0 || v[0] != 0x01 {
		return "?"
	}
	v = v[1:]
	field := func() []byte {
		n, w := binary.Uvarint(v)
		if w <= 0 || n > uint64(len(v)-w) {
			v = nil
			return nil
		}
		f := v[w : w+int(n)]
		v = v[w+int(n):]
		return f
	}
	topic := string(field())
	field() // key
	value := field()
	kind := []string{topic}
	for _, name := range []string{`"kind":"`, `"result":"`, `"equipmentEventTypeCode":"`, `"transportEventTypeCode":"`, `"shipmentEventTypeCode":"`} {
		if _, rest, ok := bytes.Cut(value, []byte(name)); ok {
			if s, _, ok := bytes.Cut(rest, []byte(`"`)); ok {
				kind = append(kind, string(s))
			}
		}
	}
	return strings.Join(kind, " ")
}

// quietPebble discards the logs of the dump's read-only Open.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// dumpStore reads every key of the closed store's Pebble database.
func dumpStore(t *testing.T, fs vfs.FS, dir string) *storeDump {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{FS: fs, ReadOnly: true, Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	d := &storeDump{fam: map[byte]*familyDigest{}, all: familyDigest{h: sha256.New()}, outbox: map[string]int{}}
	var lb [binary.MaxVarintLen64]byte
	add := func(f *familyDigest, k, v []byte) {
		f.keys++
		f.bytes += len(k) + len(v)
		f.h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(k)))])
		f.h.Write(k)
		f.h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(v)))])
		f.h.Write(v)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) == 0 {
			t.Fatal("empty key in the store")
		}
		if bytes.Equal(k, []byte{0x01, 'v'}) {
			d.version = hex.EncodeToString(v)
		}
		if k[0] == 0x20 {
			d.outbox[outboxKind(v)]++
		}
		f := d.fam[k[0]]
		if f == nil {
			f = &familyDigest{h: sha256.New()}
			d.fam[k[0]] = f
		}
		add(f, k, v)
		add(&d.all, k, v)
		d.lines = append(d.lines, hex.EncodeToString(k)+" "+hex.EncodeToString(v))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return d
}

// golden renders the digest file: one line per family, then the total.
func (d *storeDump) golden() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# porttrack state after the golden input (ingest/golden_internal_test.go); rewrite with -update\n")
	fmt.Fprintf(&b, "dump %d\nformat %s\n", goldenDumpVersion, d.version)
	fams := make([]byte, 0, len(d.fam))
	for f := range d.fam {
		fams = append(fams, f)
	}
	slices.Sort(fams)
	for _, f := range fams {
		name := goldenFamilies[f]
		if name == "" {
			name = "unknown"
		}
		fd := d.fam[f]
		fmt.Fprintf(&b, "family 0x%02X %s keys=%d bytes=%d sha256=%x\n", f, name, fd.keys, fd.bytes, fd.h.Sum(nil))
	}
	fmt.Fprintf(&b, "total keys=%d bytes=%d sha256=%x\n", d.all.keys, d.all.bytes, d.all.h.Sum(nil))
	return b.String()
}

// writeFull writes every key and value, hex, one per line.
func (d *storeDump) writeFull(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range d.lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// diffFamilies names the family lines (and the header lines) that differ
// between two golden files.
func diffFamilies(want, got string) []string {
	lines := func(s string) map[string]string {
		m := map[string]string{}
		for l := range strings.Lines(s) {
			l = strings.TrimSpace(l)
			if l == "" || l[0] == '#' {
				continue
			}
			f := strings.Fields(l)
			id := f[0]
			if f[0] == "family" && len(f) > 2 {
				id = f[1] + " " + f[2]
			}
			m[id] = l
		}
		return m
	}
	w, g := lines(want), lines(got)
	var diff []string
	for id, l := range w {
		if g[id] != l {
			diff = append(diff, id)
		}
	}
	for id := range g {
		if _, ok := w[id]; !ok {
			diff = append(diff, id)
		}
	}
	slices.Sort(diff)
	if len(diff) == 0 {
		diff = append(diff, "(layout)")
	}
	return diff
}
