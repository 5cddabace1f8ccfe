package state

import (
	"errors"
	"fmt"
	"time"
)

// Customs documents: what ingest/customs decodes from port.customs and
// Store.Apply folds into order aggregates (three-document matching), parcel
// receipts and container customs state. The JSON tags are the field names of
// the China e-port CEB messages (DOMAIN.md §7.1): the stored order record is
// served as it is by the query API.

// CustomsType names a customs message type.
type CustomsType string

// Customs message types.
const (
	CEB311 CustomsType = "CEB311" // e-commerce order
	CEB411 CustomsType = "CEB411" // payment
	CEB511 CustomsType = "CEB511" // logistics waybill
	CEB621 CustomsType = "CEB621" // import inventory (清单)
	CEB622 CustomsType = "CEB622" // inventory receipt (回执)
	// CustomsContainer is a container-level customs message (manifest
	// arrival, declaration, inspection, hold, release, close).
	CustomsContainer CustomsType = "container"
)

// CustomsDoc is one decoded customs message. Exactly one of the document
// pointers is set, the one of Type.
type CustomsDoc struct {
	Type CustomsType
	// ID is the stable identity: the business node's guid, else the
	// envelope guid, else a hash of the content.
	ID string
	// Time is the message time (appTime, returnTime, t) in Unix ns UTC.
	Time int64
	// Signature is the XML-DSig Signature element when the message had one;
	// SignatureVerified is true when it was checked against a trusted
	// certificate.
	Signed            bool
	SignatureVerified bool

	Order     *Order
	Payment   *Payment
	Waybill   *Logistics
	Inventory *Inventory
	Receipt   *Receipt
	Box       *ContainerCustomsEvent
}

// Order is the CEB311 OrderHead with its lines.
type Order struct {
	AppType          string      `json:"appType,omitempty"`
	OrderType        string      `json:"orderType,omitempty"`
	OrderNo          string      `json:"orderNo"`
	EBPCode          string      `json:"ebpCode"`
	EBPName          string      `json:"ebpName,omitempty"`
	EBCCode          string      `json:"ebcCode,omitempty"`
	EBCName          string      `json:"ebcName,omitempty"`
	GoodsValue       float64     `json:"goodsValue"`
	Freight          float64     `json:"freight"`
	Discount         float64     `json:"discount"`
	TaxTotal         float64     `json:"taxTotal"`
	ActuralPaid      float64     `json:"acturalPaid"`
	Currency         string      `json:"currency,omitempty"`
	BuyerRegNo       string      `json:"buyerRegNo,omitempty"`
	BuyerName        string      `json:"buyerName"`
	BuyerIDType      string      `json:"buyerIdType,omitempty"`
	BuyerIDNumber    string      `json:"buyerIdNumber"`
	BuyerTelephone   string      `json:"buyerTelephone,omitempty"`
	PayCode          string      `json:"payCode,omitempty"`
	PayName          string      `json:"payName,omitempty"`
	PayTransactionID string      `json:"payTransactionId,omitempty"`
	Consignee        string      `json:"consignee"`
	ConsigneeTel     string      `json:"consigneeTelephone,omitempty"`
	ConsigneeAddress string      `json:"consigneeAddress"`
	ConsigneeDistr   string      `json:"consigneeDistrict,omitempty"`
	Items            []OrderItem `json:"items,omitempty"`
}

// OrderItem is an order or inventory line.
type OrderItem struct {
	GNum       int     `json:"gnum"`
	ItemNo     string  `json:"itemNo"`
	ItemName   string  `json:"itemName,omitempty"`
	Unit       string  `json:"unit,omitempty"`
	Qty        float64 `json:"qty"`
	Price      float64 `json:"price"`
	TotalPrice float64 `json:"totalPrice"`
	Country    string  `json:"country,omitempty"`
}

// Payment is the CEB411 PaymentHead.
type Payment struct {
	PayCode          string  `json:"payCode"`
	PayName          string  `json:"payName,omitempty"`
	PayTransactionID string  `json:"payTransactionId"`
	OrderNo          string  `json:"orderNo"`
	EBPCode          string  `json:"ebpCode"`
	PayerIDType      string  `json:"payerIdType,omitempty"`
	PayerIDNumber    string  `json:"payerIdNumber"`
	PayerName        string  `json:"payerName"`
	Telephone        string  `json:"telephone,omitempty"`
	AmountPaid       float64 `json:"amountPaid"`
	Currency         string  `json:"currency,omitempty"`
	PayTime          string  `json:"payTime,omitempty"`
}

// Logistics is the CEB511 LogisticsHead: the waybill.
type Logistics struct {
	LogisticsCode    string  `json:"logisticsCode"`
	LogisticsName    string  `json:"logisticsName,omitempty"`
	LogisticsNo      string  `json:"logisticsNo"`
	BillNo           string  `json:"billNo,omitempty"`
	OrderNo          string  `json:"orderNo,omitempty"`
	Freight          float64 `json:"freight"`
	InsuredFee       float64 `json:"insuredFee"`
	Currency         string  `json:"currency,omitempty"`
	Weight           float64 `json:"weight"`
	PackNo           int     `json:"packNo,omitempty"`
	GoodsInfo        string  `json:"goodsInfo,omitempty"`
	Consignee        string  `json:"consignee"`
	ConsigneeAddress string  `json:"consigneeAddress"`
	ConsigneeTel     string  `json:"consigneeTelephone,omitempty"`
}

// Inventory is the CEB621 InventoryHead with its lines.
type Inventory struct {
	AppType       string      `json:"appType,omitempty"`
	OrderNo       string      `json:"orderNo"`
	EBPCode       string      `json:"ebpCode"`
	EBCCode       string      `json:"ebcCode,omitempty"`
	LogisticsNo   string      `json:"logisticsNo"`
	LogisticsCode string      `json:"logisticsCode"`
	CopNo         string      `json:"copNo"`
	PreNo         string      `json:"preNo,omitempty"`
	EMSNo         string      `json:"emsNo,omitempty"`
	InvtNo        string      `json:"invtNo,omitempty"`
	CustomsCode   string      `json:"customsCode,omitempty"`
	PortCode      string      `json:"portCode,omitempty"`
	BuyerName     string      `json:"buyerName"`
	BuyerIDType   string      `json:"buyerIdType,omitempty"`
	BuyerIDNumber string      `json:"buyerIdNumber"`
	AreaCode      string      `json:"areaCode,omitempty"`
	AreaName      string      `json:"areaName,omitempty"`
	TradeMode     string      `json:"tradeMode,omitempty"`
	TrafMode      string      `json:"trafMode,omitempty"`
	VoyageNo      string      `json:"voyageNo,omitempty"`
	BillNo        string      `json:"billNo,omitempty"`
	LoctNo        string      `json:"loctNo,omitempty"`
	Freight       float64     `json:"freight"`
	InsuredFee    float64     `json:"insuredFee"`
	GrossWeight   float64     `json:"grossWeight"`
	NetWeight     float64     `json:"netWeight"`
	Items         []OrderItem `json:"items,omitempty"`
}

// Receipt is the CEB622 InventoryReturn.
type Receipt struct {
	CustomsCode  string `json:"customsCode,omitempty"`
	EBPCode      string `json:"ebpCode"`
	EBCCode      string `json:"ebcCode,omitempty"`
	AgentCode    string `json:"agentCode,omitempty"`
	CopNo        string `json:"copNo"`
	PreNo        string `json:"preNo,omitempty"`
	InvtNo       string `json:"invtNo,omitempty"`
	ReturnStatus string `json:"returnStatus"`
	ReturnInfo   string `json:"returnInfo,omitempty"`
}

// ContainerCustomsEvent is a container-level customs message.
type ContainerCustomsEvent struct {
	Container string // ISO 6346, canonical
	// Event is one of the BoxEvent* constants.
	Event string
	// HoldKind is "customs" or "quarantine" for a hold ("" is customs).
	HoldKind      string
	Reason        string
	DeclarationNo string
	BillNo        string
	TradeMode     string // 1210: bonded cross-border e-commerce
	AreaCode      string // bonded-zone operator (1210)
	CustomsCode   string
}

// Container customs events.
const (
	BoxEventManifest    = "manifest_arrival"
	BoxEventDeclared    = "declared"
	BoxEventInspection  = "inspection"  // selected for inspection (查验)
	BoxEventScan        = "scan"        // selected for a non-intrusive scan
	BoxEventInspected   = "inspected"   // inspection or scan done, no finding
	BoxEventHeld        = "held"        // customs or quarantine hold
	BoxEventHoldLifted  = "hold_lifted" // one hold (by HoldKind) lifted
	BoxEventReleased    = "released"
	BoxEventZoneEntry   = "zone_entry" // 1210: entered the bonded zone
	BoxEventClosed      = "closed"
	maxCustomsFieldSize = 1024
)

// BoxEvents lists the container customs events.
func BoxEvents() []string {
	return []string{BoxEventManifest, BoxEventDeclared, BoxEventInspection, BoxEventScan, BoxEventInspected,
		BoxEventHeld, BoxEventHoldLifted, BoxEventReleased, BoxEventZoneEntry, BoxEventClosed}
}

// Validate checks what Store.Apply relies on.
func (d *CustomsDoc) Validate() error {
	if d.ID == "" || len(d.ID) > MaxIDLen {
		return errors.New("customs document has no id or a too long one")
	}
	if d.Time == 0 {
		return errors.New("customs document has no time")
	}
	n := 0
	for _, set := range []bool{d.Order != nil, d.Payment != nil, d.Waybill != nil, d.Inventory != nil, d.Receipt != nil, d.Box != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("customs document %s holds %d documents, want 1", d.ID, n)
	}
	short := func(what string, vs ...string) error {
		for _, v := range vs {
			if v == "" {
				return fmt.Errorf("customs %s: missing key field", what)
			}
			if len(v) > maxCustomsFieldSize {
				return fmt.Errorf("customs %s: key field longer than %d bytes", what, maxCustomsFieldSize)
			}
			for i := 0; i < len(v); i++ {
				if v[i] == 0 {
					return fmt.Errorf("customs %s: NUL in a key field", what)
				}
			}
		}
		return nil
	}
	switch {
	case d.Order != nil:
		return short("order", d.Order.EBPCode, d.Order.OrderNo)
	case d.Payment != nil:
		return short("payment", d.Payment.EBPCode, d.Payment.OrderNo)
	case d.Waybill != nil:
		return short("waybill", d.Waybill.LogisticsCode, d.Waybill.LogisticsNo)
	case d.Inventory != nil:
		return short("inventory", d.Inventory.EBPCode, d.Inventory.OrderNo, d.Inventory.LogisticsCode, d.Inventory.LogisticsNo, d.Inventory.CopNo)
	case d.Receipt != nil:
		if _, ok := receiptStates[d.Receipt.ReturnStatus]; !ok {
			return fmt.Errorf("customs receipt: unknown returnStatus %q", d.Receipt.ReturnStatus)
		}
		return short("receipt", d.Receipt.EBPCode, d.Receipt.CopNo)
	default:
		if err := CheckContainer(d.Box.Container); err != nil {
			return err
		}
		if boxEventRank(d.Box.Event) < 0 {
			return fmt.Errorf("customs container event %q unknown", d.Box.Event)
		}
	}
	return nil
}

func boxEventRank(ev string) int {
	for i, e := range BoxEvents() {
		if e == ev {
			return i
		}
	}
	return -1
}

// Receipt states (DOMAIN.md §7.2): the internal state of each CEB622
// returnStatus code.
var receiptStates = map[string]string{
	"1": "pending", "2": "pending", "3": "pending",
	"4":   "send_failed",
	"100": "rejected",
	"120": "accepted",
	"300": "under_review",
	"399": "concluded",
	"500": "inspection",
	"501": "held", "502": "held", "503": "held", "599": "held",
	"700": "returned",
	"800": "released",
	"899": "closed",
}

// ReceiptState maps a CEB622 returnStatus to porttrack's parcel customs
// state; ok is false for an unknown code.
func ReceiptState(returnStatus string) (state string, ok bool) {
	s, ok := receiptStates[returnStatus]
	return s, ok
}

// shanghai is the zone of e-port times, which carry none (DOMAIN.md §7.1).
var shanghai = time.FixedZone("CST", 8*3600)

// ParseCEBTime parses an e-port time: yyyyMMddHHmmss, yyyyMMddHHmmssSSS or
// yyyyMMdd, read as Asia/Shanghai (UTC+8), or RFC 3339.
func ParseCEBTime(s string) (int64, error) {
	var layout string
	switch len(s) {
	case 8:
		layout = "20060102"
	case 14:
		layout = "20060102150405"
	case 17:
		layout = "20060102150405.000"
		s = s[:14] + "." + s[14:]
	default:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("time %q: want yyyyMMddHHmmss[SSS] or RFC 3339", s)
		}
		return t.UnixNano(), nil
	}
	t, err := time.ParseInLocation(layout, s, shanghai)
	if err != nil {
		return 0, fmt.Errorf("time %q: want yyyyMMddHHmmss[SSS]", s)
	}
	return t.UnixNano(), nil
}
