package rfid

import (
	"bytes"

	"github.com/porttrack/porttrack/ingest/decode"
	"github.com/porttrack/porttrack/state"
	"github.com/valyala/fastjson"
)

// maxRefs bounds the links one EPCIS event may carry.
const maxRefs = 32

// refs reads the links of an EPCIS event that decide which logistics
// tenants see its containers: bizTransactionList entries of type bol
// (transport document) and bkg (booking; a porttrack convention, CBV has no
// booking type), and the owning_party / possessing_party entries of
// sourceList and destinationList (party codes). Other entries are ignored.
func refs(ev *fastjson.Value) ([]state.Ref, error) {
	var out []state.Ref
	add := func(list, typeKey, valueKey string, kind func(typ []byte) byte) error {
		v := member(ev, list)
		if v == nil {
			return nil
		}
		items, err := v.Array()
		if err != nil {
			return decode.Errorf(decode.ReasonBadField, "%s is a JSON %s, want an array", list, v.Type())
		}
		for _, it := range items {
			if it.Type() != fastjson.TypeObject {
				return decode.Errorf(decode.ReasonBadField, "%s holds a JSON %s, want objects", list, it.Type())
			}
			k := kind(lastWord(it.GetStringBytes(typeKey)))
			if k == 0 {
				continue
			}
			val, err := optString(it, valueKey, state.MaxFieldLen)
			if err != nil {
				return within(err, list)
			}
			// A CBV business transaction URN ends in the document's own
			// number: urn:epcglobal:cbv:bt:<GLN>:<number>.
			if rest, ok := bytes.CutPrefix(val, []byte("urn:epcglobal:cbv:bt:")); ok {
				val = rest[bytes.LastIndexByte(rest, ':')+1:]
			}
			if len(val) == 0 {
				continue
			}
			if len(out) == maxRefs {
				return decode.Errorf(decode.ReasonBadField, "more than %d links", maxRefs)
			}
			out = append(out, state.Ref{Kind: k, Value: string(val)})
		}
		return nil
	}
	btt := func(typ []byte) byte {
		switch string(typ) {
		case "bol":
			return state.LinkTransport
		case "bkg":
			return state.LinkBooking
		}
		return 0
	}
	party := func(typ []byte) byte {
		switch string(typ) {
		case "owning_party", "possessing_party":
			return state.LinkParty
		}
		return 0
	}
	if err := add("bizTransactionList", "type", "bizTransaction", btt); err != nil {
		return nil, err
	}
	if err := add("sourceList", "type", "source", party); err != nil {
		return nil, err
	}
	if err := add("destinationList", "type", "destination", party); err != nil {
		return nil, err
	}
	return out, nil
}

// lastWord strips a CBV URI prefix ("urn:epcglobal:cbv:btt:bol",
// "https://ref.gs1.org/cbv/BTT-bol", "bol" all give "bol").
func lastWord(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("https://ref.gs1.org/cbv/")) || bytes.HasPrefix(b, []byte("urn:")) {
		if i := bytes.LastIndexAny(b, ":-"); i >= 0 {
			return b[i+1:]
		}
	}
	return b
}
