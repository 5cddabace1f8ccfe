package ais

import (
	"math"
	"testing"
	"time"
)

// decodeOne decodes one line that must give one message.
func decodeOne(t *testing.T, line string) *got {
	t.Helper()
	msgs, errs := feedAll(t, newDecoder(t, Config{}), time.Time{}, line)
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("%s: %d messages, errors %v", line, len(msgs), errs)
	}
	return &msgs[0]
}

func TestSentinelsAreUnknown(t *testing.T) {
	const mmsi = 412000001
	good := func() *bitWriter { return classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 1800, 90, 30) }
	for _, tc := range []struct {
		name    string
		payload *bitWriter
		unknown Field
	}{
		{"none", good(), 0},
		{"lat 91", classA(mmsi, 0, 10, 123, 7_300_000, 91*600000, 1800, 90, 30), FieldPosition},
		{"lon 181", classA(mmsi, 0, 10, 123, 181*600000, 1_800_000, 1800, 90, 30), FieldPosition},
		{"lat 77 with lon 181", classA(mmsi, 0, 10, 123, 181*600000, 77*600000, 1800, 90, 30), FieldPosition},
		{"lat out of range", classA(mmsi, 0, 10, 123, 7_300_000, -95*600000, 1800, 90, 30), FieldPosition},
		{"speed 1023", classA(mmsi, 0, 10, 1023, 7_300_000, 1_800_000, 1800, 90, 30), FieldSpeed},
		{"course 3600", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 3600, 90, 30), FieldCourse},
		{"course 4000", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 4000, 90, 30), FieldCourse},
		{"heading 511", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 1800, 511, 30), FieldHeading},
		{"heading 480", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 1800, 480, 30), FieldHeading},
		{"turn -128", classA(mmsi, 0, -128, 123, 7_300_000, 1_800_000, 1800, 90, 30), FieldTurn},
		{"second 60", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 1800, 90, 60), FieldSecond},
		{"second 63", classA(mmsi, 0, 10, 123, 7_300_000, 1_800_000, 1800, 90, 63), FieldSecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeOne(t, tc.payload.sentence())
			all := FieldStatus | FieldTurn | FieldSpeed | FieldAccuracy | FieldPosition | FieldCourse | FieldHeading | FieldSecond
			if got, want := m.known, all&^tc.unknown; got != want {
				t.Errorf("known %b, want %b", got, want)
			}
			if lat, lon, ok := m.Position(); !ok && (lat != 0 || lon != 0) {
				t.Errorf("unknown position reported as %v, %v", lat, lon)
			}
			if tc.unknown == 0 {
				lat, lon, _ := m.Position()
				turn, _ := m.Turn()
				speed, _ := m.Speed()
				if lat != 3 || lon != 73.0/6 || turn != 10 || speed != 12.3 {
					t.Errorf("values %v %v %v %v", lat, lon, turn, speed)
				}
			}
		})
	}
}

// TestTurn: the rate of turn is the raw ROT_AIS, known for −127..127 and
// unknown only for −128 (not available). ±127 (turning faster than 5° per
// 30 s, no turn indicator) is known raw, but its rate in °/min is not.
func TestTurn(t *testing.T) {
	for _, tc := range []struct {
		raw      int64
		known    bool
		rate     float64 // °/min
		rateKnow bool
	}{
		{-128, false, 0, false},
		{-127, true, 0, false},
		{127, true, 0, false},
		{126, true, 126 / 4.733 * 126 / 4.733, true},
		{-126, true, -(126 / 4.733 * 126 / 4.733), true},
		{-1, true, -(1 / 4.733 * 1 / 4.733), true},
		{0, true, 0, true},
		{10, true, 10 / 4.733 * 10 / 4.733, true},
	} {
		m := decodeOne(t, classA(412000001, 0, tc.raw, 123, 7_300_000, 1_800_000, 1800, 90, 30).sentence())
		turn, ok := m.Turn()
		if ok != tc.known || ok && int64(turn) != tc.raw || m.Has(FieldTurn) != tc.known {
			t.Errorf("raw %d: Turn() = %d, %v; want known %v", tc.raw, turn, ok, tc.known)
		}
		rate, ok := m.TurnRate()
		if ok != tc.rateKnow || math.Abs(rate-tc.rate) > 1e-9 {
			t.Errorf("raw %d: TurnRate() = %v, %v; want %v, %v", tc.raw, rate, ok, tc.rate, tc.rateKnow)
		}
	}
}

func TestNegativePosition(t *testing.T) {
	// Signed at the field width: -122.345833° / -47.5°.
	m := decodeOne(t, classA(1, 0, -5, 0, -73407500, -28500000, 0, 0, 0).sentence())
	lat, lon, ok := m.Position()
	turn, _ := m.Turn()
	if !ok || lat != -47.5 || lon != -73407500.0/600000 || turn != -5 {
		t.Errorf("position %v %v %v turn %d", lat, lon, ok, turn)
	}
}

func TestType27(t *testing.T) {
	type27 := func(lon, lat, speed, course int64) string {
		return header(27, 412000002).put(1, 1).put(0, 1).put(5, 4).put(lon, 18).put(lat, 17).
			put(speed, 6).put(course, 9).put(0, 1).put(0, 1).sentence()
	}
	m := decodeOne(t, type27(-73407/10*10, 28549, 12, 270))
	lat, lon, ok := m.Position()
	speed, _ := m.Speed()
	course, _ := m.Course()
	status, _ := m.Status()
	if acc, _ := m.Accuracy(); !ok || lat != 28549.0/600 || lon != -73400.0/600 || speed != 12 || course != 270 || status != 5 || !acc || m.Bits != 96 {
		t.Errorf("got %v %v %v speed %v course %v status %d bits %d", lat, lon, ok, speed, course, status, m.Bits)
	}
	m = decodeOne(t, type27(181*600, 91*600, 63, 511))
	if m.Has(FieldPosition) || m.Has(FieldSpeed) || m.Has(FieldCourse) || !m.Has(FieldStatus) {
		t.Errorf("sentinels known: %b", m.known)
	}
}

func TestType5Sentinels(t *testing.T) {
	static := func(month, day, hour, minute, draught int64) string {
		return header(5, 412000003).put(0, 2).put(0, 30).text("", 7).text("", 20).put(0, 8).
			put(0, 9).put(0, 9).put(0, 6).put(0, 6).put(0, 4).
			put(month, 4).put(day, 5).put(hour, 5).put(minute, 6).put(draught, 8).text("", 20).put(0, 1).at(424).sentence()
	}
	m := decodeOne(t, static(0, 0, 24, 60, 0))
	if m.Has(FieldETA) || m.Has(FieldDraught) || m.Has(FieldIMO) || m.Has(FieldShipname) || m.Has(FieldCallsign) || m.Has(FieldDestination) {
		t.Errorf("known %b", m.known)
	}
	if !m.Has(FieldShipType | FieldDimensions | FieldEPFD) {
		t.Errorf("raw codes unknown: %b", m.known)
	}
	for _, eta := range [][4]int64{{0, 15, 14, 0}, {5, 0, 14, 0}, {5, 15, 24, 0}, {5, 15, 14, 60}, {13, 15, 14, 0}} {
		if m := decodeOne(t, static(eta[0], eta[1], eta[2], eta[3], 1)); m.Has(FieldETA) {
			t.Errorf("eta %v known", eta)
		}
	}
	if m := decodeOne(t, static(12, 31, 23, 59, 255)); !m.Has(FieldETA) || !m.Has(FieldDraught) {
		t.Errorf("eta or draught unknown: %b", m.known)
	}
}

func TestLengthTolerance(t *testing.T) {
	full := header(5, 412000004).put(1, 2).put(9134270, 30).text("3FOF8", 7).text("EVER DIADEM", 20).put(70, 8).
		put(225, 9).put(70, 9).put(1, 6).put(31, 6).put(1, 4).
		put(5, 4).put(15, 5).put(14, 5).put(0, 6).put(122, 8).text("NEW YORK", 20).put(0, 1).put(0, 1)
	if len(full.bits) != 424 {
		t.Fatalf("built %d bits", len(full.bits))
	}
	d := newDecoder(t, Config{})
	// 420 bits, common in real data: the destination's last character is
	// cut, and it is padding.
	short := &bitWriter{bits: full.bits[:420]}
	msgs, errs := feedAll(t, d, time.Time{}, short.sentence())
	if len(errs) != 0 || len(msgs) != 1 || string(msgs[0].Destination()) != "NEW YORK" || msgs[0].Bits != 420 || d.Stats().Short != 1 {
		t.Fatalf("%d messages, errors %v, stats %+v", len(msgs), errs, d.Stats())
	}
	// Cut inside the ETA: the fields before it stay known.
	cut := &bitWriter{bits: full.bits[:280]}
	m := decodeOne(t, cut.sentence())
	if !m.Has(FieldIMO|FieldCallsign|FieldShipname|FieldShipType|FieldDimensions|FieldEPFD) || m.Has(FieldETA) || m.Has(FieldDraught) || m.Has(FieldDestination) {
		t.Errorf("known %b", m.known)
	}
	// A type 1 cut inside the latitude has no position.
	a := classA(1, 0, 0, 10, 1, 1, 0, 0, 0)
	m = decodeOne(t, (&bitWriter{bits: a.bits[:100]}).sentence())
	if !m.Has(FieldStatus|FieldTurn|FieldSpeed|FieldAccuracy) || m.Has(FieldPosition) || m.Has(FieldCourse) {
		t.Errorf("known %b", m.known)
	}
	// Longer than nominal: decoded, counted.
	d = newDecoder(t, Config{})
	feedAll(t, d, time.Time{}, a.at(174).sentence())
	if d.Stats().Long != 1 || d.Stats().Messages != 1 {
		t.Errorf("stats %+v", d.Stats())
	}
}

func TestType24(t *testing.T) {
	a := decodeOne(t, header(24, 412000005).put(0, 2).text("SY-LUNDE", 20).sentence())
	if a.Part != 'A' || string(a.Shipname()) != "SY-LUNDE" || a.Bits != 160 {
		t.Errorf("24A part %q name %q bits %d", a.Part, a.Shipname(), a.Bits)
	}
	b := decodeOne(t, header(24, 412000005).put(1, 2).put(37, 8).text("SRT", 3).put(1, 4).put(123, 20).text("BX123", 7).
		put(10, 9).put(5, 9).put(2, 6).put(3, 6).put(1, 4).put(0, 2).sentence())
	bow, stern, port, stbd, ok := b.Dimensions()
	st, _ := b.ShipType()
	if b.Part != 'B' || st != 37 || string(b.Vendor()) != "SRT" || string(b.Callsign()) != "BX123" || !ok || bow != 10 || stern != 5 || port != 2 || stbd != 3 || b.Bits != 168 {
		t.Errorf("24B %+v", b.Message)
	}
	aux := decodeOne(t, header(24, 984120001).put(1, 2).put(0, 8).text("", 3).put(0, 24).text("", 7).put(412000005, 30).at(168).sentence())
	if mother, ok := aux.Mothership(); !ok || mother != 412000005 || aux.Has(FieldDimensions) {
		t.Errorf("auxiliary craft: mothership %d %v, known %b", mother, ok, aux.known)
	}
}

func TestType4(t *testing.T) {
	// gpsd-sample.aivdm: 2007-05-14T19:57:39Z, lon -45811417, lat 22130260, epfd 7.
	m := decodeOne(t, "!AIVDM,1,1,,A,403OviQuMGCqWrRO9>E6fE700@GO,0*4D")
	utc, ok := m.UTC()
	lat, lon, pos := m.Position()
	epfd, _ := m.EPFD()
	if !ok || utc != time.Date(2007, 5, 14, 19, 57, 39, 0, time.UTC) || !pos || lat != 22130260.0/600000 || lon != -45811417.0/600000 || epfd != 7 {
		t.Errorf("utc %v %v position %v %v %v epfd %d", utc, ok, lat, lon, pos, epfd)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"EVER DIADEM", "EVER DIADEM"},
		{"NAME   ", "NAME"},
		{"HAN KANG NO3@@@@@@B-", "HAN KANG NO3"},
		{"@@J130B", ""},
		{`A"B\C`, `A"B\C`},
		{"", ""},
	} {
		m := decodeOne(t, header(24, 1).put(0, 2).text(tc.in, 20).sentence())
		if got := string(m.Shipname()); got != tc.want || m.Has(FieldShipname) != (tc.want != "") {
			t.Errorf("%q: got %q (known %v), want %q", tc.in, got, m.Has(FieldShipname), tc.want)
		}
	}
}
