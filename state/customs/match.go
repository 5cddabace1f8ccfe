package customs

import (
	"fmt"
	"math"
	"strings"

	"github.com/porttrack/porttrack/state"
)

// Three-document matching (DOMAIN.md §7.3): the rules are named and
// configured in state.CustomsConfig.

// MatchReason is one failed check of a three-document match.
type MatchReason struct {
	Code    string   `json:"code"`
	Fields  []string `json:"fields"`
	Message string   `json:"message"`
}

// Match evaluates the rules c enables against the four documents, all
// present (three-document matching, DOMAIN.md §7.3). It returns the
// failures in rule order (none: matched).
func Match(c state.CustomsConfig, o *state.Order, p *state.Payment, w *state.Logistics, inv *state.Inventory) []MatchReason {
	c = c.WithDefaults()
	var out []MatchReason
	fail := func(code, msg string, fields ...string) {
		out = append(out, MatchReason{Code: code, Fields: fields, Message: msg})
	}
	money := func(a, b float64) bool { return math.Abs(a-b) <= c.AmountTolerance+1e-9 }
	for _, r := range c.Rules {
		switch r {
		case state.RulePayerIsBuyer:
			if !sameText(o.BuyerName, p.PayerName) || !sameID(o.BuyerIDNumber, p.PayerIDNumber) {
				fail(r, fmt.Sprintf("payer %q (%s) is not the buyer %q (%s)", p.PayerName, maskID(p.PayerIDNumber), o.BuyerName, maskID(o.BuyerIDNumber)),
					"order.buyerName", "order.buyerIdNumber", "payment.payerName", "payment.payerIdNumber")
			}
		case state.RuleInventoryBuyer:
			if !sameText(o.BuyerName, inv.BuyerName) || !sameID(o.BuyerIDNumber, inv.BuyerIDNumber) {
				fail(r, fmt.Sprintf("inventory buyer %q (%s) differs from the order buyer %q (%s)", inv.BuyerName, maskID(inv.BuyerIDNumber), o.BuyerName, maskID(o.BuyerIDNumber)),
					"order.buyerName", "order.buyerIdNumber", "inventory.buyerName", "inventory.buyerIdNumber")
			}
		case state.RulePaymentID:
			if (o.PayCode != "" && o.PayCode != p.PayCode) || (o.PayTransactionID != "" && o.PayTransactionID != p.PayTransactionID) {
				fail(r, fmt.Sprintf("order names payment %s/%s, payment is %s/%s", o.PayCode, o.PayTransactionID, p.PayCode, p.PayTransactionID),
					"order.payCode", "order.payTransactionId", "payment.payCode", "payment.payTransactionId")
			}
		case state.RulePaidAmount:
			if !money(o.ActuralPaid, p.AmountPaid) {
				fail(r, fmt.Sprintf("order paid %.2f, payment amount %.2f", o.ActuralPaid, p.AmountPaid), "order.acturalPaid", "payment.amountPaid")
			}
		case state.RuleOrderTotal:
			want := o.GoodsValue + o.Freight + o.TaxTotal - o.Discount
			if !money(o.ActuralPaid, want) {
				fail(r, fmt.Sprintf("order paid %.2f, goodsValue + freight + taxTotal - discount = %.2f", o.ActuralPaid, want),
					"order.acturalPaid", "order.goodsValue", "order.freight", "order.taxTotal", "order.discount")
			}
		case state.RuleConsignee:
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
		case state.RuleItems:
			if msg := itemsWithin(inv.Items, o.Items, c.AmountTolerance); msg != "" {
				fail(r, msg, "inventory.items", "order.items")
			}
		case state.RuleWaybillFreight:
			if !money(inv.Freight, w.Freight) || !money(inv.InsuredFee, w.InsuredFee) {
				fail(r, fmt.Sprintf("inventory freight %.2f / insured %.2f, waybill %.2f / %.2f", inv.Freight, inv.InsuredFee, w.Freight, w.InsuredFee),
					"inventory.freight", "inventory.insuredFee", "waybill.freight", "waybill.insuredFee")
			}
		case state.RuleWaybillWeight:
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
func itemsWithin(inv, order []state.OrderItem, tol float64) string {
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
