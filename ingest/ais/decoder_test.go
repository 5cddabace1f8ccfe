package ais

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/porttrack/porttrack/ingest/decode"
)

// Known answers of DOMAIN.md §9.5.
const (
	type1 = "!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
	// gpsd: type 18, mmsi 338087471, speed 1, lon -44443279, lat 24410724,
	// course 796, heading 511, second 49.
	type18  = "!AIVDM,1,1,,A,B52K>;h00Fc>jpUlNV@ikwpUoP06,0*4C"
	type5a  = "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C"
	type5b  = "!AIVDM,2,2,1,A,88888888880,2*25"
	type5a3 = "!AIVDM,2,1,3,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1E"
	type5b3 = "!AIVDM,2,2,3,A,88888888880,2*27"
)

func TestKnownType1(t *testing.T) {
	msgs, errs := feedAll(t, newDecoder(t, Config{}), time.Time{}, type1)
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("got %d messages, errors %v", len(msgs), errs)
	}
	m := &msgs[0]
	if m.Type != 1 || m.MMSI != 477553000 || m.Repeat != 0 || m.Bits != 168 || m.Line != 1 || m.Channel != 'B' || m.Talker != [2]byte{'A', 'I'} || m.Own {
		t.Errorf("header %+v", m.Message)
	}
	if v, ok := m.Status(); !ok || v != 5 {
		t.Errorf("status %d %v", v, ok)
	}
	if v, ok := m.Turn(); !ok || v != 0 {
		t.Errorf("turn %d %v", v, ok)
	}
	if v, ok := m.Speed(); !ok || v != 0 {
		t.Errorf("speed %v %v", v, ok)
	}
	lat, lon, ok := m.Position()
	if !ok || math.Abs(lat-47.582833) > 1e-6 || math.Abs(lon+122.345833) > 1e-6 {
		t.Errorf("position %v %v %v", lat, lon, ok)
	}
	if rlat, rlon, _ := m.PositionRaw(); rlat != 28549700 || rlon != -73407500 {
		t.Errorf("raw position %d %d", rlat, rlon)
	}
	if v, ok := m.Course(); !ok || v != 51 {
		t.Errorf("course %v %v", v, ok)
	}
	if v, ok := m.Heading(); !ok || v != 181 {
		t.Errorf("heading %v %v", v, ok)
	}
	if v, ok := m.Second(); !ok || v != 15 {
		t.Errorf("second %v %v", v, ok)
	}
	if v, ok := m.Accuracy(); !ok || v {
		t.Errorf("accuracy %v %v", v, ok)
	}
	if !m.IsPositionReport() || m.Station != nil || !m.Time.IsZero() {
		t.Errorf("IsPositionReport %v, station %q, time %v", m.IsPositionReport(), m.station, m.Time)
	}
}

func TestKnownType18(t *testing.T) {
	msgs, errs := feedAll(t, newDecoder(t, Config{}), time.Time{}, type18)
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("got %d messages, errors %v", len(msgs), errs)
	}
	m := &msgs[0]
	lat, lon, ok := m.Position()
	speed, _ := m.Speed()
	course, _ := m.Course()
	sec, _ := m.Second()
	if m.Type != 18 || m.MMSI != 338087471 || !ok || lat != 24410724.0/600000 || lon != -44443279.0/600000 ||
		speed != 0.1 || course != 79.6 || sec != 49 || m.Has(FieldHeading) || m.Has(FieldStatus) || m.Has(FieldTurn) {
		t.Errorf("got %+v", m.Message)
	}
}

// checkEverDiadem checks the type 5 of DOMAIN.md §9.5.
func checkEverDiadem(t *testing.T, m *got) {
	t.Helper()
	if m.Type != 5 || m.MMSI != 351759000 || m.Bits != 424 {
		t.Fatalf("header %+v", m.Message)
	}
	imo, _ := m.IMO()
	st, _ := m.ShipType()
	bow, stern, port, stbd, dimOK := m.Dimensions()
	mo, day, h, mi, etaOK := m.ETA()
	dr, _ := m.Draught()
	epfd, _ := m.EPFD()
	if imo != 9134270 || string(m.Callsign()) != "3FOF8" || string(m.Shipname()) != "EVER DIADEM" || st != 70 ||
		!dimOK || bow != 225 || stern != 70 || port != 1 || stbd != 31 || epfd != 1 ||
		!etaOK || mo != 5 || day != 15 || h != 14 || mi != 0 || dr != 12.2 || string(m.Destination()) != "NEW YORK" {
		t.Errorf("got imo %d callsign %q name %q type %d dims %d/%d/%d/%d eta %02d-%02dT%02d:%02d draught %v dest %q",
			imo, m.Callsign(), m.Shipname(), st, bow, stern, port, stbd, mo, day, h, mi, dr, m.Destination())
	}
}

func TestKnownType5(t *testing.T) {
	msgs, errs := feedAll(t, newDecoder(t, Config{}), time.Time{}, type5a, type5b)
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("got %d messages, errors %v", len(msgs), errs)
	}
	if msgs[0].Line != 2 {
		t.Errorf("line %d, want 2", msgs[0].Line)
	}
	checkEverDiadem(t, &msgs[0])
}

func TestAssembly(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lines     []string
		wantLines []int // Line of each message
		check     func(t *testing.T, s Stats)
	}{
		{"out of order", []string{type5b, type5a}, []int{2}, nil},
		{"duplicates", []string{type5a, type5a, type5b, type5b}, []int{3},
			func(t *testing.T, s Stats) {
				// The second type5b starts a group of its own.
				if s.Duplicates != 1 || s.InFlight != 1 {
					t.Errorf("duplicates %d in flight %d", s.Duplicates, s.InFlight)
				}
			}},
		{"single part between", []string{type5a, type1, type5b}, []int{2, 3}, nil},
		{"interleaved sequence ids", []string{type5a, type5a3, type5b3, type1, type5b}, []int{3, 4, 5}, nil},
		{"other channel does not join", []string{type5a, withChecksum(strings.Replace(type5b[:strings.IndexByte(type5b, '*')], ",A,", ",B,", 1))}, nil, nil},
		{"superseded", []string{withChecksum(strings.Replace(type5a[:strings.IndexByte(type5a, '*')], "55?Mb", "55?Mc", 1)), type5a, type5b}, []int{3},
			func(t *testing.T, s Stats) {
				if s.Superseded != 1 {
					t.Errorf("superseded %d", s.Superseded)
				}
			}},
		{"junk forms", []string{"1550303566167726840 " + type5a, type5b + ",b003669794,1272412827"}, []int{2}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t, Config{})
			msgs, errs := feedAll(t, d, time.Time{}, tc.lines...)
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			var lines []int
			for i := range msgs {
				lines = append(lines, msgs[i].Line)
				if msgs[i].Type == 5 {
					checkEverDiadem(t, &msgs[i])
				}
			}
			if !equalInts(lines, tc.wantLines) {
				t.Errorf("messages on lines %v, want %v", lines, tc.wantLines)
			}
			if tc.check != nil {
				tc.check(t, d.Stats())
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAssemblyInOneFeed(t *testing.T) {
	d := newDecoder(t, Config{})
	var lines []int
	err := d.Feed([]byte(type5a+"\r\n"+type1+"\r\n"+type5b+"\r\n"), time.Time{}, func(m *Message) { lines = append(lines, m.Line) })
	if err != nil || !equalInts(lines, []int{2, 3}) || d.Lines() != 3 {
		t.Errorf("lines %v, err %v, Lines %d", lines, err, d.Lines())
	}
}

func TestExpiry(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	t.Run("receive time", func(t *testing.T) {
		d := newDecoder(t, Config{FragmentTTL: 2 * time.Second})
		if _, errs := feedAll(t, d, t0, type5a); len(errs) != 0 {
			t.Fatal(errs)
		}
		msgs, _ := feedAll(t, d, t0.Add(3*time.Second), type5b)
		if len(msgs) != 0 || d.Stats().Expired != 1 {
			t.Errorf("%d messages, %d expired; want 0, 1", len(msgs), d.Stats().Expired)
		}
		// Within the TTL the group completes.
		feedAll(t, d, t0.Add(10*time.Second), type5a3)
		msgs, _ = feedAll(t, d, t0.Add(12*time.Second), type5b3)
		if len(msgs) != 1 {
			t.Errorf("%d messages, want 1", len(msgs))
		}
	})
	t.Run("tag time", func(t *testing.T) {
		d := newDecoder(t, Config{}) // 5 s
		feedAll(t, d, time.Time{}, tag("c:1000")+type5a, tag("c:1006")+type1)
		msgs, _ := feedAll(t, d, time.Time{}, type5b)
		if len(msgs) != 0 || d.Stats().Expired != 1 {
			t.Errorf("%d messages, %d expired; want 0, 1", len(msgs), d.Stats().Expired)
		}
		feedAll(t, d, time.Time{}, tag("c:1007")+type5a3)
		msgs, _ = feedAll(t, d, time.Time{}, tag("c:1012")+type5b3) // 5 s: not older than the TTL
		if len(msgs) != 1 || msgs[0].Time != time.Unix(1007, 0).UTC() {
			t.Errorf("%d messages (time %v), want 1 at 1007 s", len(msgs), msgs)
		}
	})
	t.Run("clocks not mixed", func(t *testing.T) {
		// A satellite group: fragment 1 has an old c:, fragment 2 none;
		// both are received now.
		d := newDecoder(t, Config{})
		msgs, errs := feedAll(t, d, t0, tag("g:1-2-7,s:sat,c:1334337317")+type5a, tag("g:2-2-7")+type5b)
		if len(errs) != 0 || len(msgs) != 1 || msgs[0].station != "sat" || msgs[0].Time.Unix() != 1334337317 {
			t.Errorf("messages %+v errors %v", msgs, errs)
		}
	})
	t.Run("flush", func(t *testing.T) {
		d := newDecoder(t, Config{})
		feedAll(t, d, time.Time{}, type5a, type5a3)
		if s := d.Stats(); s.InFlight != 2 {
			t.Fatalf("in flight %d", s.InFlight)
		}
		d.Flush()
		if s := d.Stats(); s.InFlight != 0 || s.Expired != 2 {
			t.Errorf("in flight %d expired %d", s.InFlight, s.Expired)
		}
	})
	t.Run("evict oldest", func(t *testing.T) {
		d := newDecoder(t, Config{MaxGroups: 1})
		msgs, _ := feedAll(t, d, time.Time{}, type5a, type5a3, type5b3, type5b)
		if len(msgs) != 1 || msgs[0].Line != 3 || d.Stats().Evicted != 1 {
			t.Errorf("%d messages, evicted %d", len(msgs), d.Stats().Evicted)
		}
	})
}

func TestTagBlock(t *testing.T) {
	const eeA = `\g:1-2-3985,s:rEV02,c:1334337317*2D\!AIVDM,2,1,9,B,58KvN<42ACikUKW77F1H4hF0<PTp622222222216` + "`0`" + `cF5BF0RT13H0T,0*70`
	const eeB = `\g:2-2-3985*5A\!AIVDM,2,2,9,B,PFRC88888888880,2*29`
	for _, tc := range []struct {
		name    string
		cfg     Config
		lines   []string
		station string
		unix    int64 // Time, 0 for none
		reason  string
	}{
		{"g: group", Config{}, []string{eeA, eeB}, "rEV02", 1334337317, ""},
		{"s: and c:", Config{}, []string{tag("s:42809,c:1635731889,t:1635731965") + type1}, "42809", 1635731889, ""},
		{"c: milliseconds", Config{}, []string{tag("c:1635731889123") + type1}, "", 1635731889, ""},
		{"fake *00 accepted", Config{}, []string{`\c:1420030798*00\` + type1}, "", 1420030798, ""},
		{"fake *00 rejected", Config{RejectFakeTagChecksum: true}, []string{`\c:1420030798*00\` + type1}, "", 0, decode.ReasonBadChecksum},
		{"bad tag checksum", Config{}, []string{`\c:1420030798*01\` + type1}, "", 0, decode.ReasonBadChecksum},
		{"bad tag checksum, lenient", Config{Lenient: true}, []string{`\c:1420030798*01\` + type1}, "", 1420030798, ""},
		{"no tag checksum", Config{}, []string{`\c:1420030798\` + type1}, "", 0, decode.ReasonBadChecksum},
		{"bad c:", Config{}, []string{tag("c:12x4") + type1}, "", 0, decode.ReasonBadTime},
		{"bad g:", Config{}, []string{tag("g:1-2") + type1}, "", 0, decode.ReasonBadField},
		{"unclosed", Config{}, []string{`\c:1420030798*00` + type1}, "", 0, decode.ReasonBadField},
		{"junk prefix", Config{}, []string{"1550303566167726840 " + tag("s:x") + type1}, "x", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, errs := feedAll(t, newDecoder(t, tc.cfg), time.Time{}, tc.lines...)
			if tc.reason != "" {
				if len(msgs) != 0 || len(errs) != 1 || decode.Reason(errs[1]) != tc.reason {
					t.Errorf("%d messages, errors %v; want reason %s", len(msgs), errs, tc.reason)
				}
				return
			}
			if len(errs) != 0 || len(msgs) != 1 {
				t.Fatalf("%d messages, errors %v", len(msgs), errs)
			}
			m := &msgs[0]
			if m.station != tc.station || tc.unix == 0 && !m.Time.IsZero() || tc.unix != 0 && m.Time.Unix() != tc.unix || m.Time.Location() != time.UTC {
				t.Errorf("station %q time %v; want %q %d", m.station, m.Time, tc.station, tc.unix)
			}
		})
	}
}

func TestTagOnlyLine(t *testing.T) {
	d := newDecoder(t, Config{})
	msgs, errs := feedAll(t, d, time.Time{}, tag("s:42809,c:1635731889"))
	if len(msgs) != 0 || len(errs) != 0 || d.Stats().Skipped != 1 {
		t.Errorf("%d messages, errors %v, stats %+v", len(msgs), errs, d.Stats())
	}
}

// TestLines covers the line forms of the corpora, one line each.
func TestLines(t *testing.T) {
	noStar := type1[:strings.IndexByte(type1, '*')]
	for _, tc := range []struct {
		name, line string
		cfg        Config
		reason     string // "" decodes one message, "-" skips silently
	}{
		{"plain", type1, Config{}, ""},
		{"CRLF", type1 + "\r", Config{}, ""},
		{"lowercase hex", strings.Replace(type1, "*5C", "*5c", 1), Config{}, ""},
		{"nanosecond prefix", "1550303566167726840 " + type1, Config{}, ""},
		{"USCG trailer", type1 + ",b003669794,1272412827", Config{}, ""},
		{"USCG d- trailer", type1 + ",d-109,S2105,t050056.00,T56.13718694,r003669946,1325394060,1325394001", Config{}, ""},
		{"$ framing", withChecksum("$" + noStar[1:]), Config{}, ""},
		{"VDO", withChecksum(strings.Replace(noStar, "VDM", "VDO", 1)), Config{}, ""},
		{"talker =I", withChecksum(strings.Replace(noStar, "AI", "=I", 1)), Config{}, ""},
		{"channel 0", withChecksum(strings.Replace(noStar, ",B,", ",0,", 1)), Config{}, ""},
		{"empty channel", withChecksum(strings.Replace(noStar, ",B,", ",,", 1)), Config{}, ""},
		{"PGHP then AIVDM", "$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17" + type1, Config{}, ""},
		{"PGHP line", "$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17", Config{}, decode.ReasonNotAIS},
		{"GPS sentence", "$GPRMC,213950.00,A,5250.53669,N,00542.34920,E,0.020,,070420,,,A*7D", Config{}, decode.ReasonNotAIS},
		{"text", "hello", Config{}, decode.ReasonNotAIS},
		{"blank", "  \r", Config{}, "-"},
		{"comment", "# Type 5:", Config{}, "-"},
		{"bad checksum", strings.Replace(type1, "*5C", "*5D", 1), Config{}, decode.ReasonBadChecksum},
		{"bad checksum, lenient", strings.Replace(type1, "*5C", "*5D", 1), Config{Lenient: true}, ""},
		{"no checksum", noStar, Config{}, decode.ReasonBadChecksum},
		{"no checksum, lenient", noStar, Config{Lenient: true}, ""},
		{"truncated", "!BSVDM,1,1,,A,3", Config{}, decode.ReasonBadChecksum},
		{"truncated, lenient", "!BSVDM,1,1,,A,3", Config{Lenient: true}, decode.ReasonBadField},
		{"empty payload", "!AIVDM,1,1,,B,,0*25", Config{}, decode.ReasonBadLength},
		{"short payload", withChecksum("!AIVDM,1,1,,B,1P000,0"), Config{}, decode.ReasonBadLength},
		{"bad armour", withChecksum("!AIVDM,1,1,,B,177KQJ5000G?tO~K>RA1wUbN0TKH,0"), Config{}, decode.ReasonBadArmour},
		{"fill 6", withChecksum(noStar[:len(noStar)-1] + "6"), Config{}, ""},
		{"fill x", withChecksum(noStar[:len(noStar)-1] + "x"), Config{}, decode.ReasonBadField},
		{"fragment 3 of 2", withChecksum("!AIVDM,2,3,1,A,88888888880,2"), Config{}, decode.ReasonBadField},
		{"extra field", withChecksum(noStar + ",1"), Config{}, decode.ReasonBadField},
		{"star in address", withChecksum("!AI*VDM,1"), Config{}, decode.ReasonNotAIS},
		{"too long", withChecksum("!AIVDM,1,1,,B," + strings.Repeat("1", 300) + ",0"), Config{}, decode.ReasonBadLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t, tc.cfg)
			msgs, errs := feedAll(t, d, time.Time{}, tc.line)
			switch tc.reason {
			case "":
				if len(errs) != 0 || len(msgs) != 1 || msgs[0].MMSI != 477553000 {
					t.Errorf("%d messages, errors %v", len(msgs), errs)
				}
			case "-":
				if len(errs) != 0 || len(msgs) != 0 || d.Stats().Skipped != 1 {
					t.Errorf("%d messages, errors %v, stats %+v", len(msgs), errs, d.Stats())
				}
			default:
				if len(msgs) != 0 || len(errs) != 1 || decode.Reason(errs[1]) != tc.reason {
					t.Errorf("%d messages, errors %v; want reason %s", len(msgs), errs, tc.reason)
				}
			}
		})
	}
}

func TestStatsCountEachReason(t *testing.T) {
	d := newDecoder(t, Config{Lenient: true})
	feedAll(t, d, time.Time{},
		"$GPZDA,114702.51,27,01,2012,,*66",
		strings.Replace(type1, "*5C", "*00", 1), // accepted, counted
		"!AIVDM,1,1,,B,,0*25",
		withChecksum("!AIVDM,1,1,,B,1~,0"),
		withChecksum("!AIVDM,1,1,,B,B,0"),
		`\c:1*00\`+type1,
		withChecksum("!AIVDM,1,1,,B,"+strings.Repeat("?", 40)+",0"), // type 15 with 240 bits
	)
	want := Stats{Lines: 7, Sentences: 4, Messages: 3, Unsupported: 1, NotAIS: 1, BadChecksum: 1,
		FakeTagChecksum: 1, BadArmour: 1, BadLength: 2}
	if got := d.Stats(); got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

func TestUnsupportedKeptRaw(t *testing.T) {
	// A type 8 (binary broadcast) from libais-typeexamples.nmea.
	msgs, errs := feedAll(t, newDecoder(t, Config{}), time.Time{}, "!AIVDM,1,1,,B,803Ovrh0EP:024`@02PN04da=3V<>N0000,4*39")
	if len(errs) != 0 || len(msgs) != 1 {
		t.Fatalf("%d messages, errors %v", len(msgs), errs)
	}
	m := &msgs[0]
	if m.Type != 8 || m.MMSI != 3669739 || m.Bits != 6*34-4 || m.known != 0 || len(m.payload) != (m.Bits+7)/8 || m.IsPositionReport() {
		t.Errorf("got type %d mmsi %d bits %d known %b payload %d bytes", m.Type, m.MMSI, m.Bits, m.known, len(m.payload))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{FragmentTTL: -1}, {FragmentLines: -1}, {MaxGroups: -1}, {MaxGroups: maxMaxGroups + 1}} {
		if _, err := NewDecoder(c); err == nil {
			t.Errorf("NewDecoder(%+v) succeeded", c)
		}
	}
}
