package customs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/porttrack/porttrack/state"
)

// Order index kinds (0x55).
const (
	orderIdxResult = 'r'
	orderIdxStatus = 's'
	orderIdxReason = 'c'
)

const maxOrderHistory = 200

// jsTime is a Unix-ns time that reads and writes as RFC 3339 in JSON.
type jsTime int64

func (t jsTime) MarshalJSON() ([]byte, error) {
	if t == 0 {
		return []byte(`""`), nil
	}
	return []byte(`"` + time.Unix(0, int64(t)).UTC().Format(time.RFC3339Nano) + `"`), nil
}

func (t *jsTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*t = 0
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = jsTime(v.UnixNano())
	return nil
}

// DocVersion is the stored latest version of one document of an order.
type DocVersion[T any] struct {
	ID     string `json:"id"`
	Time   jsTime `json:"time"`
	Signed bool   `json:"signed,omitempty"`
	// Verified is true when the XML-DSig signature was checked against a
	// trusted certificate.
	Verified bool `json:"signature_verified,omitempty"`
	Doc      *T   `json:"doc"`
}

// OrderDocs are an order's four documents (nil: not received).
type OrderDocs struct {
	Order     *DocVersion[state.Order]     `json:"order"`
	Payment   *DocVersion[state.Payment]   `json:"payment"`
	Waybill   *DocVersion[state.Logistics] `json:"waybill"`
	Inventory *DocVersion[state.Inventory] `json:"inventory"`
}

// OrderHistoryEntry is one change of an order.
type OrderHistoryEntry struct {
	At     jsTime `json:"at"`             // ingest time
	Type   string `json:"type,omitempty"` // document type, or "match"/"receipt"
	ID     string `json:"id,omitempty"`
	Time   jsTime `json:"time"` // message time
	Change string `json:"change"`
}

// OrderRecord is the order aggregate: its documents, the match result, the
// parcel's customs status from CEB622 receipts and its history. It is stored
// as JSON and served as it is by GET /v1/orders/{ebpCode}/{orderNo}.
type OrderRecord struct {
	EBPCode string `json:"ebpCode"`
	OrderNo string `json:"orderNo"`
	// Result is pending (documents missing, still waiting), matched,
	// mismatched or incomplete (the wait ran out).
	Result       string              `json:"result"`
	Reasons      []MatchReason       `json:"reasons"`
	Missing      []string            `json:"missing"`
	ResultTime   jsTime              `json:"result_time"`
	Status       string              `json:"status"` // parcel customs state ("none" before any receipt)
	ReturnStatus string              `json:"returnStatus,omitempty"`
	ReturnInfo   string              `json:"returnInfo,omitempty"`
	ReturnTime   jsTime              `json:"returnTime,omitempty"`
	InvtNo       string              `json:"invtNo,omitempty"`
	CopNo        string              `json:"copNo,omitempty"`
	TradeMode    string              `json:"tradeMode,omitempty"`
	AreaCode     string              `json:"areaCode,omitempty"`
	Documents    OrderDocs           `json:"documents"`
	FirstSeen    jsTime              `json:"first_seen"`
	Deadline     jsTime              `json:"incomplete_at,omitempty"`
	Revision     int                 `json:"revision"` // results published so far
	Updated      jsTime              `json:"updated_at"`
	History      []OrderHistoryEntry `json:"history"`

	historyOnly bool // the last document only entered the history
}

// OrderSummary is an order in list answers.
type OrderSummary struct {
	EBPCode    string   `json:"ebpCode"`
	OrderNo    string   `json:"orderNo"`
	Result     string   `json:"result"`
	Reasons    []string `json:"reasons"`
	Missing    []string `json:"missing"`
	Status     string   `json:"status"`
	InvtNo     string   `json:"invtNo,omitempty"`
	ResultTime jsTime   `json:"result_time"`
	Updated    jsTime   `json:"updated_at"`
}

// ReceiptRecord is the customs state of one inventory (by ebpCode+copNo),
// folded from its CEB622 receipts.
type ReceiptRecord struct {
	Status       string `json:"status"`
	ReturnStatus string `json:"returnStatus"`
	ReturnInfo   string `json:"returnInfo,omitempty"`
	InvtNo       string `json:"invtNo,omitempty"`
	Time         jsTime `json:"time"`
	ID           string `json:"id"`
	// Seen are the ids of receipts applied or ignored (dedupe).
	Seen []string `json:"seen"`
}

// ThreeDocResult is the three_doc_match record of porttrack.customs-results.
type ThreeDocResult struct {
	ID      string        `json:"id"`
	Kind    string        `json:"kind"`
	EBPCode string        `json:"ebpCode"`
	OrderNo string        `json:"orderNo"`
	Result  string        `json:"result"`
	Reasons []MatchReason `json:"reasons"`
	Missing []string      `json:"missing"`
	Time    jsTime        `json:"time"`
}

// InventoryStatusResult is the inventory_status record of
// porttrack.customs-results.
type InventoryStatusResult struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	EBPCode      string `json:"ebpCode"`
	OrderNo      string `json:"orderNo"`
	InvtNo       string `json:"invtNo"`
	ReturnStatus string `json:"returnStatus"`
	Status       string `json:"status"`
	Time         jsTime `json:"time"`
}

// customsWork is the customs part of one transaction: reads see the writes
// of the same transaction through an overlay, flushed into it at the end.
type customsWork struct {
	c       *Customs
	tx      *state.Tx
	cfg     state.CustomsConfig
	now     int64
	pending map[string][]byte // key -> value; nil: deleted
	orders  map[string]*orderWork
	order   []string // order keys in first-touch order (deterministic output)
	msgs    []state.Message
}

type orderWork struct {
	rec     *OrderRecord
	oldIdx  [][]byte
	isNew   bool
	touched bool
}

func (w *customsWork) get(key []byte) ([]byte, error) {
	if v, ok := w.pending[string(key)]; ok {
		return v, nil
	}
	v, closer, err := w.tx.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func (w *customsWork) set(key, val []byte) { w.pending[string(key)] = val }
func (w *customsWork) del(key []byte)      { w.pending[string(key)] = nil }

func pairKey(prefix byte, a, b string) []byte {
	k := make([]byte, 0, 2+len(a)+len(b))
	k = append(k, prefix)
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

func versioned(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{0x01}, b...), nil
}

func unversioned(v []byte, dst any) error {
	if len(v) == 0 || v[0] != 0x01 {
		return fmt.Errorf("customs value version: %w", state.ErrCorrupt)
	}
	return json.Unmarshal(v[1:], dst)
}

// work returns the customs work of one transaction.
func (c *Customs) work(tx *state.Tx) *customsWork {
	return &customsWork{c: c, tx: tx, cfg: c.cfg, now: tx.Now(), pending: map[string][]byte{}, orders: map[string]*orderWork{}}
}

// apply folds a batch's customs documents into state and, for a batch
// holding any, checks incomplete-order deadlines, writing into tx and the
// outbox. The customs stage's Apply.
func (c *Customs) apply(tx *state.Tx) error {
	docs := tx.Input().Customs
	if len(docs) == 0 {
		// Batches of other topics leave customs alone; the tick (Expire)
		// reports due orders while customs is quiet.
		return nil
	}
	for i := range docs {
		if err := docs[i].Validate(); err != nil {
			return fmt.Errorf("state: customs document %d of batch: %w", i, err)
		}
	}
	w := c.work(tx)
	for i := range docs {
		if err := w.apply(&docs[i]); err != nil {
			return err
		}
	}
	if err := w.expire(tx.Now()); err != nil {
		return err
	}
	n, err := w.flush()
	tx.Result().Events += n
	return err
}

func (w *customsWork) apply(d *state.CustomsDoc) error {
	switch {
	case d.Order != nil:
		return w.orderDoc(d, d.Order.EBPCode, d.Order.OrderNo)
	case d.Payment != nil:
		return w.orderDoc(d, d.Payment.EBPCode, d.Payment.OrderNo)
	case d.Inventory != nil:
		return w.orderDoc(d, d.Inventory.EBPCode, d.Inventory.OrderNo)
	case d.Waybill != nil:
		return w.waybill(d)
	case d.Receipt != nil:
		return w.receipt(d)
	default:
		return w.box(d)
	}
}

// loadOrder returns the order's work item, creating the record when create.
func (w *customsWork) loadOrder(ebp, orderNo string, create bool) (*orderWork, error) {
	k := string(pairKey(state.PrefixOrder, ebp, orderNo))
	if ow, ok := w.orders[k]; ok {
		return ow, nil
	}
	v, err := w.get([]byte(k))
	if err != nil {
		return nil, err
	}
	ow := &orderWork{}
	if v == nil {
		if !create {
			return nil, nil
		}
		ow.isNew = true
		ow.rec = &OrderRecord{EBPCode: ebp, OrderNo: orderNo, Result: "pending", Status: "none",
			FirstSeen: jsTime(w.now), Deadline: jsTime(w.now + w.cfg.IncompleteAfter)}
		w.set(deadlineKey(int64(ow.rec.Deadline), ebp, orderNo), []byte{})
	} else {
		ow.rec = &OrderRecord{}
		if err := unversioned(v, ow.rec); err != nil {
			return nil, fmt.Errorf("state: order %s/%s: %w", ebp, orderNo, err)
		}
		ow.oldIdx = orderIndexKeys(ow.rec)
	}
	w.orders[k] = ow
	w.order = append(w.order, k)
	return ow, nil
}

func deadlineKey(t int64, ebp, orderNo string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{state.PrefixDeadline}, state.SortableTime(t))
	k = append(k, ebp...)
	k = append(k, 0)
	return append(k, orderNo...)
}

func (r *OrderRecord) addHistory(e OrderHistoryEntry) {
	r.History = append(r.History, e)
	if n := len(r.History) - maxOrderHistory; n > 0 {
		r.History = slices.Delete(r.History, 0, n)
	}
}

// supersedes reports whether a document (t, id) replaces the stored one:
// the latest by message time wins, ties broken by id.
func supersedes(t int64, id string, curT jsTime, curID string) bool {
	if t != int64(curT) {
		return t > int64(curT)
	}
	return id > curID
}

// slot applies d to one document slot and returns whether it changed it.
func slot[T any](w *customsWork, rec *OrderRecord, cur **DocVersion[T], d *state.CustomsDoc, doc *T) bool {
	h := OrderHistoryEntry{At: jsTime(w.now), Type: string(d.Type), ID: d.ID, Time: jsTime(d.Time)}
	switch {
	case *cur != nil && (*cur).ID == d.ID:
		return false // duplicate
	case *cur != nil && !supersedes(d.Time, d.ID, (*cur).Time, (*cur).ID):
		h.Change = "older_ignored"
		rec.addHistory(h)
		rec.historyOnly = true
		return false
	case *cur != nil:
		h.Change = "replaced"
	default:
		h.Change = "received"
	}
	*cur = &DocVersion[T]{ID: d.ID, Time: jsTime(d.Time), Signed: d.Signed, Verified: d.SignatureVerified, Doc: doc}
	rec.addHistory(h)
	return true
}

func (w *customsWork) orderDoc(d *state.CustomsDoc, ebp, orderNo string) error {
	ow, err := w.loadOrder(ebp, orderNo, true)
	if err != nil {
		return err
	}
	rec := ow.rec
	var changed bool
	switch {
	case d.Order != nil:
		changed = slot(w, rec, &rec.Documents.Order, d, d.Order)
	case d.Payment != nil:
		changed = slot(w, rec, &rec.Documents.Payment, d, d.Payment)
	case d.Inventory != nil:
		old := rec.Documents.Inventory
		changed = slot(w, rec, &rec.Documents.Inventory, d, d.Inventory)
		if changed {
			inv := d.Inventory
			if old != nil && (old.Doc.LogisticsCode != inv.LogisticsCode || old.Doc.LogisticsNo != inv.LogisticsNo) {
				w.del(pairKey(state.PrefixLogiLink, old.Doc.LogisticsCode, old.Doc.LogisticsNo))
				rec.Documents.Waybill = nil
			}
			w.set(pairKey(state.PrefixLogiLink, inv.LogisticsCode, inv.LogisticsNo), pairKey(0, ebp, orderNo)[1:])
			w.set(pairKey(state.PrefixCopLink, ebp, inv.CopNo), []byte(orderNo))
			rec.CopNo, rec.TradeMode, rec.AreaCode = inv.CopNo, inv.TradeMode, inv.AreaCode
			if inv.InvtNo != "" {
				rec.InvtNo = inv.InvtNo
			}
			// A receipt that arrived before its inventory.
			rr, err := w.loadReceipt(ebp, inv.CopNo)
			if err != nil {
				return err
			}
			if rr != nil {
				w.setOrderStatus(rec, rr)
			}
		}
	}
	ow.touched = ow.touched || changed || rec.historyOnly
	rec.historyOnly = false
	if changed {
		return w.evaluate(ow)
	}
	return nil
}

func (w *customsWork) waybill(d *state.CustomsDoc) error {
	wb := d.Waybill
	key := pairKey(state.PrefixLogistics, wb.LogisticsCode, wb.LogisticsNo)
	v, err := w.get(key)
	if err != nil {
		return err
	}
	if v != nil {
		var cur DocVersion[state.Logistics]
		if err := unversioned(v, &cur); err != nil {
			return fmt.Errorf("state: waybill %s/%s: %w", wb.LogisticsCode, wb.LogisticsNo, err)
		}
		if cur.ID == d.ID || !supersedes(d.Time, d.ID, cur.Time, cur.ID) {
			return nil
		}
	}
	nv, err := versioned(&DocVersion[state.Logistics]{ID: d.ID, Time: jsTime(d.Time), Signed: d.Signed, Verified: d.SignatureVerified, Doc: wb})
	if err != nil {
		return err
	}
	w.set(key, nv)
	link, err := w.get(pairKey(state.PrefixLogiLink, wb.LogisticsCode, wb.LogisticsNo))
	if err != nil || link == nil {
		return err
	}
	ebp, orderNo, _ := bytes.Cut(link, []byte{0})
	ow, err := w.loadOrder(string(ebp), string(orderNo), false)
	if err != nil || ow == nil {
		return err
	}
	ow.rec.addHistory(OrderHistoryEntry{At: jsTime(w.now), Type: string(d.Type), ID: d.ID, Time: jsTime(d.Time), Change: "received"})
	ow.touched = true
	return w.evaluate(ow)
}

func (w *customsWork) loadReceipt(ebp, copNo string) (*ReceiptRecord, error) {
	v, err := w.get(pairKey(state.PrefixReceipt, ebp, copNo))
	if err != nil || v == nil {
		return nil, err
	}
	rr := &ReceiptRecord{}
	if err := unversioned(v, rr); err != nil {
		return nil, fmt.Errorf("state: receipt %s/%s: %w", ebp, copNo, err)
	}
	return rr, nil
}

// ReceiptSupersedes decides whether a CEB622 receipt with state next at
// time t (id) replaces the current receipt state cur (nil: none). Receipts
// are ordered by returnTime; a released parcel only moves on to closed, and
// a closed one never changes (DOMAIN.md §7.2).
func ReceiptSupersedes(cur *ReceiptRecord, next string, t int64, id string) bool {
	if cur == nil {
		return true
	}
	if !supersedes(t, id, cur.Time, cur.ID) {
		return false
	}
	switch cur.Status {
	case "closed":
		return false
	case "released":
		return next == "closed"
	}
	return true
}

func (w *customsWork) receipt(d *state.CustomsDoc) error {
	r := d.Receipt
	st, _ := state.ReceiptState(r.ReturnStatus)
	rr, err := w.loadReceipt(r.EBPCode, r.CopNo)
	if err != nil {
		return err
	}
	if rr != nil && slices.Contains(rr.Seen, d.ID) {
		return nil
	}
	if !ReceiptSupersedes(rr, st, d.Time, d.ID) {
		rr.Seen = append(rr.Seen, d.ID)
		return w.putReceipt(r.EBPCode, r.CopNo, rr)
	}
	if rr == nil {
		rr = &ReceiptRecord{}
	}
	unchanged := rr.ID != "" && rr.ReturnStatus == r.ReturnStatus && rr.ReturnInfo == r.ReturnInfo && (r.InvtNo == "" || r.InvtNo == rr.InvtNo)
	rr.Status, rr.ReturnStatus, rr.ReturnInfo, rr.Time, rr.ID = st, r.ReturnStatus, r.ReturnInfo, jsTime(d.Time), d.ID
	if r.InvtNo != "" {
		rr.InvtNo = r.InvtNo
	}
	rr.Seen = append(rr.Seen, d.ID)
	if err := w.putReceipt(r.EBPCode, r.CopNo, rr); err != nil {
		return err
	}
	orderNo, err := w.get(pairKey(state.PrefixCopLink, r.EBPCode, r.CopNo))
	if err != nil {
		return err
	}
	if orderNo != nil {
		ow, err := w.loadOrder(r.EBPCode, string(orderNo), false)
		if err != nil {
			return err
		}
		if ow != nil {
			ow.rec.addHistory(OrderHistoryEntry{At: jsTime(w.now), Type: string(d.Type), ID: d.ID, Time: jsTime(d.Time), Change: "status " + st})
			w.setOrderStatus(ow.rec, rr)
			ow.touched = true
		}
	}
	if unchanged {
		return nil // a newer receipt repeating the status: no change to publish
	}
	return w.emit(r.EBPCode, string(orderNo), &InventoryStatusResult{
		ID: "invt-" + shortHash(r.EBPCode, r.CopNo, d.ID), Kind: "inventory_status", EBPCode: r.EBPCode, OrderNo: string(orderNo),
		InvtNo: rr.InvtNo, ReturnStatus: rr.ReturnStatus, Status: rr.Status, Time: rr.Time,
	})
}

const maxReceiptSeen = 64

func (w *customsWork) putReceipt(ebp, copNo string, rr *ReceiptRecord) error {
	if n := len(rr.Seen) - maxReceiptSeen; n > 0 {
		rr.Seen = slices.Delete(rr.Seen, 0, n)
	}
	v, err := versioned(rr)
	if err != nil {
		return err
	}
	w.set(pairKey(state.PrefixReceipt, ebp, copNo), v)
	return nil
}

func (w *customsWork) setOrderStatus(rec *OrderRecord, rr *ReceiptRecord) {
	rec.Status, rec.ReturnStatus, rec.ReturnInfo, rec.ReturnTime = rr.Status, rr.ReturnStatus, rr.ReturnInfo, rr.Time
	if rr.InvtNo != "" {
		rec.InvtNo = rr.InvtNo
	}
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// evaluate recomputes the match of an order and publishes a
// three_doc_match record when its outcome changed.
func (w *customsWork) evaluate(ow *orderWork) error {
	rec := ow.rec
	docs := &rec.Documents
	if inv := docs.Inventory; inv != nil {
		v, err := w.get(pairKey(state.PrefixLogistics, inv.Doc.LogisticsCode, inv.Doc.LogisticsNo))
		if err != nil {
			return err
		}
		if v != nil {
			wb := &DocVersion[state.Logistics]{}
			if err := unversioned(v, wb); err != nil {
				return fmt.Errorf("state: waybill of %s/%s: %w", rec.EBPCode, rec.OrderNo, err)
			}
			docs.Waybill = wb
		}
	}
	missing := []string{}
	var latest int64
	for _, d := range []struct {
		name string
		ok   bool
		t    jsTime
	}{
		{"order", docs.Order != nil, ptrTime(docs.Order)},
		{"payment", docs.Payment != nil, ptrTime(docs.Payment)},
		{"waybill", docs.Waybill != nil, ptrTime(docs.Waybill)},
		{"inventory", docs.Inventory != nil, ptrTime(docs.Inventory)},
	} {
		if !d.ok {
			missing = append(missing, d.name)
		}
		latest = max(latest, int64(d.t))
	}
	reasons := []MatchReason{}
	result := "pending"
	when := latest
	switch {
	case len(missing) == 0:
		if r := Match(w.cfg, docs.Order.Doc, docs.Payment.Doc, docs.Waybill.Doc, docs.Inventory.Doc); r != nil {
			reasons = r
		}
		result = "matched"
		if len(reasons) > 0 {
			result = "mismatched"
		}
		if rec.Deadline != 0 {
			w.del(deadlineKey(int64(rec.Deadline), rec.EBPCode, rec.OrderNo))
			rec.Deadline = 0
		}
	case rec.Result == "incomplete" || (rec.Deadline != 0 && int64(rec.Deadline) <= w.now):
		result = "incomplete"
		if rec.Deadline != 0 {
			when = int64(rec.Deadline)
			w.del(deadlineKey(int64(rec.Deadline), rec.EBPCode, rec.OrderNo))
			rec.Deadline = 0
		} else {
			when = max(int64(rec.ResultTime), latest)
		}
	}
	ow.touched = true
	same := result == rec.Result && slices.Equal(missing, rec.Missing) && reasonsEqual(reasons, rec.Reasons)
	rec.Missing, rec.Reasons = missing, reasons
	if same {
		return nil
	}
	rec.Result = result
	if result == "pending" {
		return nil
	}
	rec.Revision++
	rec.ResultTime = jsTime(when)
	rec.addHistory(OrderHistoryEntry{At: jsTime(w.now), Type: "match", Time: jsTime(when), Change: result})
	return w.emit(rec.EBPCode, rec.OrderNo, &ThreeDocResult{
		ID:   "tdm-" + shortHash(rec.EBPCode, rec.OrderNo, fmt.Sprint(rec.Revision)),
		Kind: "three_doc_match", EBPCode: rec.EBPCode, OrderNo: rec.OrderNo,
		Result: result, Reasons: reasons, Missing: missing, Time: jsTime(when),
	})
}

func ptrTime[T any](d *DocVersion[T]) jsTime {
	if d == nil {
		return 0
	}
	return d.Time
}

func reasonsEqual(a, b []MatchReason) bool {
	return slices.EqualFunc(a, b, func(x, y MatchReason) bool {
		return x.Code == y.Code && x.Message == y.Message && slices.Equal(x.Fields, y.Fields)
	})
}

// ResultHeaderID is the header carrying a result's id (dedupe on it).
const ResultHeaderID = "porttrack-id"

func (w *customsWork) emit(ebp, orderNo string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var id string
	switch r := v.(type) {
	case *ThreeDocResult:
		id = r.ID
	case *InventoryStatusResult:
		id = r.ID
	}
	key := orderNo
	if key == "" {
		key = ebp
	}
	w.msgs = append(w.msgs, state.Message{Topic: w.cfg.ResultTopic, Key: []byte(key), Value: b,
		Headers: []state.Header{{Key: ResultHeaderID, Value: []byte(id)}}})
	return nil
}

// expire turns orders whose deadline passed into incomplete results.
func (w *customsWork) expire(now int64) error {
	upper := binary.BigEndian.AppendUint64([]byte{state.PrefixDeadline}, state.SortableTime(now+1))
	it, err := w.tx.NewIter(&pebble.IterOptions{LowerBound: []byte{state.PrefixDeadline}, UpperBound: upper})
	if err != nil {
		return err
	}
	var due [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		due = append(due, bytes.Clone(it.Key()))
	}
	// Deadlines set by this batch (new orders) are not in Pebble yet; they
	// lie in the future unless IncompleteAfter is zero-ish, so the next
	// batch or tick finds them.
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	for _, k := range due {
		if v, ok := w.pending[string(k)]; ok && v == nil {
			continue // deleted by this batch
		}
		ebp, orderNo, _ := bytes.Cut(k[9:], []byte{0})
		ow, err := w.loadOrder(string(ebp), string(orderNo), false)
		if err != nil {
			return err
		}
		if ow == nil || int64(ow.rec.Deadline) != state.UnsortTime(binary.BigEndian.Uint64(k[1:9])) {
			w.del(k)
			continue
		}
		if err := w.evaluate(ow); err != nil {
			return err
		}
	}
	return nil
}

// orderIndexKeys lists the list-index keys of an order.
func orderIndexKeys(r *OrderRecord) [][]byte {
	suffix := pairKey(0, r.EBPCode, r.OrderNo)[1:]
	mk := func(kind byte, val string) []byte {
		k := []byte{state.PrefixOrderIdx, kind}
		k = append(k, val...)
		k = append(k, 0)
		return append(k, suffix...)
	}
	keys := [][]byte{mk(orderIdxResult, r.Result), mk(orderIdxStatus, r.Status)}
	seen := map[string]bool{}
	for _, rs := range r.Reasons {
		if !seen[rs.Code] {
			seen[rs.Code] = true
			keys = append(keys, mk(orderIdxReason, rs.Code))
		}
	}
	return keys
}

// flush writes the touched orders with their indexes, the overlay and the
// outbox messages into the transaction; it returns the number of messages.
func (w *customsWork) flush() (int, error) {
	for _, k := range w.order {
		ow := w.orders[k]
		if !ow.touched && !ow.isNew {
			continue
		}
		rec := ow.rec
		rec.Updated = jsTime(w.now)
		v, err := versioned(rec)
		if err != nil {
			return 0, err
		}
		w.set([]byte(k), v)
		sum := OrderSummary{EBPCode: rec.EBPCode, OrderNo: rec.OrderNo, Result: rec.Result, Reasons: []string{}, Missing: rec.Missing,
			Status: rec.Status, InvtNo: rec.InvtNo, ResultTime: rec.ResultTime, Updated: rec.Updated}
		for _, r := range rec.Reasons {
			sum.Reasons = append(sum.Reasons, r.Code)
		}
		if sum.Missing == nil {
			sum.Missing = []string{}
		}
		sv, err := json.Marshal(&sum)
		if err != nil {
			return 0, err
		}
		newIdx := orderIndexKeys(rec)
		for _, old := range ow.oldIdx {
			if !slices.ContainsFunc(newIdx, func(n []byte) bool { return bytes.Equal(n, old) }) {
				w.del(old)
			}
		}
		for _, n := range newIdx {
			w.set(n, sv)
		}
	}
	keys := make([]string, 0, len(w.pending))
	for k := range w.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var err error
		if v := w.pending[k]; v == nil {
			err = w.tx.Delete([]byte(k))
		} else {
			err = w.tx.Set([]byte(k), v)
		}
		if err != nil {
			return 0, err
		}
	}
	for i := range w.msgs {
		if err := w.tx.Outbox(&w.msgs[i]); err != nil {
			return 0, err
		}
	}
	return len(w.msgs), nil
}
