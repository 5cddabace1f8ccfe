package state

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/geo"
)

// Errors returned by Store.
var (
	ErrNotFound  = errors.New("state: not found")
	ErrFormat    = errors.New("state: unknown on-disk format version")
	ErrBadCursor = errors.New("state: malformed cursor")
	ErrClosed    = errors.New("state: closed")
)

// Options configure a Store.
type Options struct {
	// Dir is the directory of the Pebble database.
	Dir string
	// FS is the file system; nil means the OS file system. Tests pass
	// vfs.NewMem().
	FS vfs.FS
	// NoSync commits batches without waiting for fsync. Atomicity is the
	// same either way (a crash of the process loses nothing the OS has);
	// only a power loss can then drop the last batches, which are consumed
	// again because their offsets are dropped with them.
	NoSync bool
	// CacheBytes is the block cache size; 0 means 64 MiB. Pebble's
	// memtables (up to 2 × 32 MiB) are charged to the same cache on top of
	// it.
	CacheBytes int64
	// Logger receives Pebble's and the store's logs; nil discards them.
	Logger *slog.Logger
	// Now returns the wall time; nil means time.Now. Tests pin it.
	Now func() time.Time
	// PortModel, if set, drives vessel port calls (phases, ARRI/DEPA).
	PortModel *PortModel
	// PortCalls tunes port-call detection.
	PortCalls PortCallConfig
	// Guard tunes the connection guard of rail and barge departures.
	Guard GuardConfig
	// TrackRetention bounds a vessel's track: points older than this
	// before its newest position are deleted as new ones arrive. 0 keeps
	// the whole track.
	TrackRetention time.Duration
	// Fences tunes user geofences and their enter/exit events.
	Fences FenceConfig
	// Customs configures three-document matching and customs results.
	Customs CustomsConfig
	// CustomsBlocks is what the connection guard asks of customs (the
	// customs domain, wired by state/portstate); nil: no box is blocked by
	// customs.
	CustomsBlocks CustomsBlocks
	// Stages are Apply's stages in their order (state/portstate lists
	// them); nil means BuiltinStages.
	Stages []Stage
	// Trucks is the trucks domain (state/truck) for the code of this
	// package that needs it (TruckDomain); portstate sets it. nil: no
	// trucks (a Store without the trucks stage).
	Trucks TruckDomain
	// MaxSubscriptions bounds the DCSA event subscriptions of one tenant;
	// 0 means dcsa.DefaultMaxSubscriptions (read by state/dcsa).
	MaxSubscriptions int
	// Keys reads the tenants' API keys (state/tenant, set by portstate);
	// nil means none.
	Keys Keys
	// DCSA is the DCSA event log (state/dcsa, set by portstate); nil: the
	// events go to the outbox and are not logged.
	DCSA DCSALog
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Keys == nil {
		o.Keys = noKeys{}
	}
	if o.DCSA == nil {
		o.DCSA = &unloggedDCSA{}
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.PortCalls = o.PortCalls.withDefaults()
	o.Fences = o.Fences.withDefaults()
	o.Guard = o.Guard.withDefaults()
	o.Customs = o.Customs.WithDefaults()
	return o
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Dir == "" {
		return errors.New("state: Dir is empty")
	}
	if o.CacheBytes < 0 {
		return errors.New("state: CacheBytes is negative")
	}
	if o.TrackRetention < 0 {
		return errors.New("state: TrackRetention is negative")
	}
	if err := o.Customs.Validate(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	seen := make(map[string]bool, len(o.Stages))
	for i, st := range o.Stages {
		if st == nil {
			return fmt.Errorf("state: stage %d is nil", i)
		}
		if seen[st.Name()] {
			return fmt.Errorf("state: stage %q listed twice", st.Name())
		}
		seen[st.Name()] = true
	}
	return o.Fences.validate()
}

// Store is porttrack's durable state. Apply may be called from several
// goroutines (one per partition); reads may be called from any goroutine at
// any time and never block Apply for long.
type Store struct {
	db     *pebble.DB
	opts   Options
	writeO *pebble.WriteOptions

	// mu serialises Apply: a record in one partition may name containers
	// whose other records live in another partition (an EPCIS event listing
	// several boxes), so read-modify-write of current state needs one writer.
	mu struct {
		sync.Mutex
		outboxSeq uint64 // next outbox sequence number
		// guardClock is the connection guard's clock: the newest record time
		// applied (plan_store.go).
		guardClock int64
		scratch    applyScratch
	}

	closed atomic.Bool
	m      storeMetrics
	// stages are Apply's stages in their order (Options.Stages).
	stages []Stage
	// outboxFloor is a sequence below which no outbox message is left
	// (DeleteOutbox moves it); ScanOutbox starts there.
	outboxFloor atomic.Uint64

	// loc places container events in the port model (location.go).
	loc *locator

	// vesselPos is the in-memory H3 index of current vessel positions,
	// rebuilt from Pebble at Open and updated after each committed batch.
	vesselPos struct {
		sync.RWMutex
		idx *geo.Index[uint32]
	}
	// mmIdx is which plans and waybills list each container (plan_store.go).
	mmIdx mmIndex
	// fence holds the user geofences and object memberships (fence*.go).
	fence fenceState
	// loads are the loads waiting for their ship (pending_load.go).
	loads pendingLoads
	// hook is told what each committed batch changed (changes.go).
	hook changeHook
}

type storeMetrics struct {
	batches, events, duplicates, late, outbox atomic.Uint64
	applyNanos                                atomic.Uint64
}

// Metrics are the store's counters since Open.
type Metrics struct {
	Batches    uint64 // Apply calls committed
	Events     uint64 // events stored
	Duplicates uint64 // events ignored because their id was stored
	Late       uint64 // events stored in history without changing current state
	Outbox     uint64 // messages written to the outbox
	ApplyNanos uint64 // total time spent in Apply
	DiskBytes  uint64 // Pebble's on-disk size
}

// memTableSize and memTableStop are Pebble's memtable size and how many
// memtables may wait for their flush before writes stop.
const (
	memTableSize = 32 << 20
	memTableStop = 2
)

// Open opens (creating if needed) the store.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	// Pebble charges its memtables (and batches too large for one, queued
	// as memtables) to the block cache's capacity: with the cache at
	// CacheBytes alone, two full memtables left no room for a single block
	// and every read decompressed its blocks anew. The cache is sized so
	// that CacheBytes stays for blocks while writes stop for flushes
	// (MemTableStopWritesThreshold memtables).
	cache := pebble.NewCache(opts.CacheBytes + memTableStop*memTableSize)
	defer cache.Unref()
	po := &pebble.Options{
		FS:                          opts.FS,
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      pebbleLogger{opts.Logger},
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: memTableStop,
	}
	// Every new event costs one point lookup that misses (the id index):
	// bloom filters let those misses skip the data blocks.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(opts.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, opts: opts, writeO: pebble.Sync, loc: newLocator(opts.PortModel), stages: opts.Stages}
	if s.stages == nil {
		s.stages = BuiltinStages()
	}
	if opts.NoSync {
		s.writeO = pebble.NoSync
	}
	if err := s.checkVersion(); err != nil {
		db.Close()
		return nil, err
	}
	seq, err := s.lastOutboxSeq()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.mu.outboxSeq = seq + 1
	if err := s.loadVesselIndex(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadPlanned(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: loading the planned containers: %w", err)
	}
	if err := s.loadFences(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.backfillLocations(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: building the container location index: %w", err)
	}
	if err := s.backfillOnBoard(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: building the on-board index: %w", err)
	}
	if err := s.loadPendingLoads(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: loading the loads waiting for their ship: %w", err)
	}
	for _, st := range s.stages {
		if l, ok := st.(StageLoader); ok {
			if err := l.Load(s); err != nil {
				db.Close()
				return nil, fmt.Errorf("state: opening stage %s: %w", st.Name(), err)
			}
		}
	}
	return s, nil
}

func (s *Store) checkVersion() error {
	key := []byte{prefixVersion, 'v'}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return s.db.Set(key, binary.BigEndian.AppendUint32(nil, formatVersion), pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("state: read format version: %w", err)
	}
	defer closer.Close()
	if len(v) != 4 || binary.BigEndian.Uint32(v) != formatVersion {
		return fmt.Errorf("%w: %x (this build reads %d)", ErrFormat, v, formatVersion)
	}
	return nil
}

func (s *Store) lastOutboxSeq() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixOutbox}, UpperBound: []byte{prefixOutbox + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, fmt.Errorf("state: outbox key %x: %w", k, errCorrupt)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// PortModel returns the store's port model (nil when none is configured).
func (s *Store) PortModel() *PortModel { return s.opts.PortModel }

// Close flushes and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return ErrClosed
	}
	return s.db.Close()
}

// Batch is the effect of a run of consumed records of one partition. Apply
// stores all of it, with the partition's next offset, atomically.
type Batch struct {
	Topic     string
	Partition int32
	// Next is the offset to consume after this batch (last offset + 1).
	Next   int64
	Events []Event
	// Vessels holds decoded AIS reports.
	Vessels []VesselReport
	// Trucks holds decoded truck GNSS positions (port.transport).
	Trucks []TruckReport
	// Plans, PlanEvents and Waybills hold decoded rail and barge plans and
	// events and truck e-waybills (port.transport).
	Plans      []Plan
	PlanEvents []PlanEvent
	Waybills   []Waybill
	// Customs holds decoded customs messages (port.customs).
	Customs []CustomsDoc
	// Outbox holds messages to publish (dead letters of this batch).
	Outbox []Message
}

// ApplyResult tells what Apply did with the events of a batch.
type ApplyResult struct {
	Stored     int // new events stored
	Duplicates int // events whose id was already stored
	Late       int // new events older than the container's newest
	// VesselReports counts vessel reports applied.
	VesselReports    int
	VesselDuplicates int // position reports already stored (another station)
	PhaseChanges     int // vessel port-call phase changes
	TruckReports     int // truck reports applied
	TruckDuplicates  int // truck reports repeating a stored point
	Events           int // derived events written to the outbox
	Plans            int // rail and barge plans applied (newer than stored)
	PlanEvents       int // rail and barge events applied
	Waybills         int // truck waybills applied (newer than stored)
	Alerts           int // connection alerts written to the outbox
}

type applyScratch struct {
	key, val []byte
	current  map[string]*Container
	seen     map[[32]byte]struct{}
	hashes   [][32]byte            // id hash of each event of the batch
	order    []int                 // event indexes sorted by id-index key
	observe  []int                 // events that were their box's newest when applied, in batch order
	ids      []string              // containers of the batch, sorted
	changed  map[string]struct{}   // containers whose state this batch changed
	stored   map[[32]byte]struct{} // ids of the batch already stored
	vessels  map[uint32]*vesselWork
	mm       mmScratch
}

// Apply validates and stores the batch in one atomic Pebble batch: new
// events in history, the event-id index, changed current states, outbox
// messages and the partition's next offset. An invalid event fails the whole
// batch before anything is written (ingest validates first).
func (s *Store) Apply(b *Batch) (ApplyResult, error) {
	var res ApplyResult
	for i := range b.Events {
		if err := b.Events[i].Validate(); err != nil {
			return res, fmt.Errorf("state: event %d of batch: %w", i, err)
		}
	}
	for i := range b.Vessels {
		if err := b.Vessels[i].Validate(); err != nil {
			return res, fmt.Errorf("state: vessel report %d of batch: %w", i, err)
		}
	}
	for i := range b.Trucks {
		if err := b.Trucks[i].Validate(); err != nil {
			return res, fmt.Errorf("state: truck report %d of batch: %w", i, err)
		}
	}
	for i := range b.Plans {
		if err := b.Plans[i].Validate(); err != nil {
			return res, fmt.Errorf("state: plan %d of batch: %w", i, err)
		}
	}
	for i := range b.PlanEvents {
		if err := b.PlanEvents[i].Validate(); err != nil {
			return res, fmt.Errorf("state: plan event %d of batch: %w", i, err)
		}
	}
	for i := range b.Waybills {
		if err := b.Waybills[i].Validate(); err != nil {
			return res, fmt.Errorf("state: waybill %d of batch: %w", i, err)
		}
	}
	if len(b.Topic) == 0 || len(b.Topic) > 255 {
		return res, fmt.Errorf("state: topic name length %d out of range", len(b.Topic))
	}
	start := time.Now()
	now := s.opts.Now().UnixNano()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return res, ErrClosed
	}
	sc := &s.mu.scratch
	pb := s.db.NewBatch()
	defer pb.Close()
	tx := &Tx{s: s, pb: pb, b: b, now: now, res: &res, sc: sc}
	s.hook.changes = s.hook.changes[:0] // left by a batch that failed
	for _, st := range s.stages {
		st.Begin(tx)
	}
	for _, st := range s.stages {
		if err := st.Apply(tx); err != nil {
			return res, err
		}
	}
	sc.key = offsetKey(sc.key[:0], b.Topic, b.Partition)
	if err := pb.Set(sc.key, binary.BigEndian.AppendUint64(sc.val[:0], uint64(b.Next)), nil); err != nil {
		return res, err
	}
	if err := pb.Commit(s.writeO); err != nil {
		return res, fmt.Errorf("state: commit batch: %w", err)
	}
	err := publishCommitted(tx)
	// The batch is durable: the change listener hears of it whatever a
	// stage's Committed hook said.
	s.publishCommitted(b, now)
	if err != nil {
		return res, err
	}
	s.m.batches.Add(1)
	s.m.events.Add(uint64(res.Stored))
	s.m.duplicates.Add(uint64(res.Duplicates))
	s.m.late.Add(uint64(res.Late))
	s.m.outbox.Add(uint64(len(b.Outbox)))
	s.m.applyNanos.Add(uint64(time.Since(start)))
	return res, nil
}

// Update runs fn over a transaction of its own under the Apply lock and
// commits it: for a domain's writes outside Apply (the customs deadline
// tick), with Apply's guarantees (one atomic Pebble batch, outbox sequence
// numbers in order, no Apply in between). The Tx has an empty input batch
// and the clock Options.Now; nothing is committed when fn fails or writes
// nothing. Outbox messages written count in Metrics.Outbox.
func (s *Store) Update(fn func(*Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	pb := s.db.NewBatch()
	defer pb.Close()
	seq := s.mu.outboxSeq
	tx := &Tx{s: s, pb: pb, b: &Batch{}, now: s.opts.Now().UnixNano(), res: &ApplyResult{}, sc: &s.mu.scratch}
	if err := fn(tx); err != nil || pb.Empty() {
		return err
	}
	if err := pb.Commit(s.writeO); err != nil {
		return fmt.Errorf("state: commit update: %w", err)
	}
	s.m.outbox.Add(s.mu.outboxSeq - seq)
	return nil
}

// putOutbox adds m to the outbox in pb at the next sequence number. Called
// under s.mu by Apply and its hooks: every message derived from a batch
// (dead letters, DCSA events, alerts, customs results) goes through here.
func (s *Store) putOutbox(pb *pebble.Batch, m *Message) error {
	s.noteOutbox(m)
	sc := &s.mu.scratch
	sc.key = outboxKey(sc.key[:0], s.mu.outboxSeq)
	sc.val = appendMessage(sc.val[:0], m)
	if err := pb.Set(sc.key, sc.val, nil); err != nil { // Set copies key and value
		return err
	}
	s.mu.outboxSeq++
	return nil
}

// newer reports whether e sorts after the stored newest event last.
func newer(e, last *Event) bool {
	if e.Time != last.Time {
		return e.Time > last.Time
	}
	return e.ID > last.ID
}

// storedIDs hashes the batch's event ids (into sc.hashes) and returns the
// set of those already stored. It looks them up in key order through one
// iterator: sorted seeks reuse the iterator's position and blocks, which
// costs a fraction of a point Get per event.
func (s *Store) storedIDs(sc *applyScratch, events []Event) (map[[32]byte]struct{}, error) {
	sc.hashes = sc.hashes[:0]
	sc.order = sc.order[:0]
	for i := range events {
		sc.hashes = append(sc.hashes, idHash(events[i].ID))
		sc.order = append(sc.order, i)
	}
	if sc.stored == nil {
		sc.stored = make(map[[32]byte]struct{})
	}
	clear(sc.stored)
	if len(events) == 0 {
		return sc.stored, nil
	}
	slices.SortFunc(sc.order, func(a, b int) int { return bytes.Compare(sc.hashes[a][:16], sc.hashes[b][:16]) })
	// Most lookups miss (a new event): the bottom level's filters too,
	// which Pebble skips by default, spare the data blocks that hold most
	// of the index.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEventIdx}, UpperBound: []byte{prefixEventIdx + 1}, UseL6Filters: true})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for _, i := range sc.order {
		h := &sc.hashes[i]
		sc.key = eventIdxKey(sc.key[:0], h)
		// The default comparer's prefix is the whole key: SeekPrefixGE
		// consults the bloom filters and skips tables without the key.
		if it.SeekPrefixGE(sc.key) && bytes.Equal(it.Key(), sc.key) {
			sc.stored[*h] = struct{}{}
		}
	}
	return sc.stored, it.Error()
}

// loadCurrent reads the current state of every container of the batch into
// sc.current, in key order through one iterator (see storedIDs).
func (s *Store) loadCurrent(sc *applyScratch, events []Event) error {
	sc.ids = sc.ids[:0]
	for i := range events {
		if _, ok := sc.current[events[i].Container]; !ok {
			sc.current[events[i].Container] = nil // placeholder: listed once
			sc.ids = append(sc.ids, events[i].Container)
		}
	}
	if len(sc.ids) == 0 {
		return nil
	}
	slices.Sort(sc.ids)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixCurrent}, UpperBound: []byte{prefixCurrent + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for _, id := range sc.ids {
		c := &Container{ID: id}
		sc.key = currentKey(sc.key[:0], id)
		if it.SeekPrefixGE(sc.key) && bytes.Equal(it.Key(), sc.key) {
			if err := decodeCurrent(id, it.Value(), c); err != nil {
				return fmt.Errorf("state: current state of %s: %w", id, err)
			}
		}
		sc.current[id] = c
	}
	return it.Error()
}

// NextOffset returns the stored next offset of a partition; ok is false when
// nothing of that partition has been applied yet.
func (s *Store) NextOffset(topic string, partition int32) (next int64, ok bool, err error) {
	v, closer, err := s.db.Get(offsetKey(nil, topic, partition))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// Container returns the current state of a container, or ErrNotFound.
func (s *Store) Container(id string) (Container, error) { return s.live().Container(id) }

// Container returns the current state of a container as the view sees it,
// or ErrNotFound.
func (vw *View) Container(id string) (Container, error) {
	var c Container
	if len(id) != ContainerLen {
		return c, ErrNotFound
	}
	var kb [1 + ContainerLen]byte
	v, closer, err := vw.r.Get(currentKey(kb[:0], id))
	if errors.Is(err, pebble.ErrNotFound) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, err
	}
	defer closer.Close()
	err = decodeCurrent(id, v, &c)
	return c, err
}

// HistoryQuery selects events of one container by event time.
type HistoryQuery struct {
	From, To int64  // event time range [From, To), Unix ns; 0 means no bound
	Cursor   string // from a previous page; "" starts at From
	Limit    int    // events per page, > 0
}

// History calls fn for the container's events in event-time order and
// returns the cursor of the next page ("" when there is none).
func (s *Store) History(id string, q HistoryQuery, fn func(*StoredEvent) error) (string, error) {
	if q.Limit <= 0 {
		return "", errors.New("state: history limit must be positive")
	}
	prefix := append([]byte{prefixHistory}, id...)
	lower := bytes.Clone(prefix)
	if q.From != 0 {
		lower = binary.BigEndian.AppendUint64(lower, sortableTime(q.From))
	}
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(raw) != 16 {
			return "", ErrBadCursor
		}
		after := append(bytes.Clone(prefix), raw...)
		// Start just past the last key of the previous page.
		after = append(after, 0)
		if bytes.Compare(after, lower) > 0 {
			lower = after
		}
	}
	var upper []byte
	if q.To != 0 {
		upper = binary.BigEndian.AppendUint64(bytes.Clone(prefix), sortableTime(q.To))
	} else {
		upper = append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return "", err
	}
	defer it.Close()
	var ev StoredEvent
	n := 0
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		if n == q.Limit {
			return base64.RawURLEncoding.EncodeToString(last[1+ContainerLen:]), nil
		}
		if err := decodeHistory(it.Key(), it.Value(), &ev); err != nil {
			return "", fmt.Errorf("state: history of %s: %w", id, err)
		}
		if err := fn(&ev); err != nil {
			return "", err
		}
		last = append(last[:0], it.Key()...)
		n++
	}
	return "", it.Error()
}

// OutboxEntry is one message waiting in the outbox. Message slices alias
// iterator memory and are valid only during the callback.
type OutboxEntry struct {
	Seq uint64
	Message
}

// ScanOutbox calls fn for up to limit outbox messages in sequence order.
func (s *Store) ScanOutbox(limit int, fn func(*OutboxEntry) error) error {
	// Start past what DeleteOutbox removed: the tombstones of published
	// messages would otherwise be stepped over one at a time until
	// compaction drops them.
	lower := outboxKey(nil, s.outboxFloor.Load())
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixOutbox + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var e OutboxEntry
	n := 0
	for ok := it.First(); ok && n < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			return fmt.Errorf("state: outbox key %x: %w", k, errCorrupt)
		}
		e.Seq = binary.BigEndian.Uint64(k[1:])
		if err := decodeMessage(it.Value(), &e.Message); err != nil {
			return fmt.Errorf("state: outbox %d: %w", e.Seq, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// DeleteOutbox removes the outbox messages with sequence numbers in
// [from, to] (after the broker acknowledged them). from is the lowest
// message in the outbox: later scans start after to.
func (s *Store) DeleteOutbox(from, to uint64) error {
	// Point deletes, not a range tombstone: every new range tombstone makes
	// the next iterator re-fragment all of the memtable's, which made each
	// outbox scan cost in proportion to the messages published so far.
	// ScanOutbox starts past them, so it never steps over these.
	b := s.db.NewBatch()
	defer b.Close()
	var k []byte
	for seq := from; seq <= to; seq++ {
		k = outboxKey(k[:0], seq)
		if err := b.Delete(k, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(s.writeO); err != nil {
		return err
	}
	// The publisher deletes from the lowest message on: nothing below to+1
	// remains.
	if to+1 > s.outboxFloor.Load() {
		s.outboxFloor.Store(to + 1)
	}
	return nil
}

// OutboxLen counts the messages waiting in the outbox (for metrics; linear).
func (s *Store) OutboxLen() (int, error) {
	n := 0
	err := s.ScanOutbox(1<<31-1, func(*OutboxEntry) error { n++; return nil })
	return n, err
}

// Metrics returns the store's counters.
func (s *Store) Metrics() Metrics {
	m := Metrics{
		Batches:    s.m.batches.Load(),
		Events:     s.m.events.Load(),
		Duplicates: s.m.duplicates.Load(),
		Late:       s.m.late.Load(),
		Outbox:     s.m.outbox.Load(),
		ApplyNanos: s.m.applyNanos.Load(),
	}
	if !s.closed.Load() {
		m.DiskBytes = s.db.Metrics().DiskSpaceUsage()
	}
	return m
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}

var _ io.Closer = (*Store)(nil)
