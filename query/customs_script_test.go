package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/state"
)

// parseCustomsLine reads one line of a script's customs block: a JSON
// object {"type", "id", "t" (RFC 3339), and one of "order", "payment",
// "waybill", "inventory", "receipt" (CEB field names) or "box"
// ({"Container", "Event", "HoldKind", "Reason", ...})}.
func parseCustomsLine(t *testing.T, l string) state.CustomsDoc {
	t.Helper()
	var in struct {
		Type      state.CustomsType            `json:"type"`
		ID        string                       `json:"id"`
		T         time.Time                    `json:"t"`
		Order     *state.Order                 `json:"order"`
		Payment   *state.Payment               `json:"payment"`
		Waybill   *state.Logistics             `json:"waybill"`
		Inventory *state.Inventory             `json:"inventory"`
		Receipt   *state.Receipt               `json:"receipt"`
		Box       *state.ContainerCustomsEvent `json:"box"`
	}
	dec := json.NewDecoder(strings.NewReader(l))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("customs line %q: %v", l, err)
	}
	return state.CustomsDoc{Type: in.Type, ID: in.ID, Time: in.T.UnixNano(), Order: in.Order, Payment: in.Payment,
		Waybill: in.Waybill, Inventory: in.Inventory, Receipt: in.Receipt, Box: in.Box}
}
