package dcsa

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porttrack/porttrack/state"
)

// DCSA event filters: the query parameters of GET /v2/events and the
// filter fields of an event subscription. List values are OR'ed, different
// filters AND'ed; a type-specific code filter excludes the other types, so
// contradictory combinations match nothing.

// Filter is a parsed /v2/events query (also a subscription's filter).
type Filter struct {
	types                                       []string // eventType; nil: all
	shipCodes, docTypes, transCodes, equipCodes []string // nil: not filtered
	booking, tdr, callID, imo, voyage, service  *string
	locode, equipment                           *string
	never                                       bool // a filter that no event can meet (deprecated ids)
	created                                     []createdBound
	// Desc sorts by eventCreatedDateTime descending; Limit is the page
	// size; Raw the canonical query (sorted parameters), for cursors.
	Desc  bool
	Limit int
	Raw   string
}

type createdBound struct {
	op string // gte gt lte lt eq
	t  int64
}

var (
	eventTypes      = []string{state.DCSAShipment, state.DCSATransport, state.DCSAEquipment}
	shipmentCodes   = strings.Split("RECE,DRFT,PENA,PENU,REJE,APPR,ISSU,SURR,SUBM,VOID,CONF,REQS,CMPL,HOLD,RELS", ",")
	documentTypes   = strings.Split("CBR,BKG,SHI,SRM,TRD,ARN,VGM,CAS,CUS,DGD,OOG", ",")
	transportCodes  = []string{"ARRI", "DEPA"}
	equipmentCodes  = strings.Split("LOAD,DISC,GTIN,GTOT,STUF,STRP,PICK,DROP,INSP,RSEA,RMVD", ",")
	stringFilterMax = map[string]int{
		"carrierBookingReference": 35, "bookingReference": 35, "transportDocumentReference": 20,
		"transportCallID": 100, "vesselIMONumber": 7, "exportVoyageNumber": 50, "carrierVoyageNumber": 50,
		"carrierServiceCode": 5, "UNLocationCode": 5, "equipmentReference": 15, "scheduleID": 100,
	}
)

// ParseFilter reads the filters of a /v2/events query (with paging,
// also limit and sort) or of a subscription (without); the error names
// what is wrong. A parameter given twice counts once (its first value).
func ParseFilter(q url.Values, maxLimit int, paging bool) (Filter, error) {
	f := Filter{Limit: min(100, maxLimit)}
	var err error
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if err != nil {
			break
		}
		val := q.Get(key)
		list := func(allowed []string) []string {
			var out []string
			for _, x := range strings.Split(val, ",") {
				if !slices.Contains(allowed, x) {
					err = fmt.Errorf("%s: %q is not one of %s", key, x, strings.Join(allowed, ","))
					return nil
				}
				out = append(out, x)
			}
			return out
		}
		str := func(dst **string) {
			if n := stringFilterMax[key]; len(val) > n || val == "" {
				err = fmt.Errorf("%s: want 1 to %d characters", key, n)
				return
			}
			*dst = &val
		}
		switch key {
		case "eventType":
			f.types = list(eventTypes)
		case "shipmentEventTypeCode":
			f.shipCodes = list(shipmentCodes)
		case "documentTypeCode":
			f.docTypes = list(documentTypes)
		case "transportEventTypeCode":
			f.transCodes = list(transportCodes)
		case "equipmentEventTypeCode":
			f.equipCodes = list(equipmentCodes)
		case "carrierBookingReference", "bookingReference":
			str(&f.booking)
		case "transportDocumentReference":
			str(&f.tdr)
		case "transportCallID":
			str(&f.callID)
		case "vesselIMONumber":
			str(&f.imo)
		case "exportVoyageNumber", "carrierVoyageNumber":
			str(&f.voyage)
		case "carrierServiceCode":
			str(&f.service)
		case "UNLocationCode":
			str(&f.locode)
		case "equipmentReference":
			str(&f.equipment)
		case "transportDocumentID", "scheduleID":
			// Deprecated ids porttrack never assigns: nothing matches.
			f.never = true
		case "limit", "sort":
			if !paging {
				err = fmt.Errorf("%s: not a filter", key)
				break
			}
			if key == "sort" {
				f.parseSort(val, &err)
				break
			}
			n, e := strconv.Atoi(val)
			if e != nil || n < 1 || n > maxLimit {
				err = fmt.Errorf("limit: want an integer in [1, %d], got %q", maxLimit, val)
				break
			}
			f.Limit = n
		default:
			name, op, _ := strings.Cut(key, ":")
			if name != "eventCreatedDateTime" {
				err = fmt.Errorf("%s: unknown query parameter", key)
				break
			}
			if op == "" {
				op = "eq"
			}
			if op != "gte" && op != "gt" && op != "lte" && op != "lt" && op != "eq" {
				err = fmt.Errorf("%s: operator %q is not gte, gt, lte, lt or eq", key, op)
				break
			}
			t, e := time.Parse(time.RFC3339Nano, val)
			if e != nil {
				err = fmt.Errorf("%s: want an RFC 3339 date-time, got %q", key, val)
				break
			}
			if e := state.CheckTime(t); e != nil {
				err = fmt.Errorf("%s: %w", key, e)
				break
			}
			f.created = append(f.created, createdBound{op: op, t: t.UnixNano()})
		}
	}
	if err != nil {
		return f, err
	}
	canon := url.Values{}
	for _, k := range keys {
		canon.Set(k, q.Get(k))
	}
	f.Raw = canon.Encode()
	return f, nil
}

// linked reports whether the event or its container carries the link.
func linked(links func(string) ([]state.Ref, error), e *state.DCSAEvent, want state.Ref) (bool, error) {
	if slices.Contains(e.Refs, want) {
		return true, nil
	}
	if e.Equipment == "" {
		return false, nil
	}
	l, err := links(e.Equipment)
	return slices.Contains(l, want), err
}

// Match applies the filter to one event; links returns a container's
// links (tenant.Tenants.Links, usually cached by the caller).
func (f *Filter) Match(e *state.DCSAEvent, links func(container string) ([]state.Ref, error)) (bool, error) {
	if f.never {
		return false, nil
	}
	if f.types != nil && !slices.Contains(f.types, e.Type) {
		return false, nil
	}
	codes := func(l []string, typ string) bool {
		return l == nil || (e.Type == typ && slices.Contains(l, e.Code))
	}
	if !codes(f.shipCodes, state.DCSAShipment) || !codes(f.transCodes, state.DCSATransport) || !codes(f.equipCodes, state.DCSAEquipment) {
		return false, nil
	}
	if f.docTypes != nil && (e.Type != state.DCSAShipment || !slices.Contains(f.docTypes, e.DocumentType)) {
		return false, nil
	}
	eq := func(want *string, have string) bool { return want == nil || *want == have }
	if !eq(f.callID, e.TransportCallID) || !eq(f.imo, e.VesselIMO) || !eq(f.voyage, e.ExportVoyage) ||
		!eq(f.service, e.ServiceCode) || !eq(f.locode, e.UNLocationCode) || !eq(f.equipment, e.Equipment) {
		return false, nil
	}
	for _, b := range f.created {
		ok := false
		switch b.op {
		case "gte":
			ok = e.Created >= b.t
		case "gt":
			ok = e.Created > b.t
		case "lte":
			ok = e.Created <= b.t
		case "lt":
			ok = e.Created < b.t
		case "eq":
			ok = e.Created == b.t
		}
		if !ok {
			return false, nil
		}
	}
	if f.booking != nil {
		if ok, err := linked(links, e, state.Ref{Kind: state.LinkBooking, Value: *f.booking}); !ok || err != nil {
			return false, err
		}
	}
	if f.tdr != nil {
		if ok, err := linked(links, e, state.Ref{Kind: state.LinkTransport, Value: *f.tdr}); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// PastEnd reports whether, scanning in direction desc, no later event can
// meet the created bounds (eventCreatedDateTime never decreases along the
// log).
func (f *Filter) PastEnd(e *state.DCSAEvent, desc bool) bool {
	for _, b := range f.created {
		switch {
		case !desc && (b.op == "lt" && e.Created >= b.t || b.op == "lte" && e.Created > b.t || b.op == "eq" && e.Created > b.t):
			return true
		case desc && (b.op == "gt" && e.Created <= b.t || b.op == "gte" && e.Created < b.t || b.op == "eq" && e.Created < b.t):
			return true
		}
	}
	return false
}

func (f *Filter) parseSort(val string, err *error) {
	for i, field := range strings.Split(val, ",") {
		name, dir, _ := strings.Cut(field, ":")
		if name != "eventCreatedDateTime" || i > 0 {
			*err = fmt.Errorf("sort: only eventCreatedDateTime[:ASC|:DESC] is supported, got %q", field)
			return
		}
		switch strings.ToUpper(dir) {
		case "", "ASC":
		case "DESC":
			f.Desc = true
		default:
			*err = fmt.Errorf("sort: direction %q is not ASC or DESC", dir)
			return
		}
	}
}

// Equipment returns the equipmentReference the filter requires, if any:
// such a query reads the equipment index instead of the whole log.
func (f *Filter) Equipment() (string, bool) {
	if f.equipment == nil {
		return "", false
	}
	return *f.equipment, true
}

// CreatedFrom returns the earliest eventCreatedDateTime (Unix ns) the
// filter admits, if it has a lower bound (gte, gt or eq): an ascending scan
// may start at SeqAt of it.
func (f *Filter) CreatedFrom() (int64, bool) {
	var from int64
	found := false
	for _, b := range f.created {
		t := b.t
		switch b.op {
		case "gt":
			t++
		case "gte", "eq":
		default:
			continue
		}
		if !found || t > from {
			from, found = t, true
		}
	}
	return from, found
}
