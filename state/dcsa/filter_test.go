package dcsa

import (
	"net/url"
	"strings"
	"testing"
)

// TestFilterRejectsSTOR: STOR is porttrack's own code, not a DCSA 2.2
// equipmentEventTypeCode, so /v2/events and subscriptions refuse it.
func TestFilterRejectsSTOR(t *testing.T) {
	if _, err := ParseFilter(url.Values{"equipmentEventTypeCode": {"STOR"}}, 100, true); err == nil ||
		!strings.Contains(err.Error(), "STOR") {
		t.Fatalf("equipmentEventTypeCode=STOR: %v, want an error naming it", err)
	}
	if _, err := ParseFilter(url.Values{"equipmentEventTypeCode": {"INSP"}}, 100, true); err != nil {
		t.Fatalf("equipmentEventTypeCode=INSP: %v", err)
	}
}
