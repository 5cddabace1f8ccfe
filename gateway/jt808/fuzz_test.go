package jt808

import (
	"testing"
	"unicode/utf8"
)

var seedFrames = []string{hexRegister2013, hexRegister2019, hexLocation, hexBatch, hexSplit1, hexSplit2, hexHeartbt, hexUnknown, hexRegisterSecond}

func seedBodies(f *testing.F, id uint16) {
	f.Helper()
	for _, s := range seedFrames {
		h, body := parseHex(f, s)
		if h.ID == id {
			f.Add(body, h.V2019())
		}
	}
}

// FuzzFrame: no input panics the frame layer, and what parses re-encodes
// to a frame that parses to the same message.
func FuzzFrame(f *testing.F) {
	for _, s := range seedFrames {
		b := unhex(f, s)
		f.Add(b[1 : len(b)-1])
	}
	f.Fuzz(func(t *testing.T, esc []byte) {
		raw, err := Unescape(nil, esc)
		if err != nil {
			return
		}
		h, body, err := Parse(raw)
		if err != nil || h.Split() {
			return
		}
		fr := AppendFrame(nil, h, h.V2019(), body)
		raw2, err := Unescape(nil, fr[1:len(fr)-1])
		if err != nil {
			t.Fatal(err)
		}
		h2, body2, err := Parse(raw2)
		if err != nil || h2.ID != h.ID || h2.Serial != h.Serial || DeviceID(h2.Phone) != DeviceID(h.Phone) || string(body2) != string(body) {
			t.Fatalf("round trip: %+v % x → %+v % x (%v)", h, body, h2, body2, err)
		}
	})
}

func FuzzRegister(f *testing.F) {
	seedBodies(f, IDRegister)
	f.Fuzz(func(t *testing.T, body []byte, v2019 bool) {
		r, err := DecodeRegister(body, v2019)
		if err == nil && !utf8.ValidString(r.Plate) {
			t.Fatalf("plate %q is not UTF-8", r.Plate)
		}
	})
}

func FuzzAuth(f *testing.F) {
	f.Add([]byte("0123456789abcdef01234567"), false)
	f.Add(append(append([]byte{4}, "abcd"...), make([]byte, 35)...), true)
	f.Fuzz(func(t *testing.T, body []byte, v2019 bool) { _, _ = DecodeAuth(body, v2019) })
}

func FuzzLocation(f *testing.F) {
	seedBodies(f, IDLocation)
	f.Fuzz(func(t *testing.T, body []byte, _ bool) {
		l, err := DecodeLocation(body)
		if err != nil {
			return
		}
		if l.Lat < -90 || l.Lat > 90 || l.Lon < -180 || l.Lon > 180 || l.Heading < 0 || l.Heading > 359 {
			t.Fatalf("decoded %+v out of range", l)
		}
	})
}

func FuzzBatch(f *testing.F) {
	seedBodies(f, IDBatchLocation)
	f.Fuzz(func(t *testing.T, body []byte, _ bool) {
		b, err := DecodeBatch(body)
		if err == nil && (len(b.Locations) == 0 || len(b.Locations) > MaxBatch) {
			t.Fatalf("batch of %d", len(b.Locations))
		}
	})
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte{0, 3, 2, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeResponse(body)
		if err == nil && string(AppendResponse(nil, r)) != string(body) {
			t.Fatalf("round trip % x", body)
		}
	})
}

// FuzzReassembler: any packet sequence keeps the bound on pending messages.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 1, 0, 2, 0, 2, 0, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := Reassembler{MaxPending: 3, MaxPackets: 8}
		for len(in) >= 6 {
			h := Header{ID: be16(in), Serial: uint16(in[2]), Total: uint16(in[3]), Index: uint16(in[4])}
			_, _, _ = r.Add(h, in[5:6])
			if r.Pending() > 3 {
				t.Fatalf("pending %d over 3", r.Pending())
			}
			in = in[6:]
		}
	})
}
