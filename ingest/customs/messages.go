package customs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The CEB message bodies, read from XML (element names, any namespace
// prefix) and from the equivalent JSON (the same names as keys).

// num is a decimal that reads from XML text and from a JSON number or
// string; empty is zero.
type num float64

func (n *num) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return &fieldError{msg: "not a number: " + strconv.Quote(s)}
	}
	*n = num(v)
	return nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return n.UnmarshalText([]byte(s))
	}
	if string(b) == "null" {
		*n = 0
		return nil
	}
	return n.UnmarshalText(b)
}

// text is a string that reads from XML text and from a JSON string or
// number (e-port JSON writes codes either way).
type text string

func (t *text) UnmarshalText(b []byte) error { *t = text(strings.TrimSpace(string(b))); return nil }

func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(strings.TrimSpace(s))
		return nil
	}
	if string(b) == "null" {
		*t = ""
		return nil
	}
	*t = text(bytes.TrimSpace(b))
	return nil
}

// list is an array that also reads a single JSON object.
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = list[T]{one}
		return nil
	}
	var many []T
	err := json.Unmarshal(b, &many)
	*l = many
	return err
}

type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

// head are the fields every CEB business head carries.
type head struct {
	GUID      text `xml:"guid" json:"guid"`
	AppType   text `xml:"appType" json:"appType"`
	AppTime   text `xml:"appTime" json:"appTime"`
	AppStatus text `xml:"appStatus" json:"appStatus"`
}

type itemLine struct {
	GNum       num  `xml:"gnum" json:"gnum"`
	ItemNo     text `xml:"itemNo" json:"itemNo"`
	ItemName   text `xml:"itemName" json:"itemName"`
	Unit       text `xml:"unit" json:"unit"`
	Qty        num  `xml:"qty" json:"qty"`
	Price      num  `xml:"price" json:"price"`
	TotalPrice num  `xml:"totalPrice" json:"totalPrice"`
	Country    text `xml:"country" json:"country"`
}

type orderHead struct {
	head
	OrderType          text `xml:"orderType" json:"orderType"`
	OrderNo            text `xml:"orderNo" json:"orderNo"`
	EBPCode            text `xml:"ebpCode" json:"ebpCode"`
	EBPName            text `xml:"ebpName" json:"ebpName"`
	EBCCode            text `xml:"ebcCode" json:"ebcCode"`
	EBCName            text `xml:"ebcName" json:"ebcName"`
	GoodsValue         num  `xml:"goodsValue" json:"goodsValue"`
	Freight            num  `xml:"freight" json:"freight"`
	Discount           num  `xml:"discount" json:"discount"`
	TaxTotal           num  `xml:"taxTotal" json:"taxTotal"`
	ActuralPaid        num  `xml:"acturalPaid" json:"acturalPaid"`
	Currency           text `xml:"currency" json:"currency"`
	BuyerRegNo         text `xml:"buyerRegNo" json:"buyerRegNo"`
	BuyerName          text `xml:"buyerName" json:"buyerName"`
	BuyerIDType        text `xml:"buyerIdType" json:"buyerIdType"`
	BuyerIDNumber      text `xml:"buyerIdNumber" json:"buyerIdNumber"`
	BuyerTelephone     text `xml:"buyerTelephone" json:"buyerTelephone"`
	PayCode            text `xml:"payCode" json:"payCode"`
	PayName            text `xml:"payName" json:"payName"`
	PayTransactionID   text `xml:"payTransactionId" json:"payTransactionId"`
	Consignee          text `xml:"consignee" json:"consignee"`
	ConsigneeTelephone text `xml:"consigneeTelephone" json:"consigneeTelephone"`
	ConsigneeAddress   text `xml:"consigneeAddress" json:"consigneeAddress"`
	ConsigneeDistrict  text `xml:"consigneeDistrict" json:"consigneeDistrict"`
}

type order struct {
	Head  orderHead      `xml:"OrderHead" json:"OrderHead"`
	Lines list[itemLine] `xml:"OrderList" json:"OrderList"`
}

type paymentHead struct {
	head
	PayCode          text `xml:"payCode" json:"payCode"`
	PayName          text `xml:"payName" json:"payName"`
	PayTransactionID text `xml:"payTransactionId" json:"payTransactionId"`
	OrderNo          text `xml:"orderNo" json:"orderNo"`
	EBPCode          text `xml:"ebpCode" json:"ebpCode"`
	PayerIDType      text `xml:"payerIdType" json:"payerIdType"`
	PayerIDNumber    text `xml:"payerIdNumber" json:"payerIdNumber"`
	PayerName        text `xml:"payerName" json:"payerName"`
	Telephone        text `xml:"telephone" json:"telephone"`
	AmountPaid       num  `xml:"amountPaid" json:"amountPaid"`
	Currency         text `xml:"currency" json:"currency"`
	PayTime          text `xml:"payTime" json:"payTime"`
}

type payment struct {
	Head paymentHead `xml:"PaymentHead" json:"PaymentHead"`
}

type logisticsHead struct {
	head
	LogisticsCode      text `xml:"logisticsCode" json:"logisticsCode"`
	LogisticsName      text `xml:"logisticsName" json:"logisticsName"`
	LogisticsNo        text `xml:"logisticsNo" json:"logisticsNo"`
	BillNo             text `xml:"billNo" json:"billNo"`
	OrderNo            text `xml:"orderNo" json:"orderNo"`
	Freight            num  `xml:"freight" json:"freight"`
	InsuredFee         num  `xml:"insuredFee" json:"insuredFee"`
	Currency           text `xml:"currency" json:"currency"`
	Weight             num  `xml:"weight" json:"weight"`
	PackNo             num  `xml:"packNo" json:"packNo"`
	GoodsInfo          text `xml:"goodsInfo" json:"goodsInfo"`
	Consignee          text `xml:"consignee" json:"consignee"`
	ConsigneeAddress   text `xml:"consigneeAddress" json:"consigneeAddress"`
	ConsigneeTelephone text `xml:"consigneeTelephone" json:"consigneeTelephone"`
}

type logistics struct {
	Head logisticsHead `xml:"LogisticsHead" json:"LogisticsHead"`
}

type inventoryHead struct {
	head
	OrderNo       text `xml:"orderNo" json:"orderNo"`
	EBPCode       text `xml:"ebpCode" json:"ebpCode"`
	EBCCode       text `xml:"ebcCode" json:"ebcCode"`
	LogisticsNo   text `xml:"logisticsNo" json:"logisticsNo"`
	LogisticsCode text `xml:"logisticsCode" json:"logisticsCode"`
	CopNo         text `xml:"copNo" json:"copNo"`
	PreNo         text `xml:"preNo" json:"preNo"`
	EMSNo         text `xml:"emsNo" json:"emsNo"`
	InvtNo        text `xml:"invtNo" json:"invtNo"`
	IEFlag        text `xml:"ieFlag" json:"ieFlag"`
	DeclTime      text `xml:"declTime" json:"declTime"`
	CustomsCode   text `xml:"customsCode" json:"customsCode"`
	PortCode      text `xml:"portCode" json:"portCode"`
	IEDate        text `xml:"ieDate" json:"ieDate"`
	BuyerIDType   text `xml:"buyerIdType" json:"buyerIdType"`
	BuyerIDNumber text `xml:"buyerIdNumber" json:"buyerIdNumber"`
	BuyerName     text `xml:"buyerName" json:"buyerName"`
	AgentCode     text `xml:"agentCode" json:"agentCode"`
	AreaCode      text `xml:"areaCode" json:"areaCode"`
	AreaName      text `xml:"areaName" json:"areaName"`
	TradeMode     text `xml:"tradeMode" json:"tradeMode"`
	TrafMode      text `xml:"trafMode" json:"trafMode"`
	VoyageNo      text `xml:"voyageNo" json:"voyageNo"`
	BillNo        text `xml:"billNo" json:"billNo"`
	LoctNo        text `xml:"loctNo" json:"loctNo"`
	Freight       num  `xml:"freight" json:"freight"`
	InsuredFee    num  `xml:"insuredFee" json:"insuredFee"`
	GrossWeight   num  `xml:"grossWeight" json:"grossWeight"`
	NetWeight     num  `xml:"netWeight" json:"netWeight"`
}

type inventory struct {
	Head  inventoryHead  `xml:"InventoryHead" json:"InventoryHead"`
	Lines list[itemLine] `xml:"InventoryList" json:"InventoryList"`
}

type inventoryReturn struct {
	GUID         text `xml:"guid" json:"guid"`
	CustomsCode  text `xml:"customsCode" json:"customsCode"`
	EBPCode      text `xml:"ebpCode" json:"ebpCode"`
	EBCCode      text `xml:"ebcCode" json:"ebcCode"`
	AgentCode    text `xml:"agentCode" json:"agentCode"`
	CopNo        text `xml:"copNo" json:"copNo"`
	PreNo        text `xml:"preNo" json:"preNo"`
	InvtNo       text `xml:"invtNo" json:"invtNo"`
	ReturnStatus text `xml:"returnStatus" json:"returnStatus"`
	ReturnTime   text `xml:"returnTime" json:"returnTime"`
	ReturnInfo   text `xml:"returnInfo" json:"returnInfo"`
}

// signature is an XML-DSig Signature element (XML form only).
type signature struct {
	SignatureValue  text `xml:"SignatureValue"`
	SignatureMethod struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"SignedInfo>SignatureMethod"`
	Certificate text `xml:"KeyInfo>X509Data>X509Certificate"`
}

// envelope is any of the supported CEB messages: the body of the type at
// hand is filled, the others stay empty.
type envelope struct {
	GUID      text                  `xml:"guid,attr" json:"guid"`
	Version   text                  `xml:"version,attr" json:"version"`
	Orders    list[order]           `xml:"Order" json:"Order"`
	Payments  list[payment]         `xml:"Payment" json:"Payment"`
	Logistics list[logistics]       `xml:"Logistics" json:"Logistics"`
	Invts     list[inventory]       `xml:"Inventory" json:"Inventory"`
	Returns   list[inventoryReturn] `xml:"InventoryReturn" json:"InventoryReturn"`
	Signature *signature            `xml:"http://www.w3.org/2000/09/xmldsig# Signature" json:"-"`
}
