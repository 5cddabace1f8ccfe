package state

import (
	"fmt"
	"math"
	"strings"
)

// Three-document matching (DOMAIN.md §7.3). No primary text defines the
// field-by-field checks, so each is a rule that can be turned off, with its
// own error code and tolerance.

// Match rule names: also the error codes of their failures.
const (
	RulePayerIsBuyer   = "payer_not_buyer"    // payment payer = order buyer (name and id number)
	RuleInventoryBuyer = "inventory_buyer"    // inventory buyer = order buyer
	RulePaymentID      = "payment_id"         // order payCode/payTransactionId = payment's
	RulePaidAmount     = "paid_amount"        // order acturalPaid = payment amountPaid
	RuleOrderTotal     = "order_total"        // acturalPaid = goodsValue + freight + taxTotal - discount
	RuleConsignee      = "consignee"          // order consignee and address = waybill's
	RuleItems          = "items_not_in_order" // inventory lines (itemNo, qty, price) within the order's
	RuleWaybillFreight = "waybill_freight"    // inventory freight and insuredFee = waybill's
	RuleWaybillWeight  = "waybill_weight"     // inventory grossWeight = waybill weight (relative tolerance)
)

// MatchRuleNames lists every rule in evaluation order.
func MatchRuleNames() []string {
	return []string{RulePayerIsBuyer, RuleInventoryBuyer, RulePaymentID, RulePaidAmount, RuleOrderTotal,
		RuleConsignee, RuleItems, RuleWaybillFreight, RuleWaybillWeight}
}

// CustomsConfig configures customs processing.
type CustomsConfig struct {
	// Rules are the enabled match rules; nil enables all (MatchRuleNames).
	Rules []string
	// AmountTolerance is the largest difference between two money amounts
	// that still matches (CNY). Default 0.01.
	AmountTolerance float64
	// WeightTolerance is the largest relative difference between the
	// inventory's gross weight and the waybill's. Default 0.05.
	WeightTolerance float64
	// IncompleteAfter is how long after its first document an order may
	// wait for the others before it is reported incomplete. Default 30m.
	IncompleteAfter int64
	// ResultTopic receives three_doc_match and inventory_status records.
	// Default porttrack.customs-results.
	ResultTopic string
}

// Defaults of CustomsConfig.
const (
	DefaultCustomsResultTopic = "porttrack.customs-results"
	DefaultIncompleteAfter    = int64(30 * 60 * 1e9)
)

func (c CustomsConfig) withDefaults() CustomsConfig {
	if c.Rules == nil {
		c.Rules = MatchRuleNames()
	}
	if c.AmountTolerance == 0 {
		c.AmountTolerance = 0.01
	}
	if c.WeightTolerance == 0 {
		c.WeightTolerance = 0.05
	}
	if c.IncompleteAfter == 0 {
		c.IncompleteAfter = DefaultIncompleteAfter
	}
	if c.ResultTopic == "" {
		c.ResultTopic = DefaultCustomsResultTopic
	}
	return c
}

// Validate checks the configuration; errors name the field.
func (c CustomsConfig) Validate() error {
	known := MatchRuleNames()
	for _, r := range c.Rules {
		ok := false
		for _, k := range known {
			ok = ok || k == r
		}
		if !ok {
			return fmt.Errorf("customs.rules: unknown rule %q (known: %s)", r, strings.Join(known, ", "))
		}
	}
	if c.AmountTolerance < 0 || math.IsNaN(c.AmountTolerance) {
		return fmt.Errorf("customs.amount_tolerance: %g is negative", c.AmountTolerance)
	}
	if c.WeightTolerance < 0 || c.WeightTolerance > 1 || math.IsNaN(c.WeightTolerance) {
		return fmt.Errorf("customs.weight_tolerance: %g is out of range [0, 1]", c.WeightTolerance)
	}
	if c.IncompleteAfter < 0 {
		return fmt.Errorf("customs.incomplete_after: negative")
	}
	return nil
}

// MatchReason is one failed check of a three-document match.
type MatchReason struct {
	Code    string   `json:"code"`
	Fields  []string `json:"fields"`
	Message string   `json:"message"`
}

// MatchDocs evaluates the enabled rules against the four documents, all
// present. It returns the failures in rule order (none: matched).
func (c CustomsConfig) MatchDocs(o *Order, p *Payment, w *Logistics, inv *Inventory) []MatchReason {
	c = c.withDefaults()
	var out []MatchReason
	fail := func(code, msg string, fields ...string) {
		out = append(out, MatchReason{Code: code, Fields: fields, Message: msg})
	}
	money := func(a, b float64) bool { return math.Abs(a-b) <= c.AmountTolerance+1e-9 }
	for _, r := range c.Rules {
		switch r {
		case RulePayerIsBuyer:
			if !sameText(o.BuyerName, p.PayerName) || !sameID(o.BuyerIDNumber, p.PayerIDNumber) {
				fail(r, fmt.Sprintf("payer %q (%s) is not the buyer %q (%s)", p.PayerName, maskID(p.PayerIDNumber), o.BuyerName, maskID(o.BuyerIDNumber)),
					"order.buyerName", "order.buyerIdNumber", "payment.payerName", "payment.payerIdNumber")
			}
		case RuleInventoryBuyer:
			if !sameText(o.BuyerName, inv.BuyerName) || !sameID(o.BuyerIDNumber, inv.BuyerIDNumber) {
				fail(r, fmt.Sprintf("inventory buyer %q (%s) differs from the order buyer %q (%s)", inv.BuyerName, maskID(inv.BuyerIDNumber), o.BuyerName, maskID(o.BuyerIDNumber)),
					"order.buyerName", "order.buyerIdNumber", "inventory.buyerName", "inventory.buyerIdNumber")
			}
		case RulePaymentID:
			if (o.PayCode != "" && o.PayCode != p.PayCode) || (o.PayTransactionID != "" && o.PayTransactionID != p.PayTransactionID) {
				fail(r, fmt.Sprintf("order names payment %s/%s, payment is %s/%s", o.PayCode, o.PayTransactionID, p.PayCode, p.PayTransactionID),
					"order.payCode", "order.payTransactionId", "payment.payCode", "payment.payTransactionId")
			}
		case RulePaidAmount:
			if !money(o.ActuralPaid, p.AmountPaid) {
				fail(r, fmt.Sprintf("order paid %.2f, payment amount %.2f", o.ActuralPaid, p.AmountPaid), "order.acturalPaid", "payment.amountPaid")
			}
		case RuleOrderTotal:
			want := o.GoodsValue + o.Freight + o.TaxTotal - o.Discount
			if !money(o.ActuralPaid, want) {
				fail(r, fmt.Sprintf("order paid %.2f, goodsValue + freight + taxTotal - discount = %.2f", o.ActuralPaid, want),
					"order.acturalPaid", "order.goodsValue", "order.freight", "order.taxTotal", "order.discount")
			}
		case RuleConsignee:
			var fields []string
			if !sameText(o.Consignee, w.Consignee) {
				fields = append(fields, "order.consignee", "waybill.consignee")
			}
			if !sameText(o.ConsigneeAddress, w.ConsigneeAddress) {
				fields = append(fields, "order.consigneeAddress", "waybill.consigneeAddress")
			}
			if fields != nil {
				fail(r, fmt.Sprintf("waybill consignee %q at %q differs from the order's %q at %q", w.Consignee, w.ConsigneeAddress, o.Consignee, o.ConsigneeAddress), fields...)
			}
		case RuleItems:
			if msg := itemsWithin(inv.Items, o.Items, c.AmountTolerance); msg != "" {
				fail(r, msg, "inventory.items", "order.items")
			}
		case RuleWaybillFreight:
			if !money(inv.Freight, w.Freight) || !money(inv.InsuredFee, w.InsuredFee) {
				fail(r, fmt.Sprintf("inventory freight %.2f / insured %.2f, waybill %.2f / %.2f", inv.Freight, inv.InsuredFee, w.Freight, w.InsuredFee),
					"inventory.freight", "inventory.insuredFee", "waybill.freight", "waybill.insuredFee")
			}
		case RuleWaybillWeight:
			if d := math.Abs(inv.GrossWeight - w.Weight); d > c.WeightTolerance*math.Max(inv.GrossWeight, w.Weight)+1e-9 {
				fail(r, fmt.Sprintf("inventory gross weight %g kg, waybill weight %g kg (tolerance %g%%)", inv.GrossWeight, w.Weight, c.WeightTolerance*100),
					"inventory.grossWeight", "waybill.weight")
			}
		}
	}
	return out
}

// itemsWithin checks that every inventory line is covered by the order: the
// same itemNo, no more quantity in total, the same unit price.
func itemsWithin(inv, order []OrderItem, tol float64) string {
	type line struct{ qty, price float64 }
	have := map[string]line{}
	for _, it := range order {
		l := have[it.ItemNo]
		l.qty += it.Qty
		l.price = it.Price
		have[it.ItemNo] = l
	}
	used := map[string]float64{}
	for _, it := range inv {
		l, ok := have[it.ItemNo]
		if !ok {
			return fmt.Sprintf("inventory line %d item %q is not in the order", it.GNum, it.ItemNo)
		}
		if math.Abs(l.price-it.Price) > tol+1e-9 {
			return fmt.Sprintf("inventory line %d item %q price %.2f, order price %.2f", it.GNum, it.ItemNo, it.Price, l.price)
		}
		used[it.ItemNo] += it.Qty
		if used[it.ItemNo] > l.qty+1e-9 {
			return fmt.Sprintf("inventory declares %g of item %q, the order %g", used[it.ItemNo], it.ItemNo, l.qty)
		}
	}
	return ""
}

func sameText(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
func sameID(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// maskID keeps an identity number's last four characters, so that reasons
// published to Kafka do not carry whole ID card numbers.
func maskID(s string) string {
	if len(s) <= 4 {
		return s
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}
