package customs

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

// Namespace is the namespace of the CEB message envelopes.
const Namespace = "http://www.chinaport.gov.cn/ceb"

// Reason codes of this decoder beyond the shared ones (ingest/decode):
// stable, part of the dead-letter contract.
const (
	ReasonMalformedXML   = "malformed_xml"   // not well-formed XML, or a body that does not fit its type
	ReasonWrongNamespace = "wrong_namespace" // the root element is not in the CEB namespace
	ReasonUnknownType    = "unknown_type"    // a CEB or container message type this version does not read
	ReasonBadEncoding    = "bad_encoding"    // bytes invalid in the declared encoding, or an encoding not supported
	ReasonBadSignature   = "bad_signature"   // the XML-DSig signature does not verify against the trusted certificates
)

// Config configures a Decoder.
type Config struct {
	// TrustedCerts, when not empty, turns on signature verification: a
	// signed message must carry a certificate that is one of these or is
	// signed by one of them, and a signature that verifies. Unsigned
	// messages are accepted either way.
	TrustedCerts []*x509.Certificate
}

// Decoder decodes port.customs records. It is stateless and safe for
// concurrent use.
type Decoder struct {
	cfg Config
}

// NewDecoder returns a decoder.
func NewDecoder(cfg Config) *Decoder { return &Decoder{cfg: cfg} }

var (
	xmlDecl  = regexp.MustCompile(`^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']`)
	cebRoot  = regexp.MustCompile(`^CEB(\d{3})Message$`)
	cebType  = regexp.MustCompile(`^CEB(\d{3})(Message)?$`)
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	supports = map[string]state.CustomsType{"311": state.CEB311, "411": state.CEB411, "511": state.CEB511, "621": state.CEB621, "622": state.CEB622}
)

// Decode appends the documents of one record to dst. A record is a CEB
// message in XML (UTF-8 or GB2312/GBK/GB18030 as declared) or JSON, or a
// container customs message in JSON. On error dst is returned unchanged
// with a *decode.Error.
func (d *Decoder) Decode(dst []state.CustomsDoc, value []byte) ([]state.CustomsDoc, error) {
	v := bytes.TrimPrefix(value, utf8BOM)
	v = bytes.TrimLeft(v, " \t\r\n")
	n := len(dst)
	var err error
	switch {
	case len(v) == 0:
		return dst, decode.Errorf(decode.ReasonEmpty, "record holds only blanks")
	case v[0] == '<':
		dst, err = d.decodeXML(dst, v, value)
	case v[0] == '{':
		dst, err = d.decodeJSON(dst, v, value)
	default:
		return dst, decode.Errorf(decode.ReasonUnknownFormat, "neither XML nor JSON")
	}
	if err == nil {
		for i := n; i < len(dst); i++ {
			if verr := dst[i].Validate(); verr != nil {
				err = decode.Errorf(decode.ReasonInvalidEvent, "%v", verr)
				break
			}
		}
	}
	if err != nil {
		clear(dst[n:])
		return dst[:n], err
	}
	return dst, nil
}

// toUTF8 converts an XML document to UTF-8 following its declaration.
func toUTF8(doc []byte) ([]byte, error) {
	head := doc[:min(len(doc), 256)]
	enc := ""
	if m := xmlDecl.FindSubmatch(head); m != nil {
		enc = strings.ToLower(string(m[1]))
	}
	switch enc {
	case "", "utf-8", "utf8":
		if !utf8.Valid(doc) {
			return nil, decode.Errorf(ReasonBadEncoding, "not valid UTF-8")
		}
		return doc, nil
	case "gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn":
		// GB18030 is a superset of GBK, itself a superset of GB2312.
		out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(doc)
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
			return nil, decode.Errorf(ReasonBadEncoding, "bytes invalid in declared encoding %s", enc)
		}
		return out, nil
	default:
		return nil, decode.Errorf(ReasonBadEncoding, "unsupported encoding %q (want UTF-8, GB2312, GBK or GB18030)", enc)
	}
}

func (d *Decoder) decodeXML(dst []state.CustomsDoc, doc, raw []byte) ([]state.CustomsDoc, error) {
	utf, err := toUTF8(doc)
	if err != nil {
		return dst, err
	}
	dec := xml.NewDecoder(bytes.NewReader(utf))
	// Already UTF-8: the declared label only names what it was.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var root xml.StartElement
	for {
		tok, err := dec.Token()
		if err != nil {
			return dst, decode.Errorf(ReasonMalformedXML, "%v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			root = se
			break
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) > 0 {
			return dst, decode.Errorf(ReasonMalformedXML, "text before the root element")
		}
	}
	if root.Name.Space != Namespace {
		return dst, decode.Errorf(ReasonWrongNamespace, "root element %s is in namespace %q, want %q", root.Name.Local, root.Name.Space, Namespace)
	}
	m := cebRoot.FindStringSubmatch(root.Name.Local)
	if m == nil {
		return dst, decode.Errorf(ReasonUnknownType, "root element %s is not a CEB message", root.Name.Local)
	}
	typ, ok := supports[m[1]]
	if !ok {
		return dst, decode.Errorf(ReasonUnknownType, "CEB%s messages are not read", m[1])
	}
	var env envelope
	if err := dec.DecodeElement(&env, &root); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return dst, decode.Errorf(decode.ReasonBadField, "%v", err)
		}
		return dst, decode.Errorf(ReasonMalformedXML, "%v", err)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return dst, decode.Errorf(ReasonMalformedXML, "after the root element: %v", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return dst, decode.Errorf(ReasonMalformedXML, "text after the root element")
			}
		case xml.StartElement:
			return dst, decode.Errorf(ReasonMalformedXML, "a second root element %s", t.Name.Local)
		}
	}
	signed, verified := false, false
	if env.Signature != nil {
		signed = true
		if len(d.cfg.TrustedCerts) > 0 {
			if err := verifySignature(utf, env.Signature, d.cfg.TrustedCerts); err != nil {
				return dst, decode.Errorf(ReasonBadSignature, "%v", err)
			}
			verified = true
		}
	}
	return appendDocs(dst, typ, &env, raw, signed, verified)
}

// jsonMessage is the JSON form: a CEB envelope with "type": "CEB311", ...
// or a container customs message with "type": "container.<event>".
type jsonMessage struct {
	Type text `json:"type"`
	envelope
	// Container messages.
	ID            text `json:"id"`
	Container     text `json:"container"`
	T             text `json:"t"`
	HoldKind      text `json:"hold_kind"`
	Reason        text `json:"reason"`
	DeclarationNo text `json:"declaration_no"`
	BillNo        text `json:"bill_no"`
	TradeMode     text `json:"trade_mode"`
	AreaCode      text `json:"area_code"`
	CustomsCode   text `json:"customs_code"`
}

func (d *Decoder) decodeJSON(dst []state.CustomsDoc, doc, raw []byte) ([]state.CustomsDoc, error) {
	if !utf8.Valid(doc) {
		return dst, decode.Errorf(ReasonBadEncoding, "JSON is not valid UTF-8")
	}
	var m jsonMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return dst, decode.Errorf(decode.ReasonInvalidJSON, "%v", err)
		}
		return dst, decode.Errorf(decode.ReasonBadField, "%v", err)
	}
	typ := string(m.Type)
	if typ == "" {
		return dst, decode.Errorf(decode.ReasonMissingField, "type: required (CEB311, CEB411, CEB511, CEB621, CEB622 or container.<event>)")
	}
	if ev, ok := strings.CutPrefix(typ, "container."); ok {
		return d.containerMessage(dst, &m, ev, raw)
	}
	mm := cebType.FindStringSubmatch(typ)
	if mm == nil {
		return dst, decode.Errorf(ReasonUnknownType, "type %q", typ)
	}
	ct, ok := supports[mm[1]]
	if !ok {
		return dst, decode.Errorf(ReasonUnknownType, "CEB%s messages are not read", mm[1])
	}
	return appendDocs(dst, ct, &m.envelope, raw, false, false)
}

func (d *Decoder) containerMessage(dst []state.CustomsDoc, m *jsonMessage, ev string, raw []byte) ([]state.CustomsDoc, error) {
	known := false
	for _, e := range state.BoxEvents() {
		known = known || e == ev
	}
	if !known {
		return dst, decode.Errorf(ReasonUnknownType, "container customs event %q (known: %s)", ev, strings.Join(state.BoxEvents(), ", "))
	}
	if m.Container == "" {
		return dst, decode.Errorf(decode.ReasonMissingField, "container: required")
	}
	box, err := state.ParseContainer(string(m.Container))
	if err != nil {
		if errors.Is(err, state.ErrContainerCheckDigit) {
			return dst, decode.Errorf(decode.ReasonCheckDigit, "%v", err)
		}
		return dst, decode.Errorf(decode.ReasonBadContainer, "%v", err)
	}
	if m.T == "" {
		return dst, decode.Errorf(decode.ReasonMissingField, "t: required")
	}
	t, err := state.ParseCEBTime(string(m.T))
	if err != nil {
		return dst, decode.Errorf(decode.ReasonBadTime, "t: %v", err)
	}
	switch m.HoldKind {
	case "", "customs", "quarantine":
	default:
		return dst, decode.Errorf(decode.ReasonBadField, "hold_kind %q: want customs or quarantine", m.HoldKind)
	}
	id := string(m.ID)
	if id == "" {
		id = contentID(raw, 0)
	}
	return append(dst, state.CustomsDoc{Type: state.CustomsContainer, ID: id, Time: t, Box: &state.ContainerCustomsEvent{
		Container: box, Event: ev, HoldKind: string(m.HoldKind), Reason: string(m.Reason),
		DeclarationNo: string(m.DeclarationNo), BillNo: string(m.BillNo), TradeMode: string(m.TradeMode),
		AreaCode: string(m.AreaCode), CustomsCode: string(m.CustomsCode),
	}}), nil
}

func contentID(raw []byte, i int) string {
	h := sha256.Sum256(raw)
	return fmt.Sprintf("sha256:%s/%d", hex.EncodeToString(h[:16]), i)
}

// docID is the id of the i-th business node: its own guid, else the
// envelope guid (with the index when there are several), else a hash.
func docID(own text, env *envelope, raw []byte, i, n int) string {
	switch {
	case own != "":
		return string(own)
	case env.GUID != "" && n == 1:
		return string(env.GUID)
	case env.GUID != "":
		return fmt.Sprintf("%s/%d", env.GUID, i)
	}
	return contentID(raw, i)
}

func need(field string, v text) error {
	if v == "" {
		return decode.Errorf(decode.ReasonMissingField, "%s: required", field)
	}
	return nil
}

func msgTime(field string, v text) (int64, error) {
	if err := need(field, v); err != nil {
		return 0, err
	}
	t, err := state.ParseCEBTime(string(v))
	if err != nil {
		return 0, decode.Errorf(decode.ReasonBadTime, "%s: %v", field, err)
	}
	return t, nil
}

func items(ls list[itemLine]) []state.OrderItem {
	out := make([]state.OrderItem, 0, len(ls))
	for _, l := range ls {
		out = append(out, state.OrderItem{GNum: int(l.GNum), ItemNo: string(l.ItemNo), ItemName: string(l.ItemName), Unit: string(l.Unit),
			Qty: float64(l.Qty), Price: float64(l.Price), TotalPrice: float64(l.TotalPrice), Country: string(l.Country)})
	}
	return out
}

func appendDocs(dst []state.CustomsDoc, typ state.CustomsType, env *envelope, raw []byte, signed, verified bool) ([]state.CustomsDoc, error) {
	base := state.CustomsDoc{Type: typ, Signed: signed, SignatureVerified: verified}
	var count int
	switch typ {
	case state.CEB311:
		count = len(env.Orders)
		for i, o := range env.Orders {
			h := &o.Head
			if err := errors.Join(need("OrderHead.orderNo", h.OrderNo), need("OrderHead.ebpCode", h.EBPCode)); err != nil {
				return dst, err
			}
			t, err := msgTime("OrderHead.appTime", h.AppTime)
			if err != nil {
				return dst, err
			}
			doc := base
			doc.ID, doc.Time = docID(h.GUID, env, raw, i, count), t
			doc.Order = &state.Order{AppType: string(h.AppType), OrderType: string(h.OrderType), OrderNo: string(h.OrderNo), EBPCode: string(h.EBPCode),
				EBPName: string(h.EBPName), EBCCode: string(h.EBCCode), EBCName: string(h.EBCName), GoodsValue: float64(h.GoodsValue),
				Freight: float64(h.Freight), Discount: float64(h.Discount), TaxTotal: float64(h.TaxTotal), ActuralPaid: float64(h.ActuralPaid),
				Currency: string(h.Currency), BuyerRegNo: string(h.BuyerRegNo), BuyerName: string(h.BuyerName), BuyerIDType: string(h.BuyerIDType),
				BuyerIDNumber: string(h.BuyerIDNumber), BuyerTelephone: string(h.BuyerTelephone), PayCode: string(h.PayCode), PayName: string(h.PayName),
				PayTransactionID: string(h.PayTransactionID), Consignee: string(h.Consignee), ConsigneeTel: string(h.ConsigneeTelephone),
				ConsigneeAddress: string(h.ConsigneeAddress), ConsigneeDistr: string(h.ConsigneeDistrict), Items: items(o.Lines)}
			dst = append(dst, doc)
		}
	case state.CEB411:
		count = len(env.Payments)
		for i, p := range env.Payments {
			h := &p.Head
			if err := errors.Join(need("PaymentHead.orderNo", h.OrderNo), need("PaymentHead.ebpCode", h.EBPCode)); err != nil {
				return dst, err
			}
			tf, tv := "PaymentHead.appTime", h.AppTime
			if tv == "" {
				tf, tv = "PaymentHead.payTime", h.PayTime
			}
			t, err := msgTime(tf, tv)
			if err != nil {
				return dst, err
			}
			doc := base
			doc.ID, doc.Time = docID(h.GUID, env, raw, i, count), t
			doc.Payment = &state.Payment{PayCode: string(h.PayCode), PayName: string(h.PayName), PayTransactionID: string(h.PayTransactionID),
				OrderNo: string(h.OrderNo), EBPCode: string(h.EBPCode), PayerIDType: string(h.PayerIDType), PayerIDNumber: string(h.PayerIDNumber),
				PayerName: string(h.PayerName), Telephone: string(h.Telephone), AmountPaid: float64(h.AmountPaid), Currency: string(h.Currency), PayTime: string(h.PayTime)}
			dst = append(dst, doc)
		}
	case state.CEB511:
		count = len(env.Logistics)
		for i, l := range env.Logistics {
			h := &l.Head
			if err := errors.Join(need("LogisticsHead.logisticsCode", h.LogisticsCode), need("LogisticsHead.logisticsNo", h.LogisticsNo)); err != nil {
				return dst, err
			}
			t, err := msgTime("LogisticsHead.appTime", h.AppTime)
			if err != nil {
				return dst, err
			}
			doc := base
			doc.ID, doc.Time = docID(h.GUID, env, raw, i, count), t
			doc.Waybill = &state.Logistics{LogisticsCode: string(h.LogisticsCode), LogisticsName: string(h.LogisticsName), LogisticsNo: string(h.LogisticsNo),
				BillNo: string(h.BillNo), OrderNo: string(h.OrderNo), Freight: float64(h.Freight), InsuredFee: float64(h.InsuredFee), Currency: string(h.Currency),
				Weight: float64(h.Weight), PackNo: int(h.PackNo), GoodsInfo: string(h.GoodsInfo), Consignee: string(h.Consignee),
				ConsigneeAddress: string(h.ConsigneeAddress), ConsigneeTel: string(h.ConsigneeTelephone)}
			dst = append(dst, doc)
		}
	case state.CEB621:
		count = len(env.Invts)
		for i, inv := range env.Invts {
			h := &inv.Head
			if err := errors.Join(need("InventoryHead.orderNo", h.OrderNo), need("InventoryHead.ebpCode", h.EBPCode), need("InventoryHead.copNo", h.CopNo),
				need("InventoryHead.logisticsCode", h.LogisticsCode), need("InventoryHead.logisticsNo", h.LogisticsNo)); err != nil {
				return dst, err
			}
			t, err := msgTime("InventoryHead.appTime", h.AppTime)
			if err != nil {
				return dst, err
			}
			doc := base
			doc.ID, doc.Time = docID(h.GUID, env, raw, i, count), t
			doc.Inventory = &state.Inventory{AppType: string(h.AppType), OrderNo: string(h.OrderNo), EBPCode: string(h.EBPCode), EBCCode: string(h.EBCCode),
				LogisticsNo: string(h.LogisticsNo), LogisticsCode: string(h.LogisticsCode), CopNo: string(h.CopNo), PreNo: string(h.PreNo), EMSNo: string(h.EMSNo),
				InvtNo: string(h.InvtNo), CustomsCode: string(h.CustomsCode), PortCode: string(h.PortCode), BuyerName: string(h.BuyerName),
				BuyerIDType: string(h.BuyerIDType), BuyerIDNumber: string(h.BuyerIDNumber), AreaCode: string(h.AreaCode), AreaName: string(h.AreaName),
				TradeMode: string(h.TradeMode), TrafMode: string(h.TrafMode), VoyageNo: string(h.VoyageNo), BillNo: string(h.BillNo), LoctNo: string(h.LoctNo),
				Freight: float64(h.Freight), InsuredFee: float64(h.InsuredFee), GrossWeight: float64(h.GrossWeight), NetWeight: float64(h.NetWeight), Items: items(inv.Lines)}
			dst = append(dst, doc)
		}
	case state.CEB622:
		count = len(env.Returns)
		for i, r := range env.Returns {
			if err := errors.Join(need("InventoryReturn.ebpCode", r.EBPCode), need("InventoryReturn.copNo", r.CopNo), need("InventoryReturn.returnStatus", r.ReturnStatus)); err != nil {
				return dst, err
			}
			if _, ok := state.ReceiptState(string(r.ReturnStatus)); !ok {
				return dst, decode.Errorf(decode.ReasonBadField, "InventoryReturn.returnStatus %q is not a known receipt code", r.ReturnStatus)
			}
			t, err := msgTime("InventoryReturn.returnTime", r.ReturnTime)
			if err != nil {
				return dst, err
			}
			doc := base
			doc.ID, doc.Time = docID(r.GUID, env, raw, i, count), t
			doc.Receipt = &state.Receipt{CustomsCode: string(r.CustomsCode), EBPCode: string(r.EBPCode), EBCCode: string(r.EBCCode), AgentCode: string(r.AgentCode),
				CopNo: string(r.CopNo), PreNo: string(r.PreNo), InvtNo: string(r.InvtNo), ReturnStatus: string(r.ReturnStatus), ReturnInfo: string(r.ReturnInfo)}
			dst = append(dst, doc)
		}
	}
	if count == 0 {
		return dst, decode.Errorf(decode.ReasonMissingField, "%s message without a business node", typ)
	}
	return dst, nil
}
