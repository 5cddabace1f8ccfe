package state

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// What the kernel gives the domain packages under state (state/truck, ...):
// the transaction's parts for their stages, reads through a View, and the
// codec helpers of the value layouts in FORMAT.md. Domains use these rather
// than copies, so one layout rule lives in one place.

// ValueV1 is the first byte of every value layout of version 1.
const ValueV1 = valueV1

// YieldEvery is how many records a stage handles between yields of its
// processor (runtime.Gosched): Apply is the longest-running CPU work of the
// engine, and a query goroutine woken by the network waits for a processor
// while every one is busy (Go preempts a goroutine only after 10 ms). At
// about 10 µs a record, a yield every 32 bounds that wait to a few hundred
// microseconds.
const YieldEvery = 32

// ScratchMapMax is the size beyond which Apply's per-batch maps are made
// anew rather than cleared: clear costs a map's capacity, not its length,
// and after a large batch (loading, catching up) every small batch would
// clear thousands of empty slots.
const ScratchMapMax = scratchMapMax

const scratchMapMax = 1024

// AppendF64 appends f as 8 bytes (IEEE 754, big-endian).
func AppendF64(dst []byte, f float64) []byte { return appendF64(dst, f) }

// TrimDue reports whether a track's points older than the retention ret
// are due for trimming after its newest time moved from prev to now
// (stored: the object was stored before the batch). Trims run when now
// crosses a step of ret/16 (at most an hour), not at every point.
func TrimDue(stored bool, prev, now int64, ret time.Duration) bool {
	return trimDue(stored, prev, now, ret)
}

// Store returns the store the transaction writes to.
func (tx *Tx) Store() *Store { return tx.s }

// Writes returns the Pebble batch of the transaction: a stage's writes go
// there, to be committed with the partition's offset.
func (tx *Tx) Writes() *pebble.Batch { return tx.pb }

// Options returns the options the store was opened with, defaults filled.
func (s *Store) Options() Options { return s.opts }

// Lookup reads key and hands its value to decode (valid only during the
// call); found is false, and decode not called, when the key is absent.
// Get is the same read with the value's closer in the caller's hands.
func (vw *View) Lookup(key []byte, decode func(v []byte) error) (found bool, err error) {
	return getValue(vw.r, key, decode)
}

// TruckDomain is what the code still in this package needs of the trucks
// domain (state/truck), wired by portstate (Options.Trucks): the fence
// code asks which box a truck carries (a logistics caller sees a truck
// while it carries one of its boxes), the multimodal stage reads the rides
// the trucks stage recorded in the batch (DCSA truck legs), and container
// legs read a box's ride as a view sees it.
type TruckDomain interface {
	// Carries returns the box the truck carries now ("" none) and whether
	// the truck is known.
	Carries(plate string) (container string, ok bool)
	// EachBatchRide calls fn, in order, with the rides recorded by the
	// trucks stage of the batch being applied: a truck picking a box up
	// (start) or dropping it at time t. Under the Apply lock only.
	EachBatchRide(fn func(container, plate string, t int64, start bool) error) error
	// ContainerRide returns the ride of box id as vw sees it: the plate of
	// the truck that last reported carrying it, that report's time and the
	// ride's start; ok false when no truck carries it.
	ContainerRide(vw *View, id string) (plate string, t, since int64, ok bool, err error)
}
