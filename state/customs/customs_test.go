package customs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/porttrack/porttrack/state"
)

// A matching set of documents (the testdata of ingest/customs).
func goodOrder() *state.Order {
	return &state.Order{OrderNo: "NB1", EBPCode: "EBP", GoodsValue: 298, Freight: 10, TaxTotal: 28.03, ActuralPaid: 336.03,
		BuyerName: "张三", BuyerIDNumber: "330203199001011234", PayCode: "PAY", PayTransactionID: "TX1",
		Consignee: "张三", ConsigneeAddress: "宁波市鄞州区天童南路1号",
		Items: []state.OrderItem{{GNum: 1, ItemNo: "SKU-1", Qty: 2, Price: 149, TotalPrice: 298}, {GNum: 2, ItemNo: "SKU-2", Qty: 1, Price: 0}}}
}
func goodPayment() *state.Payment {
	return &state.Payment{PayCode: "PAY", PayTransactionID: "TX1", OrderNo: "NB1", EBPCode: "EBP", PayerName: "张三", PayerIDNumber: "330203199001011234", AmountPaid: 336.03}
}
func goodWaybill() *state.Logistics {
	return &state.Logistics{LogisticsCode: "LOG", LogisticsNo: "YT1", OrderNo: "NB1", Freight: 10, Weight: 1.8, Consignee: "张三", ConsigneeAddress: "宁波市鄞州区天童南路1号"}
}
func goodInventory() *state.Inventory {
	return &state.Inventory{OrderNo: "NB1", EBPCode: "EBP", LogisticsCode: "LOG", LogisticsNo: "YT1", CopNo: "COP1", BuyerName: "张三",
		BuyerIDNumber: "330203199001011234", Freight: 10, GrossWeight: 1.8, TradeMode: "1210", AreaCode: "3302W6000A",
		Items: []state.OrderItem{{GNum: 1, ItemNo: "SKU-1", Qty: 2, Price: 149, TotalPrice: 298}}}
}

// TestMatchRules: one case per rule, each failing exactly that rule.
func TestMatchRules(t *testing.T) {
	cfg := state.CustomsConfig{}
	if r := Match(cfg, goodOrder(), goodPayment(), goodWaybill(), goodInventory()); len(r) != 0 {
		t.Fatalf("matching documents fail: %+v", r)
	}
	for _, tc := range []struct {
		rule   string
		break_ func(o *state.Order, p *state.Payment, w *state.Logistics, i *state.Inventory)
		fields []string
	}{
		{state.RulePayerIsBuyer, func(_ *state.Order, p *state.Payment, _ *state.Logistics, _ *state.Inventory) { p.PayerName = "李四" }, []string{"order.buyerName", "order.buyerIdNumber", "payment.payerName", "payment.payerIdNumber"}},
		{state.RulePayerIsBuyer, func(_ *state.Order, p *state.Payment, _ *state.Logistics, _ *state.Inventory) {
			p.PayerIDNumber = "330203199001019999"
		}, nil},
		{state.RuleInventoryBuyer, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) { i.BuyerIDNumber = "X" }, nil},
		{state.RulePaymentID, func(_ *state.Order, p *state.Payment, _ *state.Logistics, _ *state.Inventory) {
			p.PayTransactionID = "TX2"
		}, nil},
		{state.RulePaidAmount, func(_ *state.Order, p *state.Payment, _ *state.Logistics, _ *state.Inventory) { p.AmountPaid = 330 }, []string{"order.acturalPaid", "payment.amountPaid"}},
		{state.RuleOrderTotal, func(o *state.Order, p *state.Payment, _ *state.Logistics, _ *state.Inventory) {
			o.ActuralPaid, p.AmountPaid = 300, 300
		}, nil},
		{state.RuleConsignee, func(_ *state.Order, _ *state.Payment, w *state.Logistics, _ *state.Inventory) {
			w.ConsigneeAddress = "杭州"
		}, []string{"order.consigneeAddress", "waybill.consigneeAddress"}},
		{state.RuleConsignee, func(_ *state.Order, _ *state.Payment, w *state.Logistics, _ *state.Inventory) { w.Consignee = "王五" }, []string{"order.consignee", "waybill.consignee"}},
		{state.RuleItems, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) {
			i.Items[0].ItemNo = "SKU-9"
		}, []string{"inventory.items", "order.items"}},
		{state.RuleItems, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) { i.Items[0].Qty = 3 }, nil},
		{state.RuleItems, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) { i.Items[0].Price = 99 }, nil},
		{state.RuleWaybillFreight, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) { i.Freight = 12 }, nil},
		{state.RuleWaybillWeight, func(_ *state.Order, _ *state.Payment, _ *state.Logistics, i *state.Inventory) { i.GrossWeight = 2.5 }, []string{"inventory.grossWeight", "waybill.weight"}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			o, p, w, i := goodOrder(), goodPayment(), goodWaybill(), goodInventory()
			tc.break_(o, p, w, i)
			r := Match(cfg, o, p, w, i)
			if len(r) != 1 || r[0].Code != tc.rule || r[0].Message == "" || len(r[0].Fields) == 0 {
				t.Fatalf("reasons %+v, want one %s", r, tc.rule)
			}
			if tc.fields != nil && !slices.Equal(r[0].Fields, tc.fields) {
				t.Errorf("fields %v, want %v", r[0].Fields, tc.fields)
			}
			// The rule turned off: matched.
			off := state.CustomsConfig{Rules: slices.DeleteFunc(state.MatchRuleNames(), func(s string) bool { return s == tc.rule })}
			if r := Match(off, o, p, w, i); len(r) != 0 {
				t.Errorf("with %s off: %+v", tc.rule, r)
			}
		})
	}
	// Tolerances.
	o, p := goodOrder(), goodPayment()
	p.AmountPaid += 0.005
	if r := Match(cfg, o, p, goodWaybill(), goodInventory()); len(r) != 0 {
		t.Errorf("within amount tolerance: %+v", r)
	}
	w := goodWaybill()
	w.Weight = 1.85
	if r := Match(cfg, goodOrder(), goodPayment(), w, goodInventory()); len(r) != 0 {
		t.Errorf("within weight tolerance: %+v", r)
	}
	if r := Match(state.CustomsConfig{WeightTolerance: 0.001}, goodOrder(), goodPayment(), w, goodInventory()); len(r) != 1 {
		t.Errorf("outside a tighter weight tolerance: %+v", r)
	}
	if err := (state.CustomsConfig{Rules: []string{"nope"}}).Validate(); err == nil || !strings.Contains(err.Error(), "customs.rules") {
		t.Errorf("unknown rule: %v", err)
	}
}

// TestReceiptTransitions covers every returnStatus code and the ordering
// rules: newer wins, released only moves on to closed, closed is final.
func TestReceiptTransitions(t *testing.T) {
	for code, want := range map[string]string{"1": "pending", "2": "pending", "3": "pending", "4": "send_failed", "100": "rejected",
		"120": "accepted", "300": "under_review", "399": "concluded", "500": "inspection", "501": "held", "502": "held", "503": "held",
		"599": "held", "700": "returned", "800": "released", "899": "closed"} {
		if got, ok := state.ReceiptState(code); !ok || got != want {
			t.Errorf("state.ReceiptState(%s) = %s, %v; want %s", code, got, ok, want)
		}
	}
	if _, ok := state.ReceiptState("123"); ok {
		t.Error("state.ReceiptState(123) ok")
	}
	states := []string{"pending", "send_failed", "rejected", "accepted", "under_review", "concluded", "inspection", "held", "returned", "released", "closed"}
	for _, cur := range states {
		for _, next := range states {
			rec := &ReceiptRecord{Status: cur, Time: 100, ID: "b"}
			newer := ReceiptSupersedes(rec, next, 200, "a")
			older := ReceiptSupersedes(rec, next, 50, "z")
			same := ReceiptSupersedes(rec, next, 100, "a")
			wantNewer := cur != "closed" && (cur != "released" || next == "closed")
			if newer != wantNewer || older || same {
				t.Errorf("%s -> %s: newer %v (want %v), older %v, same-time-lower-id %v (want false)", cur, next, newer, wantNewer, older, same)
			}
		}
		if !ReceiptSupersedes(nil, cur, 1, "x") {
			t.Errorf("first receipt %s not taken", cur)
		}
	}
}

type customsHarness struct {
	t     *testing.T
	s     *state.Store
	c     *Customs
	now   time.Time
	next  int64
	msgs  []map[string]any
	docID int
}

// newCustomsHarness opens a store whose Apply runs the customs stage
// alone (and the batch's own outbox).
func newCustomsHarness(t *testing.T, cfg state.CustomsConfig) *customsHarness {
	h := &customsHarness{t: t, now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	now := func() time.Time { return h.now }
	h.c = New(cfg, now)
	s, err := state.Open(state.Options{Dir: "db", FS: vfs.NewMem(), Now: now, Customs: cfg,
		Stages: []state.Stage{h.c.Stage(), state.BatchOutboxStage}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h.s = s
	return h
}

func (h *customsHarness) apply(docs ...state.CustomsDoc) {
	h.t.Helper()
	h.next++
	if _, err := h.s.Apply(&state.Batch{Topic: "port.customs", Next: h.next, Customs: docs}); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
}

// drain reads the outbox into h.msgs, as the publisher would.
func (h *customsHarness) drain() {
	h.t.Helper()
	var last uint64
	err := h.s.ScanOutbox(1000, func(e *state.OutboxEntry) error {
		var m map[string]any
		if err := json.Unmarshal(e.Value, &m); err != nil {
			return err
		}
		if string(e.Headers[0].Value) != m["id"] {
			return fmt.Errorf("header id %s, value id %v", e.Headers[0].Value, m["id"])
		}
		h.msgs = append(h.msgs, m)
		last = e.Seq
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if last > 0 {
		if err := h.s.DeleteOutbox(0, last); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *customsHarness) results() []string {
	var out []string
	for _, m := range h.msgs {
		switch m["kind"] {
		case "three_doc_match":
			var codes []string
			for _, r := range m["reasons"].([]any) {
				codes = append(codes, r.(map[string]any)["code"].(string))
			}
			s := fmt.Sprintf("%v", m["result"])
			if len(codes) > 0 {
				s += ":" + strings.Join(codes, ",")
			}
			if miss := m["missing"].([]any); len(miss) > 0 {
				s += fmt.Sprintf(" missing %v", miss)
			}
			out = append(out, s)
		case "inventory_status":
			out = append(out, fmt.Sprintf("status %v %v", m["returnStatus"], m["status"]))
		}
	}
	h.msgs = nil
	return out
}

func (h *customsHarness) order() OrderRecord {
	h.t.Helper()
	b, err := h.c.Order(nil, "EBP", "NB1")
	if err != nil {
		h.t.Fatal(err)
	}
	var r OrderRecord
	if err := json.Unmarshal(b, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// boxB is the box of the container customs tests.
const boxB = "MSKU9070323"

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()

func docAt(id string, min int, d any) state.CustomsDoc {
	c := state.CustomsDoc{ID: id, Time: t0 + int64(min)*int64(time.Minute)}
	switch v := d.(type) {
	case *state.Order:
		c.Type, c.Order = state.CEB311, v
	case *state.Payment:
		c.Type, c.Payment = state.CEB411, v
	case *state.Logistics:
		c.Type, c.Waybill = state.CEB511, v
	case *state.Inventory:
		c.Type, c.Inventory = state.CEB621, v
	case *state.Receipt:
		c.Type, c.Receipt = state.CEB622, v
	case *state.ContainerCustomsEvent:
		c.Type, c.Box = state.CustomsContainer, v
	}
	return c
}

func receipt(code string) *state.Receipt {
	return &state.Receipt{EBPCode: "EBP", CopNo: "COP1", InvtNo: "INVT1", ReturnStatus: code}
}

// TestThreeDocOrders: documents in every order give one matched result;
// duplicates change nothing; a corrected (newer) document re-evaluates; an
// older one is kept out.
func TestThreeDocOrders(t *testing.T) {
	docs := []state.CustomsDoc{docAt("o1", 0, goodOrder()), docAt("p1", 1, goodPayment()), docAt("w1", 2, goodWaybill()), docAt("i1", 3, goodInventory())}
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}}
	for _, p := range perms {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			h := newCustomsHarness(t, state.CustomsConfig{})
			for _, i := range p {
				h.apply(docs[i])
			}
			if got := h.results(); !slices.Equal(got, []string{"matched"}) {
				t.Fatalf("results %v, want [matched]", got)
			}
			// Duplicates, alone and all in one batch.
			h.apply(docs[p[0]])
			h.apply(docs...)
			if got := h.results(); len(got) != 0 {
				t.Errorf("duplicates published %v", got)
			}
		})
	}
	t.Run("corrected", func(t *testing.T) {
		h := newCustomsHarness(t, state.CustomsConfig{})
		bad := goodPayment()
		bad.AmountPaid = 300
		h.apply(docAt("o1", 0, goodOrder()), docAt("p1", 1, bad), docAt("w1", 2, goodWaybill()), docAt("i1", 3, goodInventory()))
		if got := h.results(); !slices.Equal(got, []string{"mismatched:paid_amount"}) {
			t.Fatalf("results %v", got)
		}
		h.apply(docAt("p2", 5, goodPayment())) // corrected payment
		if got := h.results(); !slices.Equal(got, []string{"matched"}) {
			t.Fatalf("after correction %v, want [matched]", got)
		}
		h.apply(docAt("p0", -5, bad)) // an older version arrives late
		if got := h.results(); len(got) != 0 {
			t.Fatalf("older document published %v", got)
		}
		r := h.order()
		if r.Result != "matched" || r.Documents.Payment.ID != "p2" || r.Revision != 2 {
			t.Errorf("order %+v", r)
		}
		if last := r.History[len(r.History)-1]; last.Change != "older_ignored" || last.ID != "p0" {
			t.Errorf("history ends with %+v", last)
		}
		// A corrected waybill (found through the inventory's logistics key)
		// breaks the match again.
		w := goodWaybill()
		w.Consignee = "王五"
		h.apply(docAt("w2", 6, w))
		if got := h.results(); !slices.Equal(got, []string{"mismatched:consignee"}) {
			t.Fatalf("after waybill change %v", got)
		}
		var list []string
		if _, err := h.c.Orders(OrderListQuery{Reason: "consignee", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 1 {
			t.Fatalf("orders by reason: %v %v", list, err)
		}
		list = nil
		if _, err := h.c.Orders(OrderListQuery{Result: "matched", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 0 {
			t.Fatalf("stale matched index entry: %v %v", list, err)
		}
	})
}

// TestIncompleteAfterWait: an order missing a document is reported
// incomplete once the wait ran out (by a tick or a later batch), once, and
// re-evaluated when the document arrives.
func TestIncompleteAfterWait(t *testing.T) {
	h := newCustomsHarness(t, state.CustomsConfig{IncompleteAfter: int64(10 * time.Minute)})
	h.apply(docAt("o1", 0, goodOrder()), docAt("p1", 1, goodPayment()), docAt("i1", 3, goodInventory()))
	if n, err := h.c.Expire(); err != nil || n != 0 {
		t.Fatalf("early expiry: %d %v", n, err)
	}
	h.now = h.now.Add(11 * time.Minute)
	if n, err := h.c.Expire(); err != nil || n != 1 {
		t.Fatalf("expiry: %d %v", n, err)
	}
	h.drain()
	if got := h.results(); !slices.Equal(got, []string{"incomplete missing [waybill]"}) {
		t.Fatalf("results %v", got)
	}
	if n, err := h.c.Expire(); err != nil || n != 0 {
		t.Fatalf("second expiry: %d %v", n, err)
	}
	h.apply(docAt("w1", 2, goodWaybill()))
	if got := h.results(); !slices.Equal(got, []string{"matched"}) {
		t.Fatalf("after the waybill %v", got)
	}
	// A batch of customs documents (no tick) also reports due orders.
	o := goodOrder()
	o.OrderNo = "NB2"
	h.apply(docAt("o2", 0, o))
	h.now = h.now.Add(11 * time.Minute)
	h.apply(docAt("o1", 0, goodOrder())) // a duplicate
	if got := h.results(); !slices.Equal(got, []string{"incomplete missing [payment waybill inventory]"}) {
		t.Fatalf("batch expiry %v", got)
	}
}

// TestReceiptsOnOrders: receipts before or after the inventory, out of
// order and repeated; released is not overwritten by an older code.
func TestReceiptsOnOrders(t *testing.T) {
	h := newCustomsHarness(t, state.CustomsConfig{})
	h.apply(docAt("r120", 10, receipt("120"))) // before the inventory
	if got := h.results(); !slices.Equal(got, []string{"status 120 accepted"}) {
		t.Fatalf("early receipt %v", got)
	}
	h.apply(docAt("o1", 0, goodOrder()), docAt("i1", 3, goodInventory()))
	if r := h.order(); r.Status != "accepted" || r.InvtNo != "INVT1" {
		t.Fatalf("order status %q invt %q", r.Status, r.InvtNo)
	}
	h.results()
	h.apply(docAt("r800", 30, receipt("800")))
	h.apply(docAt("r500", 20, receipt("500")))  // older: history only
	h.apply(docAt("r800", 30, receipt("800")))  // duplicate
	h.apply(docAt("r120b", 40, receipt("120"))) // newer but may not undo a release
	if got := h.results(); !slices.Equal(got, []string{"status 800 released"}) {
		t.Fatalf("receipts %v", got)
	}
	h.apply(docAt("r800b", 35, receipt("800"))) // a newer receipt repeating the status
	h.apply(docAt("r899", 50, receipt("899")))
	if got := h.results(); !slices.Equal(got, []string{"status 899 closed"}) {
		t.Fatalf("close %v", got)
	}
	var list []string
	if _, err := h.c.Orders(OrderListQuery{Status: "closed", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 1 {
		t.Fatalf("orders by status: %v %v", list, err)
	}
}

// TestContainerCustomsFold: container messages in any order fold to the
// same state; holds and releases maintain the lists.
func TestContainerCustomsFold(t *testing.T) {
	ev := func(id string, min int, event, kind string) state.CustomsDoc {
		return docAt(id, min, &state.ContainerCustomsEvent{Container: boxB, Event: event, HoldKind: kind, Reason: "r-" + id})
	}
	seq := []state.CustomsDoc{ev("a", 0, state.BoxEventManifest, ""), ev("b", 1, state.BoxEventDeclared, ""), ev("c", 2, state.BoxEventInspection, ""),
		ev("d", 3, state.BoxEventHeld, "quarantine"), ev("e", 4, state.BoxEventInspected, "")}
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 4, 0, 3, 1}} {
		h := newCustomsHarness(t, state.CustomsConfig{})
		for _, i := range order {
			h.apply(seq[i])
		}
		h.apply(seq[0]) // duplicate
		var cc ContainerCustoms
		if err := h.c.ContainerCustoms(h.s.Live(), boxB, &cc); err != nil {
			t.Fatal(err)
		}
		if bl := cc.Blocks(); string(cc.Status) != "held" || len(bl) != 1 || bl[0].Kind != "quarantine" || bl[0].Reason != "r-d" {
			t.Fatalf("order %v: status %s blocks %+v", order, cc.Status, bl)
		}
		var held []string
		if _, err := h.c.Holds(ListQuery{Limit: 10}, func(hb *HeldBox) error { held = append(held, hb.Container); return nil }); err != nil || len(held) != 1 {
			t.Fatalf("holds %v %v", held, err)
		}
		h.apply(ev("f", 5, state.BoxEventReleased, ""))
		if err := h.c.ContainerCustoms(h.s.Live(), boxB, &cc); err != nil || string(cc.Status) != "released" || cc.NumBlocks() != 0 || !cc.Released() {
			t.Fatalf("after release: %s %+v %v", cc.Status, cc.Blocks(), err)
		}
		held = nil
		if _, err := h.c.Holds(ListQuery{Limit: 10}, func(hb *HeldBox) error { held = append(held, hb.Container); return nil }); err != nil || len(held) != 0 {
			t.Fatalf("holds after release %v %v", held, err)
		}
		var rel []string
		if _, err := h.c.Released(h.s.Live(), ListQuery{Limit: 10}, func(rb *ReleasedBox) (bool, error) { rel = append(rel, rb.Container); return true, nil }); err != nil || len(rel) != 1 {
			t.Fatalf("released %v %v", rel, err)
		}
	}
}

// TestPickupBlocks: the one rule of what customs keeps a box for, as the
// container answer and the connection guard read it: unknown to customs or
// not released (no block in force), then every block in force, then
// nothing once released; the guard's question (Customs.PickupBlocks) sees
// the batch being applied the same way.
func TestPickupBlocks(t *testing.T) {
	h := newCustomsHarness(t, state.CustomsConfig{})
	pickup := func() string {
		t.Helper()
		var cc ContainerCustoms
		if err := h.c.ContainerCustoms(h.s.Live(), boxB, &cc); err != nil && err != state.ErrNotFound {
			t.Fatal(err)
		}
		var out []string
		cc.PickupBlocks(func(kind, reason []byte, since int64) {
			out = append(out, fmt.Sprintf("%s(%s)@%d", kind, reason, (since-t0)/int64(time.Minute)))
		})
		var guard []string
		if err := h.c.PickupBlocks(boxB, func(kind string) { guard = append(guard, kind) }); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		cc.PickupBlocks(func(kind, _ []byte, _ int64) { kinds = append(kinds, string(kind)) })
		if !slices.Equal(guard, kinds) {
			t.Errorf("guard's kinds %v, the answer's %v", guard, kinds)
		}
		return strings.Join(out, " ")
	}
	ev := func(id string, min int, event, kind string) state.CustomsDoc {
		return docAt(id, min, &state.ContainerCustomsEvent{Container: boxB, Event: event, HoldKind: kind, Reason: "r-" + id})
	}
	if got, want := pickup(), "customs_not_released(no customs release recorded)@-"+fmt.Sprint(t0/int64(time.Minute)); got != want {
		t.Errorf("unknown box: %s, want %s", got, want)
	}
	h.apply(ev("a", 0, state.BoxEventDeclared, ""))
	if got := pickup(); got != "customs_not_released(customs status declared)@0" {
		t.Errorf("declared: %s", got)
	}
	h.apply(ev("b", 1, state.BoxEventHeld, "customs"), ev("c", 2, state.BoxEventHeld, "quarantine"))
	if got := pickup(); got != "customs_hold(r-b)@1 quarantine(r-c)@2" {
		t.Errorf("held: %s", got)
	}
	h.apply(ev("d", 3, state.BoxEventReleased, ""))
	if got := pickup(); got != "" {
		t.Errorf("released: %s", got)
	}
}
