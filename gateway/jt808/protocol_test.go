package jt808

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func TestParseRegister2013(t *testing.T) {
	h, body := parseHex(t, hexRegister2013)
	if h.ID != IDRegister || h.V2019() || h.Phone != "013912345678" || h.Serial != 1 || h.Split() {
		t.Fatalf("header %+v", h)
	}
	r, err := DecodeRegister(body, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Register{Province: 0x21, City: 2, Maker: "PTRK", Model: "JT808-SIM", TerminalID: "T000001", PlateColor: 2, Plate: "浙B12345"}
	if r != want {
		t.Fatalf("register %+v, want %+v", r, want)
	}
}

func TestParseRegister2019(t *testing.T) {
	h, body := parseHex(t, hexRegister2019)
	if !h.V2019() || h.Version != 1 || h.Phone != "00000000013900000003" || DeviceID(h.Phone) != "13900000003" {
		t.Fatalf("header %+v", h)
	}
	r, err := DecodeRegister(body, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plate != "沪AD12345" || r.Model != "JT808-2019" || r.TerminalID != "T000002" {
		t.Fatalf("register %+v", r)
	}
}

func TestParseLocationEscapedAndExtras(t *testing.T) {
	h, body := parseHex(t, hexLocation)
	if h.ID != IDLocation || h.Serial != 3 {
		t.Fatalf("header %+v", h)
	}
	l, err := DecodeLocation(body)
	if err != nil {
		t.Fatal(err)
	}
	want := Location{Status: 2, Lat: 29.9339, Lon: 121.8801, AltitudeM: 5, SpeedKmh: 12.5, Heading: 90,
		Time: time.Date(2026, 11, 22, 8, 6, 0, 0, time.UTC)}
	if l != want || !l.Located() {
		t.Fatalf("location %+v, want %+v", l, want)
	}
}

func TestParseBatch(t *testing.T) {
	h, body := parseHex(t, hexBatch)
	if h.ID != IDBatchLocation {
		t.Fatalf("header %+v", h)
	}
	b, err := DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Type != 1 || len(b.Locations) != 2 || b.Locations[1].Alarm != AlarmEmergency || b.Locations[0].Lat != 29.934 ||
		!b.Locations[1].Time.Equal(time.Date(2026, 11, 22, 8, 7, 0, 0, time.UTC)) {
		t.Fatalf("batch %+v", b)
	}
}

func TestBadCheckCode(t *testing.T) {
	b := unhex(t, hexLocation)
	b[len(b)-2] ^= 1
	raw, err := Unescape(nil, b[1:len(b)-1])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse(raw); !errors.Is(err, ErrCheck) {
		t.Fatalf("err %v, want ErrCheck", err)
	}
}

func TestUnescapeRejects(t *testing.T) {
	for _, in := range []string{"7d", "7d03", "017e02"} {
		if _, err := Unescape(nil, unhex(t, in)); !errors.Is(err, ErrEscape) {
			t.Errorf("Unescape(%s) err %v, want ErrEscape", in, err)
		}
	}
}

func TestReassembleSplit(t *testing.T) {
	var r Reassembler
	h2, b2 := parseHex(t, hexSplit2) // out of order: the second packet first
	if _, done, err := r.Add(h2, b2); done || err != nil {
		t.Fatalf("after packet 2: done %v err %v", done, err)
	}
	h1, b1 := parseHex(t, hexSplit1)
	whole, done, err := r.Add(h1, b1)
	if !done || err != nil {
		t.Fatalf("after packet 1: done %v err %v", done, err)
	}
	l, err := DecodeLocation(whole)
	if err != nil {
		t.Fatal(err)
	}
	if l.Lat != 29.935 || l.Lon != 121.881 || l.SpeedKmh != 20 || l.Heading != 180 || r.Pending() != 0 {
		t.Fatalf("location %+v, pending %d", l, r.Pending())
	}
}

func TestReassemblerBounds(t *testing.T) {
	r := Reassembler{MaxPending: 2, MaxPackets: 4}
	if _, _, err := r.Add(Header{ID: 1, Serial: 1, Total: 5, Index: 1}, []byte{1}); !errors.Is(err, ErrSplit) {
		t.Fatalf("5 packets over a limit of 4: err %v", err)
	}
	for i := uint16(0); i < 10; i++ {
		if _, _, err := r.Add(Header{ID: 1, Serial: 100 * i, Total: 2, Index: 1}, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if r.Pending() != 2 {
		t.Fatalf("pending %d, want the bound 2", r.Pending())
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, v2019 := range []bool{false, true} {
		body := AppendRegisterResponse(nil, 0x7e7d, RegisterOK, "code")
		fr := AppendFrame(nil, Header{ID: IDRegisterResponse, Phone: "13912345678", Serial: 0x7d7e, Version: 1}, v2019, body)
		if bytes.Count(fr, []byte{0x7e}) != 2 {
			t.Fatalf("frame % x has 0x7E inside", fr)
		}
		raw, err := Unescape(nil, fr[1:len(fr)-1])
		if err != nil {
			t.Fatal(err)
		}
		h, got, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if h.ID != IDRegisterResponse || DeviceID(h.Phone) != "13912345678" || h.Serial != 0x7d7e || h.V2019() != v2019 || !bytes.Equal(got, body) {
			t.Fatalf("v2019 %v: header %+v body % x", v2019, h, got)
		}
	}
}

// TestReplyMatchesStandardLayout checks the platform's general response
// against bytes written by hand: 0x8001 to 013912345678, serial 1,
// answering serial 3 of 0x0200 with result 0.
func TestReplyMatchesStandardLayout(t *testing.T) {
	got := AppendFrame(nil, Header{ID: IDPlatformResponse, Phone: "013912345678", Serial: 1}, false,
		AppendResponse(nil, Response{Serial: 3, ID: IDLocation, Result: ResultOK}))
	want := wireFrame(t, "80010005"+"013912345678"+"0001"+"0003020000")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

func TestDecodeLocationRejects(t *testing.T) {
	_, good := parseHex(t, hexLocation)
	for name, mut := range map[string]func([]byte) []byte{
		"short":        func(b []byte) []byte { return b[:27] },
		"month 13":     func(b []byte) []byte { b[23] = 0x13; return b },
		"not BCD":      func(b []byte) []byte { b[27] = 0x0a; return b },
		"31 November":  func(b []byte) []byte { b[24] = 0x31; return b },
		"latitude 91":  func(b []byte) []byte { b[8], b[9], b[10], b[11] = 0x05, 0x6c, 0xa3, 0x20; return b },
		"direction":    func(b []byte) []byte { b[20], b[21] = 0x01, 0x68; return b },
		"item overrun": func(b []byte) []byte { b[29] = 0x40; return b },
	} {
		b := mut(append([]byte{}, good...))
		if _, err := DecodeLocation(b); !errors.Is(err, ErrBody) {
			t.Errorf("%s: err %v, want ErrBody", name, err)
		}
	}
}

// TestEncodersMatchStandardFrames: the simulator's encoders produce the
// hand-written frames.
func TestEncodersMatchStandardFrames(t *testing.T) {
	reg, err := AppendRegister(nil, Register{Province: 0x21, City: 2, Maker: "PTRK", Model: "JT808-SIM", TerminalID: "T000001", PlateColor: 2, Plate: "浙B12345"})
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendFrame(nil, Header{ID: IDRegister, Phone: "013912345678", Serial: 1}, false, reg); hex.EncodeToString(got) != hexRegister2013 {
		t.Fatalf("registration %x\nwant %s", got, hexRegister2013)
	}
	l := Location{Status: 2, Lat: 29.9339, Lon: 121.8801, AltitudeM: 5, SpeedKmh: 12.5, Heading: 90, Time: time.Date(2026, 11, 22, 8, 6, 0, 0, time.UTC)}
	body := append(AppendLocation(nil, l), 0x01, 0x04, 0, 0, 1, 0)
	if got := AppendFrame(nil, Header{ID: IDLocation, Phone: "013912345678", Serial: 3}, false, body); hex.EncodeToString(got) != hexLocation {
		t.Fatalf("location %x\nwant %s", got, hexLocation)
	}
}
