package state

import (
	"fmt"
	"math"
	"strings"
)

// The configuration of customs processing (state/customs): three-document
// matching (DOMAIN.md §7.3) and its results. No primary text defines the
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

// WithDefaults returns c with every zero field set to its default.
func (c CustomsConfig) WithDefaults() CustomsConfig {
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
