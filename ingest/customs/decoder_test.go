package customs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOne(t *testing.T, value []byte) state.CustomsDoc {
	t.Helper()
	docs, err := NewDecoder(Config{}).Decode(nil, value)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("Decode returned %d documents, want 1", len(docs))
	}
	return docs[0]
}

func cst(s string) int64 {
	t, err := time.ParseInLocation("20060102150405", s, time.FixedZone("CST", 8*3600))
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func TestDecodeCEBSamples(t *testing.T) {
	o := decodeOne(t, readFile(t, "ceb311.xml"))
	if o.Type != state.CEB311 || o.ID != "4CDE1CFD-EDED-46B1-946C-B8022E42FC94" || o.Time != cst("20261122080000") || o.Order == nil {
		t.Fatalf("CEB311: %+v", o)
	}
	if g := o.Order; g.OrderNo != "NB20261122000001" || g.EBPCode != "3302461234" || g.ActuralPaid != 336.03 || g.BuyerName != "张三" ||
		len(g.Items) != 1 || g.Items[0].ItemNo != "SKU-1001" || g.Items[0].Qty != 2 || g.ConsigneeAddress != "浙江省宁波市鄞州区天童南路1号" {
		t.Errorf("CEB311 order: %+v", g)
	}
	p := decodeOne(t, readFile(t, "ceb411.xml"))
	if p.Payment == nil || p.Payment.AmountPaid != 336.03 || p.Payment.PayerIDNumber != "330203199001011234" || p.Time != cst("20261122080500") {
		t.Errorf("CEB411: %+v %+v", p, p.Payment)
	}
	w := decodeOne(t, readFile(t, "ceb511.xml"))
	if w.Waybill == nil || w.Waybill.LogisticsNo != "YT9000000000001" || w.Waybill.Weight != 1.8 {
		t.Errorf("CEB511: %+v", w.Waybill)
	}
	inv := decodeOne(t, readFile(t, "ceb621.xml"))
	if inv.Inventory == nil || inv.Inventory.CopNo != "COP20261122000001" || inv.Inventory.TradeMode != "1210" || inv.Inventory.AreaCode != "3302W6000A" || len(inv.Inventory.Items) != 1 {
		t.Errorf("CEB621: %+v", inv.Inventory)
	}
	r := decodeOne(t, readFile(t, "ceb622.xml"))
	if r.Receipt == nil || r.Receipt.ReturnStatus != "800" || r.Time != cst("20261122093000")+123e6 {
		t.Errorf("CEB622: %+v %+v", r, r.Receipt)
	}
	pj := decodeOne(t, readFile(t, "ceb411.json"))
	if pj.Payment == nil || *pj.Payment != *p.Payment && (pj.Payment.AmountPaid != 336.03 || pj.Payment.PayerName != "张三") {
		t.Errorf("CEB411 JSON: %+v", pj.Payment)
	}
	c := decodeOne(t, readFile(t, "container_held.json"))
	if c.Box == nil || c.Box.Container != "MSKU9070323" || c.Box.Event != state.BoxEventHeld || c.Box.HoldKind != "quarantine" || c.ID != "hold-0001" {
		t.Errorf("container: %+v", c.Box)
	}
}

// TestDecodeGBK: a GB2312-declared message decodes to the same document
// as its UTF-8 form.
func TestDecodeGBK(t *testing.T) {
	utf := readFile(t, "ceb311.xml")
	for _, label := range []string{"GB2312", "GBK", "gb18030"} {
		gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes(bytes.Replace(utf, []byte(`encoding="UTF-8"`), []byte(`encoding="`+label+`"`), 1))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(gbk, []byte("张三")) {
			t.Fatal("encoding did not change the bytes")
		}
		a, b := decodeOne(t, utf), decodeOne(t, gbk)
		if a.Order.BuyerName != b.Order.BuyerName || a.Order.EBPName != b.Order.EBPName || a.Order.Items[0].ItemName != b.Order.Items[0].ItemName {
			t.Errorf("%s: %+v\nwant %+v", label, b.Order, a.Order)
		}
	}
}

func TestDecodeDeadLetters(t *testing.T) {
	ceb := string(readFile(t, "ceb311.xml"))
	gbkDecl := strings.Replace(ceb, `encoding="UTF-8"`, `encoding="GB2312"`, 1)
	for _, tc := range []struct {
		name, value, reason string
	}{
		{"blank", "  \n", decode.ReasonEmpty},
		{"not xml or json", "CEB311 order", decode.ReasonUnknownFormat},
		{"truncated", ceb[:len(ceb)/2], ReasonMalformedXML},
		{"mismatched tags", strings.Replace(ceb, "</ceb:orderNo>", "</ceb:orderNumber>", 1), ReasonMalformedXML},
		{"two roots", ceb + "<x/>", ReasonMalformedXML},
		{"wrong namespace", strings.Replace(ceb, "http://www.chinaport.gov.cn/ceb", "http://example.com/ceb", 1), ReasonWrongNamespace},
		{"no namespace", `<CEB311Message guid="x"><Order/></CEB311Message>`, ReasonWrongNamespace},
		{"unknown CEB type", strings.ReplaceAll(ceb, "CEB311Message", "CEB303Message"), ReasonUnknownType},
		{"not a CEB root", `<ceb:Foo xmlns:ceb="http://www.chinaport.gov.cn/ceb"/>`, ReasonUnknownType},
		{"latin1 bytes in UTF-8", strings.Replace(ceb, "张三", "\xe9\xe9", 1), ReasonBadEncoding},
		{"UTF-8 bytes declared GB2312", strings.Replace(gbkDecl, "张三", "\xff\xff", 1), ReasonBadEncoding},
		{"unsupported encoding", strings.Replace(ceb, `encoding="UTF-8"`, `encoding="EBCDIC"`, 1), ReasonBadEncoding},
		{"missing orderNo", strings.Replace(ceb, "<ceb:orderNo>NB20261122000001</ceb:orderNo>", "", 1), decode.ReasonMissingField},
		{"bad appTime", strings.Replace(ceb, "20261122080000", "2026-11-22", 1), decode.ReasonBadTime},
		{"bad amount", strings.Replace(ceb, "<ceb:acturalPaid>336.03", "<ceb:acturalPaid>lots", 1), decode.ReasonBadField},
		{"no business node", `<ceb:CEB311Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x"></ceb:CEB311Message>`, decode.ReasonMissingField},
		{"unknown receipt code", strings.Replace(string(readFile(t, "ceb622.xml")), ">800<", ">123<", 1), decode.ReasonBadField},
		{"json syntax", `{"type":"CEB411",`, decode.ReasonInvalidJSON},
		{"json no type", `{"guid":"x"}`, decode.ReasonMissingField},
		{"json unknown type", `{"type":"CEB999"}`, ReasonUnknownType},
		{"json unknown container event", `{"type":"container.teleported","container":"MSKU9070323","t":"2026-11-22T08:00:00Z"}`, ReasonUnknownType},
		{"json container check digit", `{"type":"container.held","container":"MSKU9070324","t":"2026-11-22T08:00:00Z"}`, decode.ReasonCheckDigit},
		{"json container bad", `{"type":"container.held","container":"BOX","t":"2026-11-22T08:00:00Z"}`, decode.ReasonBadContainer},
		{"json container no time", `{"type":"container.held","container":"MSKU9070323"}`, decode.ReasonMissingField},
		{"json container bad hold kind", `{"type":"container.held","container":"MSKU9070323","t":"2026-11-22T08:00:00Z","hold_kind":"weather"}`, decode.ReasonBadField},
		{"json wrong field type", `{"type":"CEB411","Payment":[{"PaymentHead":{"amountPaid":{}}}]}`, decode.ReasonBadField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []state.CustomsDoc{{ID: "keep"}}
			got, err := NewDecoder(Config{}).Decode(dst, []byte(tc.value))
			if err == nil {
				t.Fatalf("decoded %+v, want error %s", got, tc.reason)
			}
			if r := decode.Reason(err); r != tc.reason {
				t.Errorf("reason %s (%v), want %s", r, err, tc.reason)
			}
			if len(got) != 1 || got[0].ID != "keep" {
				t.Errorf("dst changed on error: %+v", got)
			}
		})
	}
}

// TestDecodeIDs: ids are stable (the same record decodes to the same id)
// and fall back to the envelope guid, then to a content hash.
func TestDecodeIDs(t *testing.T) {
	ceb := string(readFile(t, "ceb311.xml"))
	noHeadGUID := strings.Replace(ceb, "<ceb:guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</ceb:guid>", "", 1)
	if d := decodeOne(t, []byte(noHeadGUID)); d.ID != "4CDE1CFD-EDED-46B1-946C-B8022E42FC94" {
		t.Errorf("envelope guid fallback: %q", d.ID)
	}
	noGUID := strings.Replace(noHeadGUID, `guid="4CDE1CFD-EDED-46B1-946C-B8022E42FC94" `, "", 1)
	a, b := decodeOne(t, []byte(noGUID)), decodeOne(t, []byte(noGUID))
	if !strings.HasPrefix(a.ID, "sha256:") || a.ID != b.ID {
		t.Errorf("content id %q, %q", a.ID, b.ID)
	}
}

func TestDecodeSeveralNodes(t *testing.T) {
	ceb := string(readFile(t, "ceb311.xml"))
	i, j := strings.Index(ceb, "<ceb:Order>"), strings.Index(ceb, "</ceb:Order>")+len("</ceb:Order>")
	second := strings.ReplaceAll(strings.ReplaceAll(ceb[i:j], "NB20261122000001", "NB20261122000002"), "4CDE1CFD-EDED-46B1-946C-B8022E42FC94", "4CDE1CFD-EDED-46B1-946C-B8022E42FC95")
	two := ceb[:j] + second + ceb[j:]
	docs, err := NewDecoder(Config{}).Decode(nil, []byte(two))
	if err != nil || len(docs) != 2 || docs[1].Order.OrderNo != "NB20261122000002" || docs[0].ID == docs[1].ID {
		t.Fatalf("two orders: %v %+v", err, docs)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d := NewDecoder(Config{})
	f.Fuzz(func(t *testing.T, value []byte) {
		docs, err := d.Decode(nil, value)
		if err == nil {
			for i := range docs {
				if verr := docs[i].Validate(); verr != nil {
					t.Fatalf("decoded an invalid document: %v", verr)
				}
			}
		}
	})
}
