package dcsa

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// DCSA event subscriptions (webhooks): the subscription records, written by
// the query API (control plane), and their delivery state, dead letters and
// delivery log, written by the deliverer. See FORMAT.md "Subscriptions".

const (
	maxDeliveryLog    = 1000 // records kept per subscription
	MinSecretLen      = 32
	MaxSecretLen      = 64
	MaxCallbackURLLen = 2048
)

// subLock serialises the read-modify-write of subscription records,
// delivery state and API keys, so that a delivery recorded after a deletion
// does not bring the deleted subscription's state back, and two writers
// cannot both pass a check (a tenant's role, its subscription count).
type subLock struct {
	sync.Mutex
	// version counts the changes of subscriptions (create, update, delete,
	// redelivery request): the deliverer wakes on it instead of polling
	// every subscription.
	version atomic.Uint64
}

// DefaultMaxSubscriptions is the default of the bound on one tenant's
// subscriptions (New; state.Options.MaxSubscriptions).
const DefaultMaxSubscriptions = 100

// ErrSubscriptionLimit: the tenant already has as many subscriptions as
// New allows.
var ErrSubscriptionLimit = errors.New("state: subscription limit reached")

// SubscriptionsVersion changes whenever a subscription is created,
// updated or deleted, or a redelivery is requested.
func (d *DCSA) SubscriptionsVersion() uint64 { return d.subs.version.Load() }

// Subscription is a DCSA event subscription and its owner.
type Subscription struct {
	ID          string // UUID
	Tenant      string
	Role        string
	Scope       state.Scope // the owner's scope (logistics) when it subscribed
	CallbackURL string
	Secret      []byte // HMAC-SHA256 key, MinSecretLen to MaxSecretLen bytes
	Filter      string // canonical filter query (Filter.Raw)
	Created     int64
	Updated     int64
	// KeyID is the ID of the API key that created or last updated it (its
	// owner, see SubscriptionOwnerLive); "" when made on the open API
	// without a key, or stored by a version before owners were recorded.
	KeyID string
}

// NewSubscriptionID returns a random UUID (version 4).
func NewSubscriptionID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// CheckCallbackURL validates a callback URL: http or https, a host, no
// credentials, and (for a literal address or a loopback name) outside the
// deny-listed ranges (callback_addr.go). Host names are checked against
// deny when the deliverer connects.
func CheckCallbackURL(raw string, deny []netip.Prefix) error {
	if len(raw) > MaxCallbackURLLen {
		return fmt.Errorf("callbackUrl longer than %d bytes", MaxCallbackURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("callbackUrl: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("callbackUrl: scheme %q is not http or https", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("callbackUrl: no host")
	case u.User != nil:
		return errors.New("callbackUrl: credentials in the URL are not allowed")
	case u.Fragment != "":
		return errors.New("callbackUrl: a fragment is not allowed")
	}
	return checkCallbackHost(u.Hostname(), deny)
}

// Validate checks a subscription before it is stored.
func (sub *Subscription) Validate(deny []netip.Prefix) error {
	if _, ok := parseUUID(sub.ID); !ok {
		return fmt.Errorf("subscriptionID %q is not a UUID", sub.ID)
	}
	if len(sub.Secret) < MinSecretLen || len(sub.Secret) > MaxSecretLen {
		return fmt.Errorf("secret must decode to %d to %d bytes, got %d", MinSecretLen, MaxSecretLen, len(sub.Secret))
	}
	if !state.ValidRole(sub.Role) {
		return fmt.Errorf("role %q unknown", sub.Role)
	}
	return CheckCallbackURL(sub.CallbackURL, deny)
}

func subKey(prefix byte, id string) ([]byte, error) {
	u, ok := parseUUID(id)
	if !ok {
		return nil, state.ErrNotFound
	}
	return append([]byte{prefix}, u[:]...), nil
}

func formatUUID(u []byte) string {
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func decodeSub(k, v []byte, sub *Subscription) error {
	if len(k) != 17 {
		return state.ErrCorrupt
	}
	r := state.NewReader(v)
	if r.Byte() != state.ValueV1 {
		return state.ErrCorrupt
	}
	*sub = Subscription{ID: formatUUID(k[1:]), Tenant: r.Str(), Role: r.Str()}
	sub.Scope.Bookings, sub.Scope.TransportDocs, sub.Scope.Parties = r.Strs(), r.Strs(), r.Strs()
	sub.CallbackURL = r.Str()
	sub.Secret = bytes.Clone(r.Bytes())
	sub.Filter = r.Str()
	sub.Created, sub.Updated = r.Varint(), r.Varint()
	if r.Err() == nil && len(r.Rest()) > 0 { // written by a version that records the owner
		sub.KeyID = r.Str()
	}
	return r.Err()
}

// PutSubscription stores a subscription. A new one (create) starts
// delivering with the events logged after now; an update keeps its
// delivery position. A create is refused with ErrSubscriptionLimit when the
// tenant (with this role) has its maximum already.
func (d *DCSA) PutSubscription(sub *Subscription, create bool, deny []netip.Prefix) error {
	if err := sub.Validate(deny); err != nil {
		return err
	}
	k, _ := subKey(state.PrefixSub, sub.ID)
	v := []byte{state.ValueV1}
	v = state.AppendStr(v, sub.Tenant)
	v = state.AppendStr(v, sub.Role)
	v = state.AppendStrs(v, sub.Scope.Bookings)
	v = state.AppendStrs(v, sub.Scope.TransportDocs)
	v = state.AppendStrs(v, sub.Scope.Parties)
	v = state.AppendStr(v, sub.CallbackURL)
	v = state.AppendBytes(v, sub.Secret)
	v = state.AppendStr(v, sub.Filter)
	v = binary.AppendVarint(v, sub.Created)
	v = binary.AppendVarint(v, sub.Updated)
	v = state.AppendStr(v, sub.KeyID)
	d.subs.Lock()
	defer d.subs.Unlock()
	_, closer, err := d.db.Get(k)
	exists := err == nil
	if exists {
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	if create == exists {
		if create {
			return fmt.Errorf("subscription %s exists", sub.ID)
		}
		return state.ErrNotFound
	}
	if create {
		if err := d.checkSubscriptionLimitLocked(sub.Tenant, sub.Role); err != nil {
			return err
		}
	}
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Set(k, v, nil); err != nil {
		return err
	}
	defer d.subs.version.Add(1)
	if create {
		last, _, err := d.lastDCSA()
		if err != nil {
			return err
		}
		sk, _ := subKey(state.PrefixSubState, sub.ID)
		if err := b.Set(sk, appendDeliveryState(nil, &DeliveryState{Next: last + 1}), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (d *DCSA) checkSubscriptionLimitLocked(tenant, role string) error {
	limit := d.maxSubs
	if limit <= 0 {
		limit = DefaultMaxSubscriptions
	}
	n := 0
	err := d.Subscriptions("", func(o *Subscription) bool {
		if o.Tenant == tenant && o.Role == role {
			n++
		}
		return n < limit
	})
	if err == nil && n >= limit {
		err = fmt.Errorf("%w: tenant %q has %d subscriptions, at most %d", ErrSubscriptionLimit, tenant, n, limit)
	}
	return err
}

// SubscriptionOwnerLive reports whether the subscription's owner may still
// have it delivered: its owning key (KeyID) exists with the subscription's
// tenant and role. A subscription without an owning key is live when it
// was made on the open API (no tenant) and the API is open, or (stored by
// an older version) while its tenant has a key of its role. A subscription
// that is not live is paused: it keeps its position and delivers nothing
// until a key of its tenant updates it (which makes that key its owner).
func (d *DCSA) SubscriptionOwnerLive(sub *Subscription, open bool) (bool, error) {
	if sub.KeyID != "" {
		tenant, role, err := d.keys.KeyOwner(d.db, sub.KeyID)
		if errors.Is(err, state.ErrNotFound) {
			return false, nil
		}
		return err == nil && tenant == sub.Tenant && role == sub.Role, err
	}
	if sub.Tenant == "" {
		return open && sub.Role == state.RolePort, nil
	}
	live := false
	err := d.keys.EachKey(d.db, func(tenant, role string, _ *state.Scope) error {
		if tenant == sub.Tenant && role == sub.Role {
			live = true
			return errStopKeys
		}
		return nil
	})
	if errors.Is(err, errStopKeys) {
		err = nil
	}
	return live, err
}

var errStopKeys = errors.New("stop")

// ControlLock is the lock of the control-plane writes of subscriptions and
// API keys (subLock): state/tenant takes it to check a tenant's role
// against its subscriptions and write its key atomically.
func (d *DCSA) ControlLock() sync.Locker { return &d.subs.Mutex }

// SubscriptionRoles calls fn with the tenant and role of every
// subscription, in id order, until fn returns false.
func (d *DCSA) SubscriptionRoles(fn func(tenant, role string) bool) error {
	return d.Subscriptions("", func(sub *Subscription) bool { return fn(sub.Tenant, sub.Role) })
}

// Subscription returns a subscription, or state.ErrNotFound.
func (d *DCSA) Subscription(id string) (Subscription, error) {
	var sub Subscription
	k, err := subKey(state.PrefixSub, id)
	if err != nil {
		return sub, err
	}
	found, err := state.GetValue(d.db, k, func(v []byte) error { return decodeSub(k, v, &sub) })
	if err == nil && !found {
		err = state.ErrNotFound
	}
	return sub, err
}

// Subscriptions calls fn for every subscription in id order, starting
// after the id after ("" from the first).
func (d *DCSA) Subscriptions(after string, fn func(*Subscription) bool) error {
	lower := []byte{state.PrefixSub}
	if after != "" {
		k, err := subKey(state.PrefixSub, after)
		if err != nil {
			return state.ErrBadCursor
		}
		lower = append(k, 0)
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{state.PrefixSub + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var sub Subscription
	for ok := it.First(); ok; ok = it.Next() {
		if err := decodeSub(it.Key(), it.Value(), &sub); err != nil {
			return fmt.Errorf("state: subscription %x: %w", it.Key(), err)
		}
		if !fn(&sub) {
			break
		}
	}
	return it.Error()
}

// subExistsLocked returns state.ErrNotFound unless the subscription record
// k is stored. d.subs is held, so it stays stored until the caller's write.
func (d *DCSA) subExistsLocked(k []byte) error {
	_, closer, err := d.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return state.ErrNotFound
	}
	if err != nil {
		return err
	}
	return closer.Close()
}

// DeleteSubscription deletes a subscription with its delivery state, dead
// letters and delivery log.
func (d *DCSA) DeleteSubscription(id string) error {
	k, err := subKey(state.PrefixSub, id)
	if err != nil {
		return err
	}
	d.subs.Lock()
	defer d.subs.Unlock()
	if err := d.subExistsLocked(k); err != nil {
		return err
	}
	b := d.db.NewBatch()
	defer b.Close()
	for _, p := range []byte{state.PrefixSub, state.PrefixSubState, state.PrefixSubDead, state.PrefixSubLog, state.PrefixSubReplay} {
		lo := append([]byte{p}, k[1:]...)
		hi := append(bytes.Clone(lo), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		if err := b.DeleteRange(lo, hi, nil); err != nil {
			return err
		}
		if err := b.Delete(lo, nil); err != nil {
			return err
		}
	}
	defer d.subs.version.Add(1)
	return b.Commit(pebble.Sync)
}

// DeliveryState is where a subscription's delivery stands.
type DeliveryState struct {
	Next     uint64 // next log sequence number to deliver
	Failures int    // failed attempts of the batch starting at Next
	RetryAt  int64  // Unix ns before which the batch is not retried
	Attempts uint64 // attempts so far (numbers the delivery log)
}

func appendDeliveryState(dst []byte, st *DeliveryState) []byte {
	dst = append(dst, state.ValueV1)
	dst = binary.AppendUvarint(dst, st.Next)
	dst = binary.AppendUvarint(dst, uint64(st.Failures))
	dst = binary.AppendVarint(dst, st.RetryAt)
	return binary.AppendUvarint(dst, st.Attempts)
}

// DeliveryStateOf returns a subscription's delivery state, or state.ErrNotFound.
func (d *DCSA) DeliveryStateOf(id string) (DeliveryState, error) {
	var st DeliveryState
	k, err := subKey(state.PrefixSubState, id)
	if err != nil {
		return st, err
	}
	found, err := state.GetValue(d.db, k, func(v []byte) error {
		r := state.NewReader(v)
		if r.Byte() != state.ValueV1 {
			return state.ErrCorrupt
		}
		st.Next, st.Failures, st.RetryAt, st.Attempts = r.Uvarint(), int(r.Uvarint()), r.Varint(), r.Uvarint()
		return r.Err()
	})
	if err == nil && !found {
		err = state.ErrNotFound
	}
	return st, err
}

// DeliveryRecord is one delivery attempt in a subscription's log.
type DeliveryRecord struct {
	Attempt  uint64 // number of the attempt, from 1
	At       int64  // Unix ns
	From, To uint64 // log sequence numbers of the batch
	Events   int
	Status   int    // HTTP status, 0 when no answer
	Error    string // "" on success
	Nanos    int64  // duration
	Dead     bool   // the batch moved to the dead letters after this attempt
}

// DeadLetter is a batch given up after too many failed attempts.
type DeadLetter struct {
	From, To  uint64 // log sequence numbers
	Events    int
	Attempts  int
	LastError string
	At        int64
}

// RecordDelivery stores the outcome of one attempt: the new delivery state,
// the log record (the log keeps the newest maxDeliveryLog) and, when the
// batch was given up, its dead letter. It returns state.ErrNotFound when the
// subscription was deleted meanwhile.
func (d *DCSA) RecordDelivery(id string, st *DeliveryState, rec *DeliveryRecord, dead *DeadLetter) error {
	k, err := subKey(state.PrefixSub, id)
	if err != nil {
		return err
	}
	d.subs.Lock()
	defer d.subs.Unlock()
	if err := d.subExistsLocked(k); err != nil {
		return err
	}
	u := k[1:]
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Set(append([]byte{state.PrefixSubState}, u...), appendDeliveryState(nil, st), nil); err != nil {
		return err
	}
	if rec != nil {
		lk := binary.BigEndian.AppendUint64(append([]byte{state.PrefixSubLog}, u...), rec.Attempt)
		v := []byte{state.ValueV1}
		v = binary.AppendVarint(v, rec.At)
		v = binary.AppendUvarint(v, rec.From)
		v = binary.AppendUvarint(v, rec.To)
		v = binary.AppendUvarint(v, uint64(rec.Events))
		v = binary.AppendUvarint(v, uint64(rec.Status))
		v = state.AppendStr(v, rec.Error)
		v = binary.AppendVarint(v, rec.Nanos)
		dead := byte(0)
		if rec.Dead {
			dead = 1
		}
		v = append(v, dead)
		if err := b.Set(lk, v, nil); err != nil {
			return err
		}
		if rec.Attempt > maxDeliveryLog {
			old := binary.BigEndian.AppendUint64(append([]byte{state.PrefixSubLog}, u...), rec.Attempt-maxDeliveryLog)
			if err := b.Delete(old, nil); err != nil {
				return err
			}
		}
	}
	if dead != nil {
		dk := binary.BigEndian.AppendUint64(append([]byte{state.PrefixSubDead}, u...), dead.From)
		v := []byte{state.ValueV1}
		v = binary.AppendUvarint(v, dead.To)
		v = binary.AppendUvarint(v, uint64(dead.Events))
		v = binary.AppendUvarint(v, uint64(dead.Attempts))
		v = state.AppendStr(v, dead.LastError)
		v = binary.AppendVarint(v, dead.At)
		if err := b.Set(dk, v, nil); err != nil {
			return err
		}
	}
	return b.Commit(d.writeO)
}

func scanSub(d *DCSA, prefix byte, id string, newestFirst bool, fn func(k, v []byte) (bool, error)) error {
	k, err := subKey(prefix, id)
	if err != nil {
		return err
	}
	it, err := d.db.NewIter(&pebble.IterOptions{LowerBound: k, UpperBound: append(bytes.Clone(k), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)})
	if err != nil {
		return err
	}
	defer it.Close()
	ok, step := it.First(), it.Next
	if newestFirst {
		ok, step = it.Last(), it.Prev
	}
	for ; ok; ok = step() {
		if len(it.Key()) != 25 {
			return state.ErrCorrupt
		}
		more, err := fn(it.Key()[17:], it.Value())
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// DeliveryLog calls fn with the subscription's delivery records, newest
// first.
func (d *DCSA) DeliveryLog(id string, fn func(*DeliveryRecord) bool) error {
	return scanSub(d, state.PrefixSubLog, id, true, func(k, v []byte) (bool, error) {
		r := state.NewReader(v)
		if r.Byte() != state.ValueV1 {
			return false, state.ErrCorrupt
		}
		rec := DeliveryRecord{Attempt: binary.BigEndian.Uint64(k), At: r.Varint(), From: r.Uvarint(), To: r.Uvarint(),
			Events: int(r.Uvarint()), Status: int(r.Uvarint()), Error: r.Str(), Nanos: r.Varint(), Dead: r.Byte() == 1}
		if r.Err() != nil {
			return false, r.Err()
		}
		return fn(&rec), nil
	})
}

// DeadLetters calls fn with the subscription's dead letters, oldest first.
func (d *DCSA) DeadLetters(id string, fn func(*DeadLetter) bool) error {
	return scanSub(d, state.PrefixSubDead, id, false, func(k, v []byte) (bool, error) {
		r := state.NewReader(v)
		if r.Byte() != state.ValueV1 {
			return false, state.ErrCorrupt
		}
		d := DeadLetter{From: binary.BigEndian.Uint64(k), To: r.Uvarint(), Events: int(r.Uvarint()), Attempts: int(r.Uvarint()),
			LastError: r.Str(), At: r.Varint()}
		if r.Err() != nil {
			return false, r.Err()
		}
		return fn(&d), nil
	})
}

// RequestRedelivery asks the deliverer to deliver again every event
// created at or after since (Unix ns) to the subscription; it returns the
// first log sequence number that will be sent again.
func (d *DCSA) RequestRedelivery(id string, since int64) (uint64, error) {
	k, err := subKey(state.PrefixSubReplay, id)
	if err != nil {
		return 0, err
	}
	seq, err := d.SeqAt(since)
	if err != nil {
		return 0, err
	}
	d.subs.Lock()
	defer d.subs.Unlock()
	if _, err := d.Subscription(id); err != nil {
		return 0, err
	}
	defer d.subs.version.Add(1)
	return seq, d.db.Set(k, binary.BigEndian.AppendUint64(nil, seq), pebble.Sync)
}

// TakeRedelivery applies a pending redelivery request to the delivery
// state (the deliverer calls it before each batch): the state restarts at
// the requested position. ok is false when there was none.
func (d *DCSA) TakeRedelivery(id string, st *DeliveryState) (bool, error) {
	k, err := subKey(state.PrefixSubReplay, id)
	if err != nil {
		return false, err
	}
	d.subs.Lock()
	defer d.subs.Unlock()
	v, closer, err := d.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(v) != 8 {
		closer.Close()
		return false, state.ErrCorrupt
	}
	st.Next, st.Failures, st.RetryAt = binary.BigEndian.Uint64(v), 0, 0
	closer.Close()
	b := d.db.NewBatch()
	defer b.Close()
	if err := b.Delete(k, nil); err != nil {
		return false, err
	}
	if err := b.Set(append([]byte{state.PrefixSubState}, k[1:]...), appendDeliveryState(nil, st), nil); err != nil {
		return false, err
	}
	return true, b.Commit(pebble.Sync)
}

// SubscriptionVisible reports whether the subscription's owner may see
// the event: the same rule as the query API (TRANSPORT events always;
// others for port and customs, or when linked to a logistics owner's
// scope).
func SubscriptionVisible(sub *Subscription, e *state.DCSAEvent, links func(string) ([]state.Ref, error)) (bool, error) {
	if sub.Role != state.RoleLogistics || e.Type == state.DCSATransport {
		return true, nil
	}
	for _, r := range e.Refs {
		if sub.Scope.Has(r) {
			return true, nil
		}
	}
	if e.Equipment == "" {
		return false, nil
	}
	l, err := links(e.Equipment)
	if err != nil {
		return false, err
	}
	for _, r := range l {
		if sub.Scope.Has(r) {
			return true, nil
		}
	}
	return false, nil
}
