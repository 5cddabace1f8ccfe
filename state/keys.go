package state

// Every key of the store begins with one byte naming its family. This file is
// the one table of them: each prefix constant is declared here and only here,
// and families lists every one with the domain that owns it and the section of
// FORMAT.md that documents its layout. TestKeyFamilies checks the table
// against the Go files of the package and against FORMAT.md.
//
// A new family takes a free byte in its domain's range (FORMAT.md, "Key
// prefix map"), a row in families and a section in FORMAT.md, in one commit.

// Key prefixes, by domain.
const (
	// kernel
	prefixVersion byte = 0x01
	prefixOffset  byte = 0x02
	prefixOutbox  byte = 0x20

	// container
	prefixCurrent      byte = 0x10
	prefixHistory      byte = 0x11
	prefixEventIdx     byte = 0x12
	prefixPlaceNow     byte = 0x13 // place | 0x00 | container → since
	prefixPlaceHistory byte = 0x14 // place | 0x00 | day | container | since → until
	prefixDwell        byte = 0x15 // since | container: boxes in the terminal
	prefixLocation     byte = 0x16 // container → its stays (locationRecord)
	prefixOnBoard      byte = 0x17 // mmsi | container → loaded; the bare prefix marks the family built
	prefixPendingLoad  byte = 0x18 // berth | 0x00 | loaded | container: a load that found no ship; bare prefix: marker

	// vessel
	prefixVessel      byte = 0x30
	prefixVesselTrack byte = 0x31
	prefixVesselIMO   byte = 0x32

	// truck
	PrefixTruck          byte = 0x40
	PrefixTruckTrack     byte = 0x41
	PrefixContainerTruck byte = 0x42

	// customs
	PrefixOrder       byte = 0x50 // ebpCode 0 orderNo -> order record
	PrefixLogiLink    byte = 0x51 // logisticsCode 0 logisticsNo -> ebpCode 0 orderNo
	PrefixLogistics   byte = 0x52 // logisticsCode 0 logisticsNo -> waybill
	PrefixReceipt     byte = 0x53 // ebpCode 0 copNo -> receipt state
	PrefixCopLink     byte = 0x54 // ebpCode 0 copNo -> orderNo
	PrefixOrderIdx    byte = 0x55 // kind byte | value 0 ebpCode 0 orderNo -> summary
	PrefixDeadline    byte = 0x56 // deadline u64 | ebpCode 0 orderNo -> empty
	PrefixBoxCustoms  byte = 0x58 // container -> container customs state
	PrefixCustomsList byte = 0x59 // 'h' | container (held), 'r' | container (released)

	// tenant
	PrefixAPIKey byte = 0x60
	prefixLink   byte = 0x61

	// dcsa
	PrefixDCSALog   byte = 0x64
	PrefixDCSAID    byte = 0x65
	PrefixSub       byte = 0x66
	PrefixSubState  byte = 0x67
	PrefixSubDead   byte = 0x68
	PrefixSubLog    byte = 0x69
	PrefixSubReplay byte = 0x6A
	PrefixDCSABox   byte = 0x6B // equipment index: container | seq

	// fence
	prefixUserFence     byte = 0x70
	prefixFenceMember   byte = 0x71
	prefixContainerFObs byte = 0x72

	// multimodal
	prefixPlan          byte = 0x80
	prefixPlanMember    byte = 0x81
	prefixPlanService   byte = 0x83
	prefixPlanStation   byte = 0x84
	prefixPlanCutoff    byte = 0x85
	prefixWaybill       byte = 0x86
	prefixWaybillMember byte = 0x87
	prefixGateAppt      byte = 0x88
	prefixGuardClock    byte = 0x8F

	// alert
	prefixAlertAck byte = 0x90 // alert id → who acknowledged it, when
)

// Domains own key families; the names are those of the packages the domains
// will move into.
const (
	domainKernel     = "kernel"
	domainContainer  = "container"
	domainVessel     = "vessel"
	domainTruck      = "truck"
	domainFence      = "fence"
	domainCustoms    = "customs"
	domainMultimodal = "multimodal"
	domainDCSA       = "dcsa"
	domainTenant     = "tenant"
	domainAlert      = "alert"
)

// keyFamily is one family of keys.
type keyFamily struct {
	prefix byte
	name   string // short, unique, for dumps and per-family digests
	domain string
	// control is true for control-plane families: written by their own
	// small batches outside Apply (never with a partition's offset).
	control bool
	section string // the FORMAT.md heading that documents the layout
}

// families is every key family, in prefix order.
var families = [...]keyFamily{
	{prefixVersion, "version", domainKernel, true, "Format version"},
	{prefixOffset, "offset", domainKernel, false, "Consumed offsets"},
	{prefixCurrent, "current", domainContainer, false, "Current container state"},
	{prefixHistory, "history", domainContainer, false, "History"},
	{prefixEventIdx, "event-id", domainContainer, false, "Event-id index (dedupe)"},
	{prefixPlaceNow, "place-now", domainContainer, false, "Container places and dwell"},
	{prefixPlaceHistory, "place-history", domainContainer, false, "Container places and dwell"},
	{prefixDwell, "dwell", domainContainer, false, "Container places and dwell"},
	{prefixLocation, "location", domainContainer, false, "Container places and dwell"},
	{prefixOnBoard, "on-board", domainContainer, false, "Container places and dwell"},
	{prefixPendingLoad, "pending-load", domainContainer, false, "Loads waiting for their ship"},
	{prefixOutbox, "outbox", domainKernel, false, "Outbox"},
	{prefixVessel, "vessel", domainVessel, false, "Vessels"},
	{prefixVesselTrack, "vessel-track", domainVessel, false, "Vessels"},
	{prefixVesselIMO, "vessel-imo", domainVessel, false, "Vessels"},
	{PrefixTruck, "truck", domainTruck, false, "Trucks"},
	{PrefixTruckTrack, "truck-track", domainTruck, false, "Trucks"},
	{PrefixContainerTruck, "container-truck", domainTruck, false, "Trucks"},
	{PrefixOrder, "order", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixLogiLink, "logistics-link", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixLogistics, "logistics", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixReceipt, "receipt", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixCopLink, "cop-link", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixOrderIdx, "order-index", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixDeadline, "order-deadline", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixBoxCustoms, "box-customs", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixCustomsList, "customs-list", domainCustoms, false, "Customs and cross-border e-commerce (0x50–0x5F)"},
	{PrefixAPIKey, "api-key", domainTenant, true, "Tenancy"},
	{prefixLink, "link", domainTenant, false, "Tenancy"},
	{PrefixDCSALog, "dcsa-log", domainDCSA, false, "DCSA event log"},
	{PrefixDCSAID, "dcsa-id", domainDCSA, false, "DCSA event log"},
	{PrefixSub, "subscription", domainDCSA, true, "Subscriptions"},
	{PrefixSubState, "sub-state", domainDCSA, true, "Subscriptions"},
	{PrefixSubDead, "sub-dead", domainDCSA, true, "Subscriptions"},
	{PrefixSubLog, "sub-log", domainDCSA, true, "Subscriptions"},
	{PrefixSubReplay, "sub-replay", domainDCSA, true, "Subscriptions"},
	{PrefixDCSABox, "dcsa-box", domainDCSA, false, "DCSA event log"},
	{prefixUserFence, "user-fence", domainFence, true, "Geofences"},
	{prefixFenceMember, "fence-member", domainFence, false, "Geofences"},
	{prefixContainerFObs, "container-observed", domainFence, false, "Geofences"},
	{prefixPlan, "plan", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixPlanMember, "plan-member", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixPlanService, "plan-service", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixPlanStation, "plan-station", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixPlanCutoff, "plan-wake", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixWaybill, "waybill", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixWaybillMember, "waybill-member", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixGateAppt, "gate-appointment", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixGuardClock, "guard-clock", domainMultimodal, false, "Multimodal plans, waybills and the connection guard"},
	{prefixAlertAck, "alert-ack", domainAlert, true, "Alert acknowledgements"},
}

// familyByPrefix indexes families by prefix byte; nil for a free byte.
// TestKeyFamilies checks that no two rows share a byte.
var familyByPrefix = func() (t [256]*keyFamily) {
	for i := range families {
		t[families[i].prefix] = &families[i]
	}
	return t
}()

// familyOf names the family of a stored key: "" for an empty key or one
// whose first byte no family has.
func familyOf(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	if f := familyByPrefix[key[0]]; f != nil {
		return f.name
	}
	return ""
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return "0x" + string([]byte{digits[b>>4], digits[b&0xF]})
}
