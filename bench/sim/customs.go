package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// CustomsConfig configures the customs and cross-border e-commerce traffic:
// per order the three documents and the inventory as CEB XML (CEB311,
// CEB411, CEB511, CEB621) in a shuffled order, then CEB622 receipts; and
// container customs flows (manifest arrival, declaration, sometimes an
// inspection or a hold, release) as JSON.
type CustomsConfig struct {
	Brokers []string
	Topic   string  // default port.customs
	Rate    float64 // records per second; <= 0: as fast as possible
	Total   int64   // records; 0: until ctx is done
	Seed    int64
	// Start is the simulated time of the first order; zero: now.
	Start time.Time
	// MismatchRate is the share of orders with one deliberately wrong
	// field (payer, amount, consignee or an inventory line); MissingRate
	// the share that never get one of their documents; GBKRate the share
	// of XML records encoded GB2312 instead of UTF-8; DupRate the share of
	// records sent twice.
	MismatchRate, MissingRate, GBKRate, DupRate float64
	// Containers is the container fleet of the container customs flows
	// (ContainerNumbers(Seed, Containers)); one flow per BoxEvery orders.
	Containers int
	BoxEvery   int
	// OrderEvery is the simulated time between two orders (default 1s);
	// the demo sets it so that simulated time keeps pace with the wall
	// clock at its record rate.
	OrderEvery time.Duration
	// NoReceipts leaves out the CEB622 receipts (accepted, sometimes
	// inspection, then released) that follow each inventory.
	NoReceipts bool
	Logger     *slog.Logger
}

func (c CustomsConfig) withDefaults() CustomsConfig {
	if c.Topic == "" {
		c.Topic = "port.customs"
	}
	if c.Start.IsZero() {
		c.Start = time.Now().UTC().Truncate(time.Second)
	}
	if c.Containers == 0 {
		c.Containers = 500
	}
	if c.BoxEvery == 0 {
		c.BoxEvery = 5
	}
	if c.OrderEvery == 0 {
		c.OrderEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration.
func (c CustomsConfig) Validate() error {
	c = c.withDefaults()
	if err := checkStream(c.Brokers, c.Total, c.Rate); err != nil {
		return err
	}
	for _, r := range []float64{c.MismatchRate, c.MissingRate, c.GBKRate, c.DupRate} {
		if !(r >= 0 && r <= 1) {
			return errors.New("sim: customs rates must be in [0, 1]")
		}
	}
	if c.Containers < 1 || c.BoxEvery < 1 || c.OrderEvery < 0 {
		return errors.New("sim: customs containers and box_every must be positive")
	}
	return nil
}

// CustomsGenerator produces the records of a CustomsConfig. It does no IO
// and is not safe for concurrent use; the same config gives the same bytes.
type CustomsGenerator struct {
	cfg     CustomsConfig
	rng     *rand.Rand
	boxes   []string
	queue   recordHeap // by emission time
	seq     uint64
	orders  int
	st      CustomsStats
	clock   time.Time
	ebps    []string
	buyers  []buyer
	nextBox int
}

// CustomsStats counts what the generator produced.
type CustomsStats struct {
	Stats
	Orders, Mismatched, Missing, Receipts, BoxFlows int64
}

type buyer struct{ name, id, addr string }

// NewCustomsGenerator returns a generator (cfg must be valid).
func NewCustomsGenerator(cfg CustomsConfig) *CustomsGenerator {
	cfg = cfg.withDefaults()
	g := &CustomsGenerator{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0xce6)), clock: cfg.Start,
		boxes: ContainerNumbers(cfg.Seed+7, cfg.Containers),
		ebps:  []string{"3302461234", "3302468888", "3301960001"}}
	names := []string{"张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"}
	streets := []string{"鄞州区天童南路", "江北区人民路", "北仑区长江路", "海曙区中山西路", "镇海区骆驼街道"}
	for i, n := range names {
		g.buyers = append(g.buyers, buyer{name: n, id: fmt.Sprintf("3302031990%04d%04d", 101+i, 1000+i*7),
			addr: fmt.Sprintf("浙江省宁波市%s%d号", streets[i%len(streets)], 10+i)})
	}
	return g
}

// Stats returns what was generated so far.
func (g *CustomsGenerator) Stats() Stats { return g.st.Stats }

// CustomsStats returns the customs counters.
func (g *CustomsGenerator) CustomsStats() CustomsStats { return g.st }

// Next appends n records to dst, in simulated-time order: a record is
// emitted once the clock, which advances by OrderEvery per new order,
// reaches its time.
func (g *CustomsGenerator) Next(dst []Record, n int) []Record {
	for range n {
		for len(g.queue) == 0 || g.queue[0].Time.After(g.clock) {
			g.fill()
		}
		r := heap.Pop(&g.queue).(queuedRecord).Record
		dst = append(dst, r)
		g.st.Produced++
		if g.rng.Float64() < g.cfg.DupRate {
			g.push(r)
			g.st.Duplicates++
		}
	}
	return dst
}

// Flush appends every queued record (of orders and flows already started)
// to dst in time order, starting no new order.
func (g *CustomsGenerator) Flush(dst []Record) []Record {
	for len(g.queue) > 0 {
		dst = append(dst, heap.Pop(&g.queue).(queuedRecord).Record)
		g.st.Produced++
	}
	return dst
}

func (g *CustomsGenerator) push(r Record) {
	g.seq++
	heap.Push(&g.queue, queuedRecord{r, g.seq})
}

type queuedRecord struct {
	Record
	seq uint64
}

// recordHeap orders records by time, then by queueing order.
type recordHeap []queuedRecord

func (h recordHeap) Len() int { return len(h) }
func (h recordHeap) Less(i, j int) bool {
	if !h[i].Time.Equal(h[j].Time) {
		return h[i].Time.Before(h[j].Time)
	}
	return h[i].seq < h[j].seq
}
func (h recordHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *recordHeap) Push(x any)   { *h = append(*h, x.(queuedRecord)) }
func (h *recordHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func cebTime(t time.Time) string { return t.In(time.FixedZone("CST", 8*3600)).Format("20060102150405") }

func (g *CustomsGenerator) guid() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

const cebNS = `xmlns:ceb="http://www.chinaport.gov.cn/ceb"`

// xmlRecord wraps a body into a CEB envelope, sometimes GB2312-encoded.
func (g *CustomsGenerator) xmlRecord(key, typ, guid, body string, t time.Time) Record {
	enc := "UTF-8"
	gbk := g.rng.Float64() < g.cfg.GBKRate
	if gbk {
		enc = "GB2312"
	}
	doc := fmt.Sprintf(`<?xml version="1.0" encoding="%s"?>`+"\n"+`<ceb:%sMessage guid="%s" version="1.0" %s>%s<ceb:BaseTransfer><ceb:dxpMode>DXP</ceb:dxpMode></ceb:BaseTransfer></ceb:%sMessage>`,
		enc, typ, guid, cebNS, body, typ)
	v := []byte(doc)
	if gbk {
		if b, err := simplifiedchinese.GBK.NewEncoder().Bytes(v); err == nil {
			v = b
		}
	}
	return Record{Key: []byte(key), Value: v, Time: t}
}

func (g *CustomsGenerator) fill() {
	g.orders++
	g.st.Orders++
	if g.orders%g.cfg.BoxEvery == 0 {
		g.boxFlow()
	}
	g.clock = g.clock.Add(g.cfg.OrderEvery)
	t := g.clock
	ebp := g.ebps[g.rng.IntN(len(g.ebps))]
	orderNo := fmt.Sprintf("NB%s%06d", t.Format("20060102"), g.orders)
	b := g.buyers[g.rng.IntN(len(g.buyers))]
	payer, amountPaid, consignee := b, 0.0, b.name
	qty := 1 + g.rng.IntN(3)
	price := float64(50+g.rng.IntN(400)) + 0.5
	goods := price * float64(qty)
	freight := 10.0
	tax := float64(int(goods*0.091*100)) / 100
	paid := goods + freight + tax
	amountPaid = paid
	invQty := qty
	weight := 0.5 * float64(qty)
	if g.rng.Float64() < g.cfg.MismatchRate {
		g.st.Mismatched++
		switch g.rng.IntN(4) {
		case 0:
			payer = g.buyers[(g.rng.IntN(len(g.buyers)-1)+1+indexOf(g.buyers, b))%len(g.buyers)]
		case 1:
			amountPaid = paid - 10
		case 2:
			consignee = "代收点"
		default:
			invQty = qty + 1
		}
	}
	missing := -1
	if g.rng.Float64() < g.cfg.MissingRate {
		g.st.Missing++
		missing = g.rng.IntN(3) // order, payment or waybill; the inventory comes last
	}
	logNo := fmt.Sprintf("YT%013d", 9000000000000+int64(g.orders))
	copNo := "COP" + orderNo
	payTx := fmt.Sprintf("PAY%s%06d", t.Format("20060102"), g.orders)
	item := fmt.Sprintf(`<ceb:gnum>1</ceb:gnum><ceb:itemNo>SKU-%d</ceb:itemNo><ceb:itemName>跨境商品%d</ceb:itemName><ceb:unit>122</ceb:unit><ceb:qty>%%d</ceb:qty><ceb:price>%.2f</ceb:price><ceb:totalPrice>%%.2f</ceb:totalPrice><ceb:country>601</ceb:country>`,
		1000+g.orders%50, g.orders%50, price)
	docs := []Record{}
	add := func(i int, r Record) {
		if i != missing {
			docs = append(docs, r)
		}
	}
	gid := g.guid()
	add(0, g.xmlRecord(orderNo, "CEB311", gid, fmt.Sprintf(`<ceb:Order><ceb:OrderHead><ceb:guid>%s</ceb:guid><ceb:appType>1</ceb:appType><ceb:appTime>%s</ceb:appTime><ceb:appStatus>2</ceb:appStatus><ceb:orderType>I</ceb:orderType><ceb:orderNo>%s</ceb:orderNo><ceb:ebpCode>%s</ceb:ebpCode><ceb:ebpName>跨境平台</ceb:ebpName><ceb:ebcCode>3302465678</ceb:ebcCode><ceb:goodsValue>%.2f</ceb:goodsValue><ceb:freight>%.2f</ceb:freight><ceb:discount>0</ceb:discount><ceb:taxTotal>%.2f</ceb:taxTotal><ceb:acturalPaid>%.2f</ceb:acturalPaid><ceb:currency>142</ceb:currency><ceb:buyerName>%s</ceb:buyerName><ceb:buyerIdType>1</ceb:buyerIdType><ceb:buyerIdNumber>%s</ceb:buyerIdNumber><ceb:payCode>312228034T</ceb:payCode><ceb:payTransactionId>%s</ceb:payTransactionId><ceb:consignee>%s</ceb:consignee><ceb:consigneeAddress>%s</ceb:consigneeAddress></ceb:OrderHead><ceb:OrderList>%s</ceb:OrderList></ceb:Order>`,
		gid, cebTime(t), orderNo, ebp, goods, freight, tax, paid, b.name, b.id, payTx, b.name, b.addr, fmt.Sprintf(item, qty, goods)), t))
	gid = g.guid()
	add(1, g.xmlRecord(orderNo, "CEB411", gid, fmt.Sprintf(`<ceb:Payment><ceb:PaymentHead><ceb:guid>%s</ceb:guid><ceb:appType>1</ceb:appType><ceb:appTime>%s</ceb:appTime><ceb:appStatus>2</ceb:appStatus><ceb:payCode>312228034T</ceb:payCode><ceb:payTransactionId>%s</ceb:payTransactionId><ceb:orderNo>%s</ceb:orderNo><ceb:ebpCode>%s</ceb:ebpCode><ceb:payerIdType>1</ceb:payerIdType><ceb:payerIdNumber>%s</ceb:payerIdNumber><ceb:payerName>%s</ceb:payerName><ceb:amountPaid>%.2f</ceb:amountPaid><ceb:currency>142</ceb:currency></ceb:PaymentHead></ceb:Payment>`,
		gid, cebTime(t.Add(time.Second)), payTx, orderNo, ebp, payer.id, payer.name, amountPaid), t))
	gid = g.guid()
	add(2, g.xmlRecord(orderNo, "CEB511", gid, fmt.Sprintf(`<ceb:Logistics><ceb:LogisticsHead><ceb:guid>%s</ceb:guid><ceb:appType>1</ceb:appType><ceb:appTime>%s</ceb:appTime><ceb:appStatus>2</ceb:appStatus><ceb:logisticsCode>3302980001</ceb:logisticsCode><ceb:logisticsNo>%s</ceb:logisticsNo><ceb:orderNo>%s</ceb:orderNo><ceb:freight>%.2f</ceb:freight><ceb:insuredFee>0</ceb:insuredFee><ceb:currency>142</ceb:currency><ceb:weight>%.2f</ceb:weight><ceb:packNo>1</ceb:packNo><ceb:consignee>%s</ceb:consignee><ceb:consigneeAddress>%s</ceb:consigneeAddress></ceb:LogisticsHead></ceb:Logistics>`,
		gid, cebTime(t.Add(2*time.Second)), logNo, orderNo, freight, weight, consignee, b.addr), t))
	// Order, payment and waybill go out in any order, the inventory after.
	g.rng.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
	for i := range docs {
		docs[i].Time = t.Add(time.Duration(i) * time.Second)
	}
	gid = g.guid()
	docs = append(docs, g.xmlRecord(orderNo, "CEB621", gid, fmt.Sprintf(`<ceb:Inventory><ceb:InventoryHead><ceb:guid>%s</ceb:guid><ceb:appType>1</ceb:appType><ceb:appTime>%s</ceb:appTime><ceb:appStatus>2</ceb:appStatus><ceb:orderNo>%s</ceb:orderNo><ceb:ebpCode>%s</ceb:ebpCode><ceb:logisticsNo>%s</ceb:logisticsNo><ceb:logisticsCode>3302980001</ceb:logisticsCode><ceb:copNo>%s</ceb:copNo><ceb:emsNo>T3105W000001</ceb:emsNo><ceb:ieFlag>I</ceb:ieFlag><ceb:customsCode>3105</ceb:customsCode><ceb:portCode>3105</ceb:portCode><ceb:buyerIdType>1</ceb:buyerIdType><ceb:buyerIdNumber>%s</ceb:buyerIdNumber><ceb:buyerName>%s</ceb:buyerName><ceb:areaCode>3302W6000A</ceb:areaCode><ceb:tradeMode>1210</ceb:tradeMode><ceb:loctNo>3105W001</ceb:loctNo><ceb:freight>%.2f</ceb:freight><ceb:insuredFee>0</ceb:insuredFee><ceb:grossWeight>%.2f</ceb:grossWeight><ceb:netWeight>%.2f</ceb:netWeight></ceb:InventoryHead><ceb:InventoryList>%s</ceb:InventoryList></ceb:Inventory>`,
		gid, cebTime(t.Add(3*time.Second)), orderNo, ebp, logNo, copNo, b.id, b.name, freight, weight, weight*0.9, fmt.Sprintf(item, invQty, price*float64(invQty))), t.Add(3*time.Second)))
	if !g.cfg.NoReceipts {
		codes := []string{"120", "800"}
		if g.rng.IntN(10) == 0 {
			codes = []string{"120", "500", "800"}
		}
		for i, code := range codes {
			rt := t.Add(time.Duration(10+i*30) * time.Second)
			gid = g.guid()
			docs = append(docs, g.xmlRecord(orderNo, "CEB622", gid, fmt.Sprintf(`<ceb:InventoryReturn><ceb:guid>%s</ceb:guid><ceb:customsCode>3105</ceb:customsCode><ceb:ebpCode>%s</ceb:ebpCode><ceb:copNo>%s</ceb:copNo><ceb:invtNo>3105%s</ceb:invtNo><ceb:returnStatus>%s</ceb:returnStatus><ceb:returnTime>%s000</ceb:returnTime><ceb:returnInfo>%s</ceb:returnInfo></ceb:InventoryReturn>`,
				gid, ebp, copNo, orderNo[2:], code, cebTime(rt), map[string]string{"120": "海关入库", "500": "查验", "800": "放行"}[code]), rt))
			g.st.Receipts++
		}
	}
	for _, d := range docs {
		g.push(d)
	}
}

func indexOf(bs []buyer, b buyer) int {
	for i, x := range bs {
		if x == b {
			return i
		}
	}
	return 0
}

// boxFlow queues one container's customs messages.
func (g *CustomsGenerator) boxFlow() {
	g.st.BoxFlows++
	box := g.boxes[g.nextBox%len(g.boxes)]
	g.nextBox++
	t := g.clock
	n := g.orders
	msg := func(ev string, dt time.Duration, extra string) Record {
		return Record{Key: []byte(box), Time: t.Add(dt), Value: fmt.Appendf(nil, `{"type":"container.%s","id":"sim-%d-%s","container":"%s","t":"%s"%s}`,
			ev, n, ev, box, t.Add(dt).Format(time.RFC3339), extra)}
	}
	recs := []Record{
		msg("manifest_arrival", 0, `,"bill_no":"BL`+box+`"`),
		msg("declared", time.Minute, fmt.Sprintf(`,"declaration_no":"3105%014d","trade_mode":"1210","area_code":"3302W6000A"`, n)),
	}
	switch g.rng.IntN(6) {
	case 0:
		recs = append(recs, msg("inspection", 2*time.Minute, ""), msg("inspected", 20*time.Minute, ""))
	case 1:
		recs = append(recs, msg("held", 2*time.Minute, `,"hold_kind":"quarantine","reason":"epidemic prevention: disinfection required"`))
		for _, r := range recs {
			g.push(r)
		}
		return // stays held
	case 2:
		recs = append(recs, msg("held", 2*time.Minute, `,"reason":"declared value under review"`), msg("hold_lifted", 30*time.Minute, ""))
	}
	recs = append(recs, msg("released", 40*time.Minute, ""))
	for _, r := range recs {
		g.push(r)
	}
}

// RunCustoms produces cfg's traffic into cfg.Topic until cfg.Total records
// are written or ctx is done.
func RunCustoms(ctx context.Context, cfg CustomsConfig) (CustomsStats, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return CustomsStats{}, err
	}
	g := NewCustomsGenerator(cfg)
	cfg.Logger.Info("sim: producing customs traffic", "topic", cfg.Topic, "rate", cfg.Rate, "total", cfg.Total, "seed", cfg.Seed)
	_, err := produce(ctx, producer{
		brokers: cfg.Brokers, topic: cfg.Topic, rate: cfg.Rate, total: cfg.Total,
		next: g.Next, stats: g.Stats,
		paced: func() int64 { return g.Stats().Produced },
	})
	return g.CustomsStats(), err
}

// Pending is the number of queued records of orders already started.
func (g *CustomsGenerator) Pending() int { return len(g.queue) }
