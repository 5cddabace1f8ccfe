package jt808

import (
	"encoding/hex"
	"testing"
)

// Frames of a session, written byte by byte (check codes computed by hand,
// not by this package): terminal 013912345678 (2013 header) registers
// 浙B12345 (GBK D5E3 42 31 32 33 34 35), reports a location whose speed
// byte 0x7D is escaped as 7D 01, uploads a batch of two (the second with
// the emergency alarm bit), sends a location split into two packets, a
// heartbeat and a message of an id the gateway does not handle.
const (
	hexRegister2013 = "7e0100002d0139123456780001002100025054524b004a543830382d53494d00000000000000000000005430303030303102d5e3423132333435657e"
	// 29.9339 N, 121.8801 E, 5 m, 12.5 km/h, 90°, 2026-11-22 16:06:00 UTC+8, mileage item.
	hexLocation = "7e020000220139123456780003000000000000000201c8c14c0743be240005007d01005a261122160600010400000100a87e"
	// 2 items, blind-area supplement: 29.934 N 121.8802 E at 16:06:30; 29.9341 N 121.8803 E at 16:07:00 with alarm bit 0.
	hexBatch = "7e0704003f0139123456780004000201001c000000000000000201c8c1b00743be8800050064005b261122160630001c000000010000000201c8c2140743beec00050000005c2611221607009b7e"
	// 29.935 N 121.881 E, 20 km/h, 180°, 16:08:00, body split 14 + 14 bytes, serials 5 and 6.
	hexSplit1  = "7e0200200e013912345678000500020001000000000000000201c8c5980743c87e"
	hexSplit2  = "7e0200200e013912345678000600020002c1a8000500c800b4261122160800017e"
	hexHeartbt = "7e000200000139123456780007357e"
	hexUnknown = "7e09000001013912345678000801317e"
	// Terminal 013900000002 claims 浙B12345 too.
	hexRegisterSecond = "7e0100002d0139000000020001002100025054524b004a543830382d53494d00000000000000000000005430303030303102d5e34231323334356f7e"
	// 2019 header (bit 14, version 1, 10-byte phone 00000000013900000003) registering 沪AD12345 (GBK BBA6 41 44 ...).
	hexRegister2019 = "7e0100405501000000000139000000030001001f00015054524b000000000000004a543830382d32303139000000000000000000000000000000000000000054303030303032000000000000000000000000000000000000000000000002bba641443132333435587e"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseHex unescapes and parses one delimited frame.
func parseHex(t testing.TB, s string) (Header, []byte) {
	t.Helper()
	b := unhex(t, s)
	raw, err := Unescape(nil, b[1:len(b)-1])
	if err != nil {
		t.Fatalf("unescape %s: %v", s, err)
	}
	h, body, err := Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return h, body
}

// wireFrame builds a frame the way the standard describes it, independent
// of AppendFrame: header and body as hex, XOR check code, escaping.
func wireFrame(t testing.TB, headerAndBody string) []byte {
	t.Helper()
	raw := unhex(t, headerAndBody)
	var cs byte
	for _, c := range raw {
		cs ^= c
	}
	raw = append(raw, cs)
	out := []byte{0x7e}
	for _, c := range raw {
		switch c {
		case 0x7e:
			out = append(out, 0x7d, 0x02)
		case 0x7d:
			out = append(out, 0x7d, 0x01)
		default:
			out = append(out, c)
		}
	}
	return append(out, 0x7e)
}
