package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A matching set of documents (the testdata of ingest/customs).
func goodOrder() *Order {
	return &Order{OrderNo: "NB1", EBPCode: "EBP", GoodsValue: 298, Freight: 10, TaxTotal: 28.03, ActuralPaid: 336.03,
		BuyerName: "张三", BuyerIDNumber: "330203199001011234", PayCode: "PAY", PayTransactionID: "TX1",
		Consignee: "张三", ConsigneeAddress: "宁波市鄞州区天童南路1号",
		Items: []OrderItem{{GNum: 1, ItemNo: "SKU-1", Qty: 2, Price: 149, TotalPrice: 298}, {GNum: 2, ItemNo: "SKU-2", Qty: 1, Price: 0}}}
}
func goodPayment() *Payment {
	return &Payment{PayCode: "PAY", PayTransactionID: "TX1", OrderNo: "NB1", EBPCode: "EBP", PayerName: "张三", PayerIDNumber: "330203199001011234", AmountPaid: 336.03}
}
func goodWaybill() *Logistics {
	return &Logistics{LogisticsCode: "LOG", LogisticsNo: "YT1", OrderNo: "NB1", Freight: 10, Weight: 1.8, Consignee: "张三", ConsigneeAddress: "宁波市鄞州区天童南路1号"}
}
func goodInventory() *Inventory {
	return &Inventory{OrderNo: "NB1", EBPCode: "EBP", LogisticsCode: "LOG", LogisticsNo: "YT1", CopNo: "COP1", BuyerName: "张三",
		BuyerIDNumber: "330203199001011234", Freight: 10, GrossWeight: 1.8, TradeMode: "1210", AreaCode: "3302W6000A",
		Items: []OrderItem{{GNum: 1, ItemNo: "SKU-1", Qty: 2, Price: 149, TotalPrice: 298}}}
}

// TestMatchRules: one case per rule, each failing exactly that rule.
func TestMatchRules(t *testing.T) {
	cfg := CustomsConfig{}
	if r := cfg.MatchDocs(goodOrder(), goodPayment(), goodWaybill(), goodInventory()); len(r) != 0 {
		t.Fatalf("matching documents fail: %+v", r)
	}
	for _, tc := range []struct {
		rule   string
		break_ func(o *Order, p *Payment, w *Logistics, i *Inventory)
		fields []string
	}{
		{RulePayerIsBuyer, func(_ *Order, p *Payment, _ *Logistics, _ *Inventory) { p.PayerName = "李四" }, []string{"order.buyerName", "order.buyerIdNumber", "payment.payerName", "payment.payerIdNumber"}},
		{RulePayerIsBuyer, func(_ *Order, p *Payment, _ *Logistics, _ *Inventory) { p.PayerIDNumber = "330203199001019999" }, nil},
		{RuleInventoryBuyer, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.BuyerIDNumber = "X" }, nil},
		{RulePaymentID, func(_ *Order, p *Payment, _ *Logistics, _ *Inventory) { p.PayTransactionID = "TX2" }, nil},
		{RulePaidAmount, func(_ *Order, p *Payment, _ *Logistics, _ *Inventory) { p.AmountPaid = 330 }, []string{"order.acturalPaid", "payment.amountPaid"}},
		{RuleOrderTotal, func(o *Order, p *Payment, _ *Logistics, _ *Inventory) { o.ActuralPaid, p.AmountPaid = 300, 300 }, nil},
		{RuleConsignee, func(_ *Order, _ *Payment, w *Logistics, _ *Inventory) { w.ConsigneeAddress = "杭州" }, []string{"order.consigneeAddress", "waybill.consigneeAddress"}},
		{RuleConsignee, func(_ *Order, _ *Payment, w *Logistics, _ *Inventory) { w.Consignee = "王五" }, []string{"order.consignee", "waybill.consignee"}},
		{RuleItems, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.Items[0].ItemNo = "SKU-9" }, []string{"inventory.items", "order.items"}},
		{RuleItems, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.Items[0].Qty = 3 }, nil},
		{RuleItems, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.Items[0].Price = 99 }, nil},
		{RuleWaybillFreight, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.Freight = 12 }, nil},
		{RuleWaybillWeight, func(_ *Order, _ *Payment, _ *Logistics, i *Inventory) { i.GrossWeight = 2.5 }, []string{"inventory.grossWeight", "waybill.weight"}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			o, p, w, i := goodOrder(), goodPayment(), goodWaybill(), goodInventory()
			tc.break_(o, p, w, i)
			r := cfg.MatchDocs(o, p, w, i)
			if len(r) != 1 || r[0].Code != tc.rule || r[0].Message == "" || len(r[0].Fields) == 0 {
				t.Fatalf("reasons %+v, want one %s", r, tc.rule)
			}
			if tc.fields != nil && !slices.Equal(r[0].Fields, tc.fields) {
				t.Errorf("fields %v, want %v", r[0].Fields, tc.fields)
			}
			// The rule turned off: matched.
			off := CustomsConfig{Rules: slices.DeleteFunc(MatchRuleNames(), func(s string) bool { return s == tc.rule })}
			if r := off.MatchDocs(o, p, w, i); len(r) != 0 {
				t.Errorf("with %s off: %+v", tc.rule, r)
			}
		})
	}
	// Tolerances.
	o, p := goodOrder(), goodPayment()
	p.AmountPaid += 0.005
	if r := cfg.MatchDocs(o, p, goodWaybill(), goodInventory()); len(r) != 0 {
		t.Errorf("within amount tolerance: %+v", r)
	}
	w := goodWaybill()
	w.Weight = 1.85
	if r := cfg.MatchDocs(goodOrder(), goodPayment(), w, goodInventory()); len(r) != 0 {
		t.Errorf("within weight tolerance: %+v", r)
	}
	if r := (CustomsConfig{WeightTolerance: 0.001}).MatchDocs(goodOrder(), goodPayment(), w, goodInventory()); len(r) != 1 {
		t.Errorf("outside a tighter weight tolerance: %+v", r)
	}
	if err := (CustomsConfig{Rules: []string{"nope"}}).Validate(); err == nil || !strings.Contains(err.Error(), "customs.rules") {
		t.Errorf("unknown rule: %v", err)
	}
}

// TestReceiptTransitions covers every returnStatus code and the ordering
// rules: newer wins, released only moves on to closed, closed is final.
func TestReceiptTransitions(t *testing.T) {
	for code, want := range map[string]string{"1": "pending", "2": "pending", "3": "pending", "4": "send_failed", "100": "rejected",
		"120": "accepted", "300": "under_review", "399": "concluded", "500": "inspection", "501": "held", "502": "held", "503": "held",
		"599": "held", "700": "returned", "800": "released", "899": "closed"} {
		if got, ok := ReceiptState(code); !ok || got != want {
			t.Errorf("ReceiptState(%s) = %s, %v; want %s", code, got, ok, want)
		}
	}
	if _, ok := ReceiptState("123"); ok {
		t.Error("ReceiptState(123) ok")
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
	s     *Store
	now   time.Time
	next  int64
	msgs  []map[string]any
	docID int
}

func newCustomsHarness(t *testing.T, cfg CustomsConfig) *customsHarness {
	h := &customsHarness{t: t, now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), Now: func() time.Time { return h.now }, Customs: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h.s = s
	return h
}

func (h *customsHarness) apply(docs ...CustomsDoc) {
	h.t.Helper()
	h.next++
	if _, err := h.s.Apply(&Batch{Topic: "port.customs", Next: h.next, Customs: docs}); err != nil {
		h.t.Fatal(err)
	}
	h.drain()
}

// drain reads the outbox into h.msgs, as the publisher would.
func (h *customsHarness) drain() {
	h.t.Helper()
	var last uint64
	err := h.s.ScanOutbox(1000, func(e *OutboxEntry) error {
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
	b, err := h.s.Order(nil, "EBP", "NB1")
	if err != nil {
		h.t.Fatal(err)
	}
	var r OrderRecord
	if err := json.Unmarshal(b, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC).UnixNano()

func docAt(id string, min int, d any) CustomsDoc {
	c := CustomsDoc{ID: id, Time: t0 + int64(min)*int64(time.Minute)}
	switch v := d.(type) {
	case *Order:
		c.Type, c.Order = CEB311, v
	case *Payment:
		c.Type, c.Payment = CEB411, v
	case *Logistics:
		c.Type, c.Waybill = CEB511, v
	case *Inventory:
		c.Type, c.Inventory = CEB621, v
	case *Receipt:
		c.Type, c.Receipt = CEB622, v
	case *ContainerCustomsEvent:
		c.Type, c.Box = CustomsContainer, v
	}
	return c
}

func receipt(code string) *Receipt {
	return &Receipt{EBPCode: "EBP", CopNo: "COP1", InvtNo: "INVT1", ReturnStatus: code}
}

// TestThreeDocOrders: documents in every order give one matched result;
// duplicates change nothing; a corrected (newer) document re-evaluates; an
// older one is kept out.
func TestThreeDocOrders(t *testing.T) {
	docs := []CustomsDoc{docAt("o1", 0, goodOrder()), docAt("p1", 1, goodPayment()), docAt("w1", 2, goodWaybill()), docAt("i1", 3, goodInventory())}
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}}
	for _, p := range perms {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			h := newCustomsHarness(t, CustomsConfig{})
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
		h := newCustomsHarness(t, CustomsConfig{})
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
		if _, err := h.s.Orders(OrderListQuery{Reason: "consignee", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 1 {
			t.Fatalf("orders by reason: %v %v", list, err)
		}
		list = nil
		if _, err := h.s.Orders(OrderListQuery{Result: "matched", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 0 {
			t.Fatalf("stale matched index entry: %v %v", list, err)
		}
	})
}

// TestIncompleteAfterWait: an order missing a document is reported
// incomplete once the wait ran out (by a tick or a later batch), once, and
// re-evaluated when the document arrives.
func TestIncompleteAfterWait(t *testing.T) {
	h := newCustomsHarness(t, CustomsConfig{IncompleteAfter: int64(10 * time.Minute)})
	h.apply(docAt("o1", 0, goodOrder()), docAt("p1", 1, goodPayment()), docAt("i1", 3, goodInventory()))
	if n, err := h.s.ExpireCustoms(); err != nil || n != 0 {
		t.Fatalf("early expiry: %d %v", n, err)
	}
	h.now = h.now.Add(11 * time.Minute)
	if n, err := h.s.ExpireCustoms(); err != nil || n != 1 {
		t.Fatalf("expiry: %d %v", n, err)
	}
	h.drain()
	if got := h.results(); !slices.Equal(got, []string{"incomplete missing [waybill]"}) {
		t.Fatalf("results %v", got)
	}
	if n, err := h.s.ExpireCustoms(); err != nil || n != 0 {
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
	h := newCustomsHarness(t, CustomsConfig{})
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
	if _, err := h.s.Orders(OrderListQuery{Status: "closed", Limit: 10}, nil, func(b []byte) error { list = append(list, string(b)); return nil }); err != nil || len(list) != 1 {
		t.Fatalf("orders by status: %v %v", list, err)
	}
}

// TestContainerCustomsFold: container messages in any order fold to the
// same state; holds and releases maintain the lists.
func TestContainerCustomsFold(t *testing.T) {
	ev := func(id string, min int, event, kind string) CustomsDoc {
		return docAt(id, min, &ContainerCustomsEvent{Container: boxB, Event: event, HoldKind: kind, Reason: "r-" + id})
	}
	seq := []CustomsDoc{ev("a", 0, BoxEventManifest, ""), ev("b", 1, BoxEventDeclared, ""), ev("c", 2, BoxEventInspection, ""),
		ev("d", 3, BoxEventHeld, "quarantine"), ev("e", 4, BoxEventInspected, "")}
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 4, 0, 3, 1}} {
		h := newCustomsHarness(t, CustomsConfig{})
		for _, i := range order {
			h.apply(seq[i])
		}
		h.apply(seq[0]) // duplicate
		var cc ContainerCustoms
		if err := h.s.ContainerCustoms(boxB, &cc); err != nil {
			t.Fatal(err)
		}
		if bl := cc.Blocks(); string(cc.Status) != "held" || len(bl) != 1 || bl[0].Kind != "quarantine" || bl[0].Reason != "r-d" {
			t.Fatalf("order %v: status %s blocks %+v", order, cc.Status, bl)
		}
		var held []string
		if _, err := h.s.CustomsHolds(CustomsListQuery{Limit: 10}, func(hb *HeldBox) error { held = append(held, hb.Container); return nil }); err != nil || len(held) != 1 {
			t.Fatalf("holds %v %v", held, err)
		}
		h.apply(ev("f", 5, BoxEventReleased, ""))
		if err := h.s.ContainerCustoms(boxB, &cc); err != nil || string(cc.Status) != "released" || cc.NumBlocks() != 0 || !cc.Released() {
			t.Fatalf("after release: %s %+v %v", cc.Status, cc.Blocks(), err)
		}
		held = nil
		if _, err := h.s.CustomsHolds(CustomsListQuery{Limit: 10}, func(hb *HeldBox) error { held = append(held, hb.Container); return nil }); err != nil || len(held) != 0 {
			t.Fatalf("holds after release %v %v", held, err)
		}
		var rel []string
		if _, err := h.s.CustomsReleased(CustomsListQuery{Limit: 10}, func(rb *ReleasedBox) (bool, error) { rel = append(rel, rb.Container); return true, nil }); err != nil || len(rel) != 1 {
			t.Fatalf("released %v %v", rel, err)
		}
	}
}
