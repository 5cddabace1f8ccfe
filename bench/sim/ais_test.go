package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/geo/portmodel"
	"github.com/porttrack/porttrack/ingest/rfid"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// ---- An independent AIS reader (DOMAIN.md §9), written from the spec ----

// aisBits de-armours a payload into a string of '0' and '1', fill bits
// removed.
func aisBits(t *testing.T, payload string, fill int) string {
	t.Helper()
	b := make([]byte, 0, 6*len(payload))
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		if !(c >= '0' && c <= 'W' || c >= '`' && c <= 'w') {
			t.Fatalf("payload %q: %q is not a 6-bit armour character", payload, c)
		}
		v := c - 48
		if v > 40 {
			v -= 8
		}
		for bit := 5; bit >= 0; bit-- {
			b = append(b, '0'+v>>bit&1)
		}
	}
	if fill < 0 || fill > 5 {
		t.Fatalf("fill %d", fill)
	}
	return string(b[:len(b)-fill])
}

// bitsU reads an unsigned field. It takes no *testing.T, being the hot loop
// of the stream tests: the decoders check the message length first, and a
// field beyond the end panics.
func bitsU(bits string, start, width int) uint64 {
	var v uint64
	for _, c := range []byte(bits[start : start+width]) {
		v = v<<1 | uint64(c-'0')
	}
	return v
}

// bitsI reads a two's complement field.
func bitsI(bits string, start, width int) int64 {
	v := int64(bitsU(bits, start, width))
	if bits[start] == '1' {
		v -= 1 << width
	}
	return v
}

// bitsText returns 6-bit text as is, '@' padding included.
func bitsText(bits string, start, chars int) string {
	const table = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"
	b := make([]byte, chars)
	for i := range chars {
		b[i] = table[bitsU(bits, start+6*i, 6)]
	}
	return string(b)
}

func trimText(s string) string {
	return strings.TrimRight(strings.TrimRight(s, "@"), " ")
}

func decodeType1(t *testing.T, bits string) posReportA {
	t.Helper()
	if len(bits) != 168 {
		t.Fatalf("type 1: %d bits, want 168", len(bits))
	}
	if bitsU(bits, 143+2, 3) != 0 {
		t.Fatal("type 1: spare bits set")
	}
	return posReportA{
		typ: uint8(bitsU(bits, 0, 6)), repeat: uint8(bitsU(bits, 6, 2)), mmsi: uint32(bitsU(bits, 8, 30)),
		status: uint8(bitsU(bits, 38, 4)), turn: int8(bitsI(bits, 42, 8)), speed: uint16(bitsU(bits, 50, 10)),
		accuracy: bits[60] == '1', lon: int32(bitsI(bits, 61, 28)), lat: int32(bitsI(bits, 89, 27)),
		course: uint16(bitsU(bits, 116, 12)), heading: uint16(bitsU(bits, 128, 9)), second: uint8(bitsU(bits, 137, 6)),
		maneuver: uint8(bitsU(bits, 143, 2)), raim: bits[148] == '1', radio: uint32(bitsU(bits, 149, 19)),
	}
}

func decodeType18(t *testing.T, bits string) posReportB {
	t.Helper()
	if len(bits) != 168 || bitsU(bits, 0, 6) != 18 {
		t.Fatalf("type 18: %d bits, type %d", len(bits), bitsU(bits, 0, 6))
	}
	return posReportB{
		repeat: uint8(bitsU(bits, 6, 2)), mmsi: uint32(bitsU(bits, 8, 30)), speed: uint16(bitsU(bits, 46, 10)),
		accuracy: bits[56] == '1', lon: int32(bitsI(bits, 57, 28)), lat: int32(bitsI(bits, 85, 27)),
		course: uint16(bitsU(bits, 112, 12)), heading: uint16(bitsU(bits, 124, 9)), second: uint8(bitsU(bits, 133, 6)),
		regional: uint8(bitsU(bits, 139, 2)), cs: bits[141] == '1', display: bits[142] == '1', dsc: bits[143] == '1',
		band: bits[144] == '1', msg22: bits[145] == '1', assigned: bits[146] == '1', raim: bits[147] == '1',
		radio: uint32(bitsU(bits, 148, 20)),
	}
}

// decodeType5 returns the text fields raw ('@' padding kept).
func decodeType5(t *testing.T, bits string) staticVoyage {
	t.Helper()
	if len(bits) != 424 || bitsU(bits, 0, 6) != 5 {
		t.Fatalf("type 5: %d bits, type %d", len(bits), bitsU(bits, 0, 6))
	}
	return staticVoyage{
		repeat: uint8(bitsU(bits, 6, 2)), mmsi: uint32(bitsU(bits, 8, 30)), version: uint8(bitsU(bits, 38, 2)),
		imo: uint32(bitsU(bits, 40, 30)), callsign: bitsText(bits, 70, 7), name: bitsText(bits, 112, 20),
		shipType: uint8(bitsU(bits, 232, 8)), bow: uint16(bitsU(bits, 240, 9)), stern: uint16(bitsU(bits, 249, 9)),
		port: uint8(bitsU(bits, 258, 6)), stbd: uint8(bitsU(bits, 264, 6)), epfd: uint8(bitsU(bits, 270, 4)),
		month: uint8(bitsU(bits, 274, 4)), day: uint8(bitsU(bits, 278, 5)), hour: uint8(bitsU(bits, 283, 5)),
		minute: uint8(bitsU(bits, 288, 6)), draught: uint8(bitsU(bits, 294, 8)), dest: bitsText(bits, 302, 20),
		dte: bits[422] == '1',
	}
}

// decodeType24 returns part A (160 bits) or part B (168 bits), text raw.
func decodeType24(t *testing.T, bits string) (a *staticPartA, b *staticPartB) {
	t.Helper()
	if bitsU(bits, 0, 6) != 24 {
		t.Fatalf("type %d, want 24", bitsU(bits, 0, 6))
	}
	repeat, mmsi := uint8(bitsU(bits, 6, 2)), uint32(bitsU(bits, 8, 30))
	switch part := bitsU(bits, 38, 2); {
	case part == 0 && len(bits) == 160:
		return &staticPartA{repeat: repeat, mmsi: mmsi, name: bitsText(bits, 40, 20)}, nil
	case part == 1 && len(bits) == 168:
		return nil, &staticPartB{
			repeat: repeat, mmsi: mmsi, shipType: uint8(bitsU(bits, 40, 8)), vendor: bitsText(bits, 48, 3),
			model: uint8(bitsU(bits, 66, 4)), serial: uint32(bitsU(bits, 70, 20)), callsign: bitsText(bits, 90, 7),
			bow: uint16(bitsU(bits, 132, 9)), stern: uint16(bitsU(bits, 141, 9)), port: uint8(bitsU(bits, 150, 6)),
			stbd: uint8(bitsU(bits, 156, 6)),
		}
	default:
		t.Fatalf("type 24 part %d with %d bits", part, len(bits))
	}
	return nil, nil
}

// encode armours a message with the code under test.
func encode(m interface{ encode(*sixBits) }) (string, int) {
	var b sixBits
	m.encode(&b)
	p, fill := b.appendArmoured(nil)
	return string(p), fill
}

// ---- Sentence framing, parsed independently ----

type aisLine struct {
	tags                  map[string]string // nil without a tag block
	total, num, seq, fill int               // seq -1 when empty
	channel               string
	payload               string
}

// nmeaXOR is the XOR of s, computed here rather than with the code under test.
func nmeaXOR(s string) string {
	var x byte
	for i := 0; i < len(s); i++ {
		x ^= s[i]
	}
	return strings.ToUpper(strconv.FormatUint(uint64(x)|0x100, 16)[1:])
}

func parseLine(t *testing.T, line string) aisLine {
	t.Helper()
	var l aisLine
	if strings.HasPrefix(line, `\`) {
		end := strings.Index(line[1:], `\`)
		if end < 0 {
			t.Fatalf("%q: unterminated tag block", line)
		}
		block := line[1 : 1+end]
		line = line[end+2:]
		body, sum, ok := strings.Cut(block, "*")
		if !ok || sum != nmeaXOR(body) {
			t.Fatalf("tag block %q: checksum %q, want %s", block, sum, nmeaXOR(body))
		}
		l.tags = map[string]string{}
		for _, f := range strings.Split(body, ",") {
			k, v, ok := strings.Cut(f, ":")
			if !ok {
				t.Fatalf("tag block %q: field %q", block, f)
			}
			l.tags[k] = v
		}
	}
	if !strings.HasPrefix(line, "!AIVDM,") || len(line) > 82 || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("%q: not an !AIVDM sentence of at most 82 characters", line)
	}
	body, sum, ok := strings.Cut(line[1:], "*")
	if !ok || sum != nmeaXOR(body) {
		t.Fatalf("%q: checksum %q, want %s", line, sum, nmeaXOR(body))
	}
	f := strings.Split(body, ",")
	if len(f) != 7 {
		t.Fatalf("%q: %d fields", line, len(f))
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return n
	}
	l.total, l.num, l.seq, l.channel, l.payload, l.fill = atoi(f[1]), atoi(f[2]), -1, f[4], f[5], atoi(f[6])
	if f[3] != "" {
		l.seq = atoi(f[3])
	}
	if l.channel != "A" && l.channel != "B" || l.num < 1 || l.num > l.total || l.total > 2 {
		t.Fatalf("%q: channel %q, fragment %d of %d", line, l.channel, l.num, l.total)
	}
	if l.num < l.total && l.fill != 0 {
		t.Fatalf("%q: fill on a fragment that is not the last", line)
	}
	return l
}

// ---- Encoder tests ----

// TestKnownAnswerType1 encodes the fields of DOMAIN.md §9.5's type 1
// example and must reproduce its payload and sentence exactly.
func TestKnownAnswerType1(t *testing.T) {
	const payload = "177KQJ5000G?tO`K>RA1wUbN0TKH"
	m := decodeType1(t, aisBits(t, payload, 0))
	if m.typ != 1 || m.mmsi != 477553000 || m.status != 5 || m.lat != 28549700 || m.lon != -73407500 ||
		m.speed != 0 || m.course != 510 || m.heading != 181 || m.second != 15 {
		t.Fatalf("decoded %+v, not the DOMAIN.md values", m)
	}
	// The fields DOMAIN.md gives, plus turn, accuracy, maneuver, raim and
	// radio as decoded.
	want := posReportA{
		typ: 1, mmsi: 477553000, status: 5, lat: 28549700, lon: -73407500, course: 510, heading: 181, second: 15,
		turn: m.turn, accuracy: m.accuracy, maneuver: m.maneuver, raim: m.raim, radio: m.radio,
	}
	got, fill := encode(&want)
	if got != payload || fill != 0 {
		t.Fatalf("encoded %q fill %d, want %q fill 0", got, fill, payload)
	}
	if s := string(appendVDM(nil, 1, 1, -1, 'B', []byte(got), fill)); s != "!AIVDM,1,1,,B,"+payload+",0*5C" {
		t.Fatalf("sentence %q, want checksum 5C", s)
	}
}

// TestKnownAnswerType5 does the same for the two-part type 5 example.
func TestKnownAnswerType5(t *testing.T) {
	const payload = "55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8" + "88888888880"
	m := decodeType5(t, aisBits(t, payload, 2))
	if m.mmsi != 351759000 || m.imo != 9134270 || trimText(m.callsign) != "3FOF8" || trimText(m.name) != "EVER DIADEM" ||
		m.shipType != 70 || m.bow != 225 || m.stern != 70 || m.port != 1 || m.stbd != 31 ||
		m.month != 5 || m.day != 15 || m.hour != 14 || m.minute != 0 || m.draught != 122 || trimText(m.dest) != "NEW YORK" {
		t.Fatalf("decoded %+v, not the DOMAIN.md values", m)
	}
	got, fill := encode(&m)
	if got != payload || fill != 2 {
		t.Fatalf("encoded %q fill %d, want %q fill 2", got, fill, payload)
	}
	if len(payload[:fragmentChars]) != 60 {
		t.Fatal("the example splits after 60 characters")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	signed := func(width int) int64 { return rng.Int64N(1<<width) - 1<<(width-1) }
	text := func(n int) string {
		const chars = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	pad := func(s string, n int) string { return s + strings.Repeat("@", n-len(s)) }
	for i := range 2000 {
		a := posReportA{
			typ: uint8(1 + rng.IntN(3)), repeat: uint8(rng.IntN(4)), mmsi: uint32(rng.IntN(1 << 30)), status: uint8(rng.IntN(16)),
			turn: int8(signed(8)), speed: uint16(rng.IntN(1024)), accuracy: rng.IntN(2) == 0, lon: int32(signed(28)),
			lat: int32(signed(27)), course: uint16(rng.IntN(4096)), heading: uint16(rng.IntN(512)), second: uint8(rng.IntN(64)),
			maneuver: uint8(rng.IntN(4)), raim: rng.IntN(2) == 0, radio: uint32(rng.IntN(1 << 19)),
		}
		if i == 0 { // extremes
			a.lon, a.lat, a.turn = -1<<27, -1<<26, -128
		}
		p, fill := encode(&a)
		if len(p) != 28 || fill != 0 {
			t.Fatalf("type 1: %d characters, fill %d", len(p), fill)
		}
		if got := decodeType1(t, aisBits(t, p, fill)); got != a {
			t.Fatalf("type 1 round trip:\n got %+v\nwant %+v", got, a)
		}

		b := posReportB{
			repeat: uint8(rng.IntN(4)), mmsi: uint32(rng.IntN(1 << 30)), speed: uint16(rng.IntN(1024)), accuracy: rng.IntN(2) == 0,
			lon: int32(signed(28)), lat: int32(signed(27)), course: uint16(rng.IntN(4096)), heading: uint16(rng.IntN(512)),
			second: uint8(rng.IntN(64)), regional: uint8(rng.IntN(4)), cs: rng.IntN(2) == 0, display: rng.IntN(2) == 0,
			dsc: rng.IntN(2) == 0, band: rng.IntN(2) == 0, msg22: rng.IntN(2) == 0, assigned: rng.IntN(2) == 0,
			raim: rng.IntN(2) == 0, radio: uint32(rng.IntN(1 << 20)),
		}
		p, fill = encode(&b)
		if len(p) != 28 || fill != 0 {
			t.Fatalf("type 18: %d characters, fill %d", len(p), fill)
		}
		if got := decodeType18(t, aisBits(t, p, fill)); got != b {
			t.Fatalf("type 18 round trip:\n got %+v\nwant %+v", got, b)
		}

		s := staticVoyage{
			repeat: uint8(rng.IntN(4)), version: uint8(rng.IntN(4)), mmsi: uint32(rng.IntN(1 << 30)), imo: uint32(rng.IntN(1 << 30)),
			callsign: text(7), name: text(20), dest: text(20), shipType: uint8(rng.IntN(256)), bow: uint16(rng.IntN(512)),
			stern: uint16(rng.IntN(512)), port: uint8(rng.IntN(64)), stbd: uint8(rng.IntN(64)), epfd: uint8(rng.IntN(16)),
			month: uint8(rng.IntN(16)), day: uint8(rng.IntN(32)), hour: uint8(rng.IntN(32)), minute: uint8(rng.IntN(64)),
			draught: uint8(rng.IntN(256)), dte: rng.IntN(2) == 0,
		}
		p, fill = encode(&s)
		if len(p) != 71 || fill != 2 {
			t.Fatalf("type 5: %d characters, fill %d", len(p), fill)
		}
		want := s
		want.callsign, want.name, want.dest = pad(s.callsign, 7), pad(s.name, 20), pad(s.dest, 20)
		if got := decodeType5(t, aisBits(t, p, fill)); got != want {
			t.Fatalf("type 5 round trip:\n got %+v\nwant %+v", got, want)
		}

		pa := staticPartA{repeat: uint8(rng.IntN(4)), mmsi: uint32(rng.IntN(1 << 30)), name: text(20)}
		p, fill = encode(&pa)
		if len(p) != 27 || fill != 2 {
			t.Fatalf("type 24A: %d characters, fill %d", len(p), fill)
		}
		wantA := pa
		wantA.name = pad(pa.name, 20)
		if got, _ := decodeType24(t, aisBits(t, p, fill)); got == nil || *got != wantA {
			t.Fatalf("type 24A round trip:\n got %+v\nwant %+v", got, wantA)
		}

		pb := staticPartB{
			repeat: uint8(rng.IntN(4)), mmsi: uint32(rng.IntN(1 << 30)), shipType: uint8(rng.IntN(256)), vendor: text(3),
			model: uint8(rng.IntN(16)), serial: uint32(rng.IntN(1 << 20)), callsign: text(7), bow: uint16(rng.IntN(512)),
			stern: uint16(rng.IntN(512)), port: uint8(rng.IntN(64)), stbd: uint8(rng.IntN(64)),
		}
		p, fill = encode(&pb)
		if len(p) != 28 || fill != 0 {
			t.Fatalf("type 24B: %d characters, fill %d", len(p), fill)
		}
		wantB := pb
		wantB.vendor, wantB.callsign = pad(pb.vendor, 3), pad(pb.callsign, 7)
		if _, got := decodeType24(t, aisBits(t, p, fill)); got == nil || *got != wantB {
			t.Fatalf("type 24B round trip:\n got %+v\nwant %+v", got, wantB)
		}
	}
}

func TestEncoderRejectsOverflow(t *testing.T) {
	for name, f := range map[string]func(*sixBits){
		"unsigned":   func(b *sixBits) { b.put(64, 6) },
		"signed low": func(b *sixBits) { b.putSigned(-129, 8) },
		"signed hi":  func(b *sixBits) { b.putSigned(128, 8) },
		"text long":  func(b *sixBits) { b.putText("ABCDEFGH", 7) },
		"lower case": func(b *sixBits) { b.putText("abc", 7) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(new(sixBits))
		}()
	}
}

func TestTagBlockChecksum(t *testing.T) {
	// The example in DOMAIN.md §9.3.
	got := string(appendTagBlock(nil, func(b []byte) []byte { return append(b, "g:1-2-3985,s:rEV02,c:1334337317"...) }))
	if want := `\g:1-2-3985,s:rEV02,c:1334337317*2D\`; got != want {
		t.Fatalf("tag block %s, want %s", got, want)
	}
	got = string(appendTagBlock(nil, func(b []byte) []byte { return append(b, "g:2-2-3985"...) }))
	if want := `\g:2-2-3985*5A\`; got != want {
		t.Fatalf("tag block %s, want %s", got, want)
	}
}

func TestIMOCheckDigit(t *testing.T) {
	for _, imo := range []uint32{9321483, 9176187, 9346524, 9134270} {
		if d := imoCheckDigit(imo / 10); d != imo%10 {
			t.Errorf("IMO %d: check digit %d", imo, d)
		}
	}
}

// ---- Generator tests ----

var aisTestStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func validShipMMSI(m uint32) bool {
	mid := m / 1_000_000
	return m >= 100_000_000 && m <= 999_999_999 && (mid == 412 || mid == 413 || mid == 414)
}

func TestAISFleet(t *testing.T) {
	fleet := newFleet(5, 400)
	if len(fleet) != 450 {
		t.Fatalf("%d vessels, want 400 ships and 50 craft", len(fleet))
	}
	seen := map[uint32]bool{}
	for _, v := range fleet {
		if !validShipMMSI(v.mmsi) || seen[v.mmsi] {
			t.Errorf("MMSI %d: invalid or repeated", v.mmsi)
		}
		seen[v.mmsi] = true
		// Every string must be encodable.
		var b sixBits
		b.putText(v.name, 20)
		b.putText(v.callsign, 7)
		if !strings.HasPrefix(v.callsign, "B") || len(v.name) == 0 {
			t.Errorf("%d: name %q, call sign %q", v.mmsi, v.name, v.callsign)
		}
		if v.classB {
			if v.shipType >= 70 || v.bow+v.stern > 60 {
				t.Errorf("craft %d: type %d, length %d", v.mmsi, v.shipType, v.bow+v.stern)
			}
			continue
		}
		if v.imo < 1_000_000 || v.imo > 9_999_999 || imoCheckDigit(v.imo/10) != v.imo%10 || seen[v.imo] {
			t.Errorf("%s: IMO %d invalid or repeated", v.name, v.imo)
		}
		seen[v.imo] = true
		if v.shipType < 70 || v.shipType > 79 || v.bow+v.stern < 150 || v.port+v.stbd < 20 {
			t.Errorf("%s: type %d, %d x %d m", v.name, v.shipType, v.bow+v.stern, v.port+v.stbd)
		}
	}
	if !slices.EqualFunc(fleet, newFleet(5, 400), func(a, b *aisVessel) bool {
		return a.mmsi == b.mmsi && a.imo == b.imo && a.name == b.name && a.callsign == b.callsign
	}) {
		t.Fatal("the same seed gave another fleet")
	}
}

func TestAISGeneratorDeterministic(t *testing.T) {
	cfg := AISConfig{Seed: 7, Vessels: 30, Start: aisTestStart}
	a := NewAISGenerator(cfg).Next(nil, 5000)
	b := NewAISGenerator(cfg).Next(nil, 5000)
	if !slices.EqualFunc(a, b, recordEqual) {
		t.Fatal("two generators with the same config differ")
	}
	// Next in small steps returns the same stream.
	g := NewAISGenerator(cfg)
	var c []Record
	for len(c) < 5000 {
		c = g.Next(c, 7)
	}
	if !slices.EqualFunc(a, c[:5000], recordEqual) {
		t.Fatal("Next(7) repeatedly differs from Next(5000)")
	}
	cfg.Seed = 8
	if d := NewAISGenerator(cfg).Next(nil, 5000); slices.EqualFunc(a[:100], d[:100], recordEqual) {
		t.Fatal("another seed gave the same records")
	}
}

// aisMessage is one decoded message of the stream.
type aisMessage struct {
	station string
	at      int64 // tag c:, or the latest seen; 0 when unknown
	typ     int
	bits    string
	rec     int // index of the record that completed it
}

// parseStream checks the framing of recs and returns the messages in order.
func parseStream(t *testing.T, recs []Record, stations []string) (msgs []aisMessage, counts map[string]int) {
	t.Helper()
	counts = map[string]int{}
	lastSeq := map[string]int{}
	lastC := int64(0)
	type open struct {
		l     aisLine
		key   string
		group string
		rec   int
	}
	var frag *open
	for ri, r := range recs {
		key := string(r.Key)
		if !slices.Contains(stations, key) {
			t.Fatalf("record %d: key %q is no station", ri, key)
		}
		lines := strings.Split(string(r.Value), "\n")
		if len(lines) > 2 {
			t.Fatalf("record %d: %d lines", ri, len(lines))
		}
		for li, line := range lines {
			l := parseLine(t, line)
			counts["sentences"]++
			counts["channel "+l.channel]++
			if l.tags != nil {
				counts["tagged"]++
				if c := l.tags["c"]; c != "" {
					sec, err := strconv.ParseInt(c, 10, 64)
					if err != nil || sec < lastC || sec < aisTestStart.Unix() {
						t.Fatalf("record %d: c:%s after c:%d (or before Start)", ri, c, lastC)
					}
					lastC = sec
					if s := l.tags["s"]; s != key {
						t.Fatalf("record %d: s:%s in a record keyed %s", ri, s, key)
					}
				}
			}
			if l.total == 1 {
				if frag != nil {
					t.Fatalf("record %d: single-part sentence inside a multi-part message", ri)
				}
				if l.seq != -1 || len(lines) != 1 || l.tags != nil && (len(l.tags) != 2 || l.tags["s"] == "") {
					t.Fatalf("record %d: single-part %q: seq %d, %d lines, tags %v", ri, line, l.seq, len(lines), l.tags)
				}
				msgs = append(msgs, aisMessage{station: key, at: lastC, bits: aisBits(t, l.payload, l.fill), rec: ri})
				continue
			}
			// Two-part: fragment 1 then fragment 2, same station, channel
			// and sequence id, in one record or in two adjacent ones.
			g := ""
			if l.tags != nil {
				g = l.tags["g"]
				counts["grouped"]++
			}
			if l.num == 1 {
				if frag != nil {
					t.Fatalf("record %d: fragment 1 while a message is open", ri)
				}
				if prev, ok := lastSeq[key]; ok && l.seq != (prev+1)%10 {
					t.Fatalf("record %d: sequence id %d after %d at %s", ri, l.seq, prev, key)
				}
				lastSeq[key] = l.seq
				if l.tags != nil && (!strings.HasPrefix(g, "1-2-") || l.tags["s"] == "" || l.tags["c"] == "") {
					t.Fatalf("record %d: fragment 1 tags %v", ri, l.tags)
				}
				frag = &open{l: l, key: key, group: strings.TrimPrefix(g, "1-2-"), rec: ri}
				if len(lines) == 1 {
					counts["split"]++
				}
				continue
			}
			switch {
			case frag == nil:
				t.Fatalf("record %d: fragment 2 without fragment 1", ri)
			case frag.key != key || frag.l.seq != l.seq || frag.l.channel != l.channel:
				t.Fatalf("record %d: fragment 2 does not match fragment 1 (%+v)", ri, frag.l)
			case li == 0 && frag.rec != ri-1 || li == 1 && frag.rec != ri:
				t.Fatalf("record %d: fragment 2 not adjacent to fragment 1", ri)
			case (l.tags == nil) != (frag.l.tags == nil) || l.tags != nil && (g != "2-2-"+frag.group || len(l.tags) != 1):
				t.Fatalf("record %d: fragment tags %v and %v", ri, frag.l.tags, l.tags)
			}
			msgs = append(msgs, aisMessage{station: key, at: lastC, bits: aisBits(t, frag.l.payload+l.payload, l.fill), rec: ri})
			counts["multipart"]++
			frag = nil
		}
	}
	for i := range msgs {
		msgs[i].typ = int(bitsU(msgs[i].bits, 0, 6))
	}
	return msgs, counts
}

func TestAISStream(t *testing.T) {
	t.Parallel()
	cfg := AISConfig{Seed: 3, Start: aisTestStart}
	g := NewAISGenerator(cfg)
	const n = 30_000
	recs := g.Next(nil, n)
	stations := cfg.withDefaults().Stations
	msgs, counts := parseStream(t, recs, stations)
	if st := g.Stats(); st.Produced != n || st.Bad != 0 || g.Sentences() != int64(counts["sentences"]) {
		t.Fatalf("stats %+v, %d sentences; parsed %d sentences", st, g.Sentences(), counts["sentences"])
	}
	types := map[int]int{}
	dups := 0
	for i, m := range msgs {
		types[m.typ]++
		mmsi := uint32(bitsU(m.bits, 8, 30))
		if !validShipMMSI(mmsi) {
			t.Fatalf("message %d: MMSI %d", i, mmsi)
		}
		switch m.typ {
		case 1:
			p := decodeType1(t, m.bits)
			lat, lon := float64(p.lat)/600000, float64(p.lon)/600000
			if lat < 29.6 || lat > 30.0 || lon < 121.8 || lon > 122.8 || p.course >= 3600 || p.heading >= 360 ||
				p.speed > 200 || p.second >= 60 || !slices.Contains([]uint8{0, 1, 5}, p.status) {
				t.Fatalf("message %d: %+v", i, p)
			}
		case 18:
			p := decodeType18(t, m.bits)
			if !p.cs || p.heading != 511 || p.speed > 150 || p.course >= 3600 {
				t.Fatalf("message %d: %+v", i, p)
			}
		case 5:
			s := decodeType5(t, m.bits)
			if imoCheckDigit(s.imo/10) != s.imo%10 || s.shipType < 70 || s.shipType > 79 || s.draught == 0 ||
				s.month < 1 || s.month > 12 || s.day < 1 || s.day > 31 || s.hour > 23 || s.minute > 59 || s.epfd != 1 {
				t.Fatalf("message %d: %+v", i, s)
			}
			if d := trimText(s.dest); !slices.Contains(ningboDests, d) && !slices.Contains(nextPorts, d) {
				t.Fatalf("message %d: destination %q", i, d)
			}
		case 24:
			decodeType24(t, m.bits)
		default:
			t.Fatalf("message %d: type %d", i, m.typ)
		}
		// A second station's copy follows its original at once.
		if i > 0 && m.bits == msgs[i-1].bits && m.rec == msgs[i-1].rec+1 {
			if m.station == msgs[i-1].station || m.typ != 1 && m.typ != 18 {
				t.Fatalf("message %d: a duplicate of type %d from the same station %s", i, m.typ, m.station)
			}
			dups++
		}
	}
	if int64(dups) != g.Stats().Duplicates {
		t.Errorf("found %d duplicates, stats say %d", dups, g.Stats().Duplicates)
	}
	pos := types[1] + types[18]
	if f := float64(dups) / float64(pos-dups); f < 0.07 || f > 0.13 {
		t.Errorf("%d of %d position reports heard twice, want about 10%%", dups, pos-dups)
	}
	if types[1] == 0 || types[5] == 0 || types[18] == 0 || types[24] == 0 {
		t.Errorf("message types %v: want 1, 5, 18 and 24", types)
	}
	if f := float64(counts["tagged"]) / float64(counts["sentences"]); f < 0.45 || f > 0.55 {
		t.Errorf("%.3f of sentences tag-blocked, want about 0.5", f)
	}
	if f := float64(counts["split"]) / float64(counts["multipart"]); f < 0.4 || f > 0.6 {
		t.Errorf("%d of %d multi-part messages split over records, want about half", counts["split"], counts["multipart"])
	}
	if counts["grouped"] == 0 || counts["channel A"] == 0 || counts["channel B"] == 0 {
		t.Errorf("counts %v: want g: groups and both channels", counts)
	}
	for _, s := range stations {
		if !slices.ContainsFunc(recs, func(r Record) bool { return string(r.Key) == s }) {
			t.Errorf("no record from station %s", s)
		}
	}
}

func TestAISRates(t *testing.T) {
	// Negative rates mean never; 1 means always.
	cfg := AISConfig{Seed: 4, Vessels: 10, Start: aisTestStart, TagBlockRate: -1, MultiRecordRate: 1, DupRate: -1, Stations: []string{"X1"}}
	recs := NewAISGenerator(cfg).Next(nil, 3000)
	_, counts := parseStream(t, recs, cfg.Stations)
	if counts["tagged"] != 0 || counts["split"] != counts["multipart"] || counts["multipart"] == 0 {
		t.Fatalf("counts %v: want no tag blocks and every multi-part message split", counts)
	}
	cfg.TagBlockRate, cfg.MultiRecordRate, cfg.DupRate, cfg.Stations = 1, -1, 1, []string{"X1", "X2"}
	g := NewAISGenerator(cfg)
	recs = g.Next(nil, 3000)
	_, counts = parseStream(t, recs, cfg.Stations)
	if counts["tagged"] != counts["sentences"] || counts["split"] != 0 || g.Stats().Duplicates == 0 {
		t.Fatalf("counts %v, stats %+v: want every sentence tagged, no split, duplicates", counts, g.Stats())
	}
}

func TestAISConfigValidate(t *testing.T) {
	ok := AISConfig{Brokers: []string{"localhost:9092"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*AISConfig)
	}{
		{"Brokers", func(c *AISConfig) { c.Brokers = nil }},
		{"Total", func(c *AISConfig) { c.Total = -1 }},
		{"Rate", func(c *AISConfig) { c.Rate = math.NaN() }},
		{"Vessels", func(c *AISConfig) { c.Vessels = -1 }},
		{"Vessels", func(c *AISConfig) { c.Vessels = maxVessels + 1 }},
		{"Stations", func(c *AISConfig) { c.Stations = []string{} }},
		{"Stations", func(c *AISConfig) { c.Stations = []string{"A,B"} }},
		{"Stations", func(c *AISConfig) { c.Stations = []string{"A*B"} }},
		{"Stations", func(c *AISConfig) { c.Stations = []string{`A\B`} }},
		{"Stations", func(c *AISConfig) { c.Stations = []string{"S1", "S1"} }},
		{"TagBlockRate", func(c *AISConfig) { c.TagBlockRate = 1.5 }},
		{"MultiRecordRate", func(c *AISConfig) { c.MultiRecordRate = math.NaN() }},
		{"DupRate", func(c *AISConfig) { c.DupRate = 2 }},
	} {
		c := ok
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming the field", tc.field, err)
		}
	}
}

// ---- Geography: the generator against geo/portmodel ----

type pmFeature struct {
	id, kind, terminal, reader, facility string
	rings                                [][][2]float64 // [lon, lat]; a Point is one ring of one position
}

func loadPortModel(t *testing.T) map[string]pmFeature {
	t.Helper()
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(portmodel.GeoJSON(), &fc); err != nil {
		t.Fatal(err)
	}
	out := map[string]pmFeature{}
	for _, f := range fc.Features {
		s := func(k string) string { v, _ := f.Properties[k].(string); return v }
		pf := pmFeature{id: s("id"), kind: s("kind"), terminal: s("terminal"), reader: s("reader"), facility: s("facility")}
		var err error
		switch f.Geometry.Type {
		case "Polygon":
			err = json.Unmarshal(f.Geometry.Coordinates, &pf.rings)
		case "Point":
			var p [2]float64
			err = json.Unmarshal(f.Geometry.Coordinates, &p)
			pf.rings = [][][2]float64{{p}}
		}
		if err != nil {
			t.Fatal(err)
		}
		out[pf.id] = pf
	}
	return out
}

// contains is an even-odd test against the exterior ring of a polygon.
func (f pmFeature) contains(lat, lon float64) bool {
	if len(f.rings) == 0 || len(f.rings[0]) < 4 {
		return false
	}
	ring, in := f.rings[0], false
	for i := 0; i+1 < len(ring); i++ {
		a, b := ring[i], ring[i+1]
		if (a[1] > lat) != (b[1] > lat) && lon < a[0]+(lat-a[1])/(b[1]-a[1])*(b[0]-a[0]) {
			in = !in
		}
	}
	return in
}

func anyContains(fs []pmFeature, lat, lon float64) bool {
	return slices.ContainsFunc(fs, func(f pmFeature) bool { return f.contains(lat, lon) })
}

func byKinds(model map[string]pmFeature, kinds ...string) []pmFeature {
	var out []pmFeature
	for _, f := range model {
		if slices.Contains(kinds, f.kind) {
			out = append(out, f)
		}
	}
	return out
}

// TestAISWaypoints checks the generator's hard-coded geography against the
// port model.
func TestAISWaypoints(t *testing.T) {
	model := loadPortModel(t)
	water := byKinds(model, "port_area", "anchorage", "route")
	land := byKinds(model, "terminal", "yard_block", "gate", "rail_station")
	for _, b := range berths {
		f, ok := model[b.id]
		if !ok || f.kind != "berth" {
			t.Fatalf("berth %s is not in the port model", b.id)
		}
		if !f.contains(b.at.lat, b.at.lon) {
			t.Errorf("%s: %v is outside its polygon", b.id, b.at)
		}
		for _, p := range append([]latLon{b.at, b.approach}, b.via...) {
			if !anyContains(water, p.lat, p.lon) || anyContains(land, p.lat, p.lon) {
				t.Errorf("%s: waypoint %v is not in port waters", b.id, p)
			}
		}
	}
	corridor := model["xiazhimen-deep-water-route"]
	for i := range routeCentre {
		for _, p := range []latLon{routeCentre[i], laneIn[i], laneOut[i]} {
			if !corridor.contains(p.lat, p.lon) {
				t.Errorf("route point %d %v is outside the corridor", i, p)
			}
		}
	}
	anch := model["beilun-anchorage"]
	if len(anch.rings) == 0 || len(anch.rings[0]) != len(beilunAnchorage)+1 {
		t.Fatal("beilun-anchorage: no ring of the sourced vertices")
	}
	for _, v := range beilunAnchorage {
		if !slices.Contains(anch.rings[0], [2]float64{v.lon, v.lat}) {
			t.Errorf("anchorage vertex %v is not in the port model", v)
		}
	}
	if !anch.contains(anchorageCentroid.lat, anchorageCentroid.lon) {
		t.Error("the anchorage centroid is outside the anchorage")
	}
	for i, loop := range craftLoops {
		for _, p := range loop {
			if !anyContains(water, p.lat, p.lon) || anyContains(land, p.lat, p.lon) {
				t.Errorf("craft loop %d: %v is not in port waters", i, p)
			}
		}
	}
}

// TestPortModelReaders checks that the reader points of the port model are
// readers of the default table, at their facility.
func TestPortModelReaders(t *testing.T) {
	readers := rfid.DefaultReaders()
	n := 0
	for _, f := range loadPortModel(t) {
		if f.kind != "reader" {
			continue
		}
		n++
		r, ok := readers[f.reader]
		if !ok {
			t.Errorf("%s: reader %q is not in rfid.DefaultReaders", f.id, f.reader)
		} else if r.Facility != f.facility {
			t.Errorf("%s: facility %q, the reader table says %q", f.id, f.facility, r.Facility)
		}
	}
	if n == 0 {
		t.Fatal("no reader points")
	}
}

// TestAISVoyages runs a small fleet for days of event time and checks where
// ships are in each state and the order of the states.
func TestAISVoyages(t *testing.T) {
	t.Parallel()
	model := loadPortModel(t)
	water := byKinds(model, "port_area", "anchorage", "route")
	land := byKinds(model, "terminal", "yard_block", "gate", "rail_station")
	var quays []pmFeature
	for _, f := range byKinds(model, "berth") {
		if f.terminal == "nbct" || f.terminal == "csct" || f.terminal == "msct" {
			quays = append(quays, f)
		}
	}
	anchorage := model["beilun-anchorage"]

	cfg := AISConfig{Seed: 9, Vessels: 8, Start: aisTestStart, TagBlockRate: 1, DupRate: -1}
	g := NewAISGenerator(cfg)
	recs := g.Next(nil, 100_000)
	msgs, _ := parseStream(t, recs, cfg.withDefaults().Stations)
	if span := time.Duration(msgs[len(msgs)-1].at-msgs[0].at) * time.Second; span < 72*time.Hour {
		t.Fatalf("the stream spans %v of event time, want days", span)
	} else {
		t.Logf("%d records, %v of event time", len(recs), span)
	}

	type track struct {
		status      []uint8 // distinct consecutive statuses
		lat, lon    float64
		at          int64
		reports     int
		destAnchors []string
	}
	tracks := map[uint32]*track{}
	for i, m := range msgs {
		mmsi := uint32(bitsU(m.bits, 8, 30))
		tr := tracks[mmsi]
		if tr == nil {
			tr = &track{}
			tracks[mmsi] = tr
		}
		var lat, lon float64
		switch m.typ {
		case 1:
			p := decodeType1(t, m.bits)
			lat, lon = float64(p.lat)/600000, float64(p.lon)/600000
			switch p.status {
			case 1:
				if !anchorage.contains(lat, lon) || p.speed > 2 || p.turn != -128 {
					t.Fatalf("message %d: anchored at %.5f, %.5f, speed %d, turn %d", i, lat, lon, p.speed, p.turn)
				}
			case 5:
				if !anyContains(quays, lat, lon) || p.speed != 0 {
					t.Fatalf("message %d: moored at %.5f, %.5f (no berth), speed %d", i, lat, lon, p.speed)
				}
			case 0:
				if !anyContains(water, lat, lon) || anyContains(land, lat, lon) || p.speed < 40 || p.speed > 180 {
					t.Fatalf("message %d: under way at %.5f, %.5f, speed %d", i, lat, lon, p.speed)
				}
			}
			if n := len(tr.status); n == 0 || tr.status[n-1] != p.status {
				tr.status = append(tr.status, p.status)
			}
		case 18:
			p := decodeType18(t, m.bits)
			lat, lon = float64(p.lat)/600000, float64(p.lon)/600000
			if !anyContains(water, lat, lon) || anyContains(land, lat, lon) {
				t.Fatalf("message %d: class B at %.5f, %.5f", i, lat, lon)
			}
		case 5:
			if n := len(tr.status); n > 0 && tr.status[n-1] == 1 {
				tr.destAnchors = append(tr.destAnchors, trimText(decodeType5(t, m.bits).dest))
			}
			continue
		default:
			continue
		}
		// No jumps: at most 20 kn since the last report, plus noise.
		if tr.reports > 0 {
			dt := float64(m.at - tr.at)
			e, n := delta(latLon{tr.lat, tr.lon}, latLon{lat, lon})
			if d := math.Hypot(e, n); d > 20*knot*(dt+2)+100 {
				t.Fatalf("message %d: MMSI %d moved %.0f m in %.0f s", i, mmsi, d, dt)
			}
		}
		tr.lat, tr.lon, tr.at = lat, lon, m.at
		tr.reports++
	}

	// Statuses cycle under way (0) -> anchored (1) -> 0 -> moored (5) -> 0.
	follows := map[uint8]uint8{1: 5, 5: 1} // the next non-zero status
	full := 0
	for mmsi, tr := range tracks {
		var last uint8
		for _, s := range tr.status {
			if s == 0 {
				continue
			}
			if last != 0 && s != follows[last] {
				t.Fatalf("MMSI %d: statuses %v: %d after %d", mmsi, tr.status, s, last)
			}
			last = s
		}
		if slices.Contains(tr.status, 1) && slices.Contains(tr.status, 5) {
			full++
		}
		for _, d := range tr.destAnchors {
			if !slices.Contains(ningboDests, d) {
				t.Fatalf("MMSI %d: destination %q at anchor", mmsi, d)
			}
		}
	}
	if full < cfg.Vessels/2 {
		t.Fatalf("%d of %d ships both anchored and moored", full, cfg.Vessels)
	}
}

// ---- Kafka ----

func TestRunAISKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, "port.ais"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	cfg := AISConfig{Brokers: brokers, Total: 2000, Seed: 11, Start: aisTestStart, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := RunAIS(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := NewAISGenerator(cfg)
	recs := g.Next(nil, 2000)
	if st != g.Stats() {
		t.Fatalf("RunAIS stats %+v, generator stats %+v", st, g.Stats())
	}
	// Per station, the records in generator order: one station's records
	// all land in one partition, in that order.
	want := map[string][]string{}
	for _, r := range recs {
		want[string(r.Key)] = append(want[string(r.Key)], string(r.Value))
	}
	got := map[string][]string{}
	partition := map[string]int{}
	for p := range testPartitions {
		for _, m := range readTopicPartition(ctx, t, brokers[0], "port.ais", p) {
			k := string(m.Key)
			if q, ok := partition[k]; ok && q != p {
				t.Errorf("key %s in partitions %d and %d", k, q, p)
			}
			partition[k] = p
			got[k] = append(got[k], string(m.Value))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read keys %d, want %d stations", len(got), len(want))
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("station %s: read %d records, want the %d produced in order", k, len(got[k]), len(w))
		}
	}
}

func TestRunAISValidates(t *testing.T) {
	if _, err := RunAIS(t.Context(), AISConfig{}); err == nil || !strings.Contains(err.Error(), "Brokers") {
		t.Fatalf("RunAIS without brokers: %v", err)
	}
}

// readTopicPartition reads a partition from its first offset to the high
// watermark.
func readTopicPartition(ctx context.Context, t *testing.T, addr, topic string, p int) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	end, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Seek(0, kafka.SeekStart); err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for offset := int64(0); offset < end; {
		b := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
		for {
			m, err := b.ReadMessage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("partition %d at offset %d: %v", p, offset, err)
			}
			msgs = append(msgs, m)
			offset = m.Offset + 1
		}
		if err := b.Close(); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
	}
	return msgs
}

// ---- gpsd oracle (DOMAIN.md §9.5) ----

// TestGpsdecode pipes generated traffic through gpsd's decoder and compares
// the unscaled fields of every type 1, 5 and 18 message.
func TestGpsdecode(t *testing.T) {
	bin, err := exec.LookPath("gpsdecode")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("gpsdecode is required in CI (Debian: gpsd-clients): %v", err)
		}
		t.Skip("gpsdecode not installed")
	}
	cfg := AISConfig{Seed: 21, Start: aisTestStart}
	recs := NewAISGenerator(cfg).Next(nil, 600)
	var in bytes.Buffer
	for _, r := range recs {
		in.Write(r.Value)
		in.WriteString("\r\n")
	}
	msgs, _ := parseStream(t, recs, cfg.withDefaults().Stations)

	cmd := exec.CommandContext(t.Context(), bin, "-u", "-j")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpsdecode: %v\n%s", err, stderr.Bytes())
	}
	type gpsdRecord struct {
		Class                                string
		Type, Status, Turn, Speed, Course    int
		Heading, Second, IMO, Shiptype       int
		MMSI                                 uint32
		Lat, Lon                             int64
		Callsign, Shipname, Destination, ETA string
		Draught                              int
		ToBow                                int `json:"to_bow"`
		ToStern                              int `json:"to_stern"`
		ToPort                               int `json:"to_port"`
		ToStarboard                          int `json:"to_starboard"`
	}
	var got []gpsdRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r gpsdRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("gpsdecode output %q: %v", sc.Text(), err)
		}
		if r.Class == "AIS" && r.Type != 24 {
			got = append(got, r)
		}
	}
	var want []aisMessage
	for _, m := range msgs {
		if m.typ != 24 {
			want = append(want, m)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("gpsdecode decoded %d messages of types 1, 5, 18; want %d\nstderr: %s", len(got), len(want), stderr.Bytes())
	}
	for i, m := range want {
		r := got[i]
		var ok bool
		switch m.typ {
		case 1:
			p := decodeType1(t, m.bits)
			ok = r.Type == 1 && r.MMSI == p.mmsi && r.Status == int(p.status) && r.Lat == int64(p.lat) && r.Lon == int64(p.lon) &&
				r.Speed == int(p.speed) && r.Course == int(p.course) && r.Heading == int(p.heading) && r.Turn == int(p.turn) &&
				r.Second == int(p.second)
		case 18:
			p := decodeType18(t, m.bits)
			ok = r.Type == 18 && r.MMSI == p.mmsi && r.Lat == int64(p.lat) && r.Lon == int64(p.lon) &&
				r.Speed == int(p.speed) && r.Course == int(p.course) && r.Heading == int(p.heading)
		case 5:
			s := decodeType5(t, m.bits)
			eta := strconv.Itoa(int(s.month) + 100)[1:] + "-" + strconv.Itoa(int(s.day) + 100)[1:] + "T" +
				strconv.Itoa(int(s.hour) + 100)[1:] + ":" + strconv.Itoa(int(s.minute) + 100)[1:] + "Z"
			ok = r.Type == 5 && r.MMSI == s.mmsi && r.IMO == int(s.imo) && r.Callsign == trimText(s.callsign) &&
				r.Shipname == trimText(s.name) && r.Destination == trimText(s.dest) && r.Draught == int(s.draught) &&
				r.Shiptype == int(s.shipType) && r.ToBow == int(s.bow) && r.ToStern == int(s.stern) &&
				r.ToPort == int(s.port) && r.ToStarboard == int(s.stbd) && r.ETA == eta
		}
		if !ok {
			t.Fatalf("message %d (type %d): gpsdecode says %+v", i, m.typ, r)
		}
	}
	t.Logf("gpsdecode agrees on %d messages", len(want))
}

// ---- Benchmarks ----

func BenchmarkAISGeneratorNext(b *testing.B) {
	g := NewAISGenerator(AISConfig{Seed: 1, Start: aisTestStart})
	recs := make([]Record, 0, 1000)
	var n int64
	for _, r := range g.Next(nil, 1000) {
		n += int64(len(r.Value))
	}
	b.SetBytes(n / 1000)
	b.ReportAllocs()
	for b.Loop() {
		recs = g.Next(recs[:0], 1)
	}
}
