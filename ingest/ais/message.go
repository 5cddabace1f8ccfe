package ais

import (
	"math"
	"time"
)

// Field is a set of Message fields; see Message.Has.
type Field uint32

// Fields that may be unknown. A field is known when the payload holds it
// whole and its value is neither a sentinel nor out of range.
const (
	FieldStatus      Field = 1 << iota // navigation status (1/2/3, 27)
	FieldTurn                          // rate of turn, raw −127..127 (1/2/3)
	FieldSpeed                         // speed over ground (1/2/3, 18, 19, 27)
	FieldAccuracy                      // position accuracy flag (1/2/3, 4/11, 18, 19, 27)
	FieldPosition                      // latitude and longitude, both known (1/2/3, 4/11, 18, 19, 27)
	FieldCourse                        // course over ground (1/2/3, 18, 19, 27)
	FieldHeading                       // true heading (1/2/3, 18, 19)
	FieldSecond                        // UTC second (1/2/3, 4/11, 18, 19)
	FieldUTC                           // UTC date and time (4/11)
	FieldIMO                           // IMO number, non-zero (5)
	FieldCallsign                      // call sign, non-empty (5, 24B)
	FieldShipname                      // vessel name, non-empty (5, 19, 24A)
	FieldShipType                      // ship and cargo type (5, 19, 24B)
	FieldDimensions                    // to_bow, to_stern, to_port, to_starboard (5, 19, 24B)
	FieldEPFD                          // position fix type (4/11, 5, 19)
	FieldETA                           // estimated arrival, month to minute all known (5)
	FieldDraught                       // draught, non-zero (5)
	FieldDestination                   // destination, non-empty (5)
	FieldVendor                        // vendor id, 3 characters, non-empty (24B)
	FieldMothership                    // mothership MMSI of an auxiliary craft (24B)
)

// Message is one decoded AIS message. A Decoder reuses a single Message:
// it and every slice reachable from it are only valid during the callback
// that receives it.
//
// Fields that may be unknown are read through accessors that return ok ==
// false when the value is unknown (see package doc); raw sentinels never
// leave the package.
type Message struct {
	Type   uint8  // message type 0..63
	Repeat uint8  // repeat indicator
	MMSI   uint32 // source MMSI
	Bits   int    // payload length in bits, fill removed
	// Part is 'A' or 'B' for a type 24 part, 0 otherwise (and for a type
	// 24 with an invalid part number).
	Part byte

	Talker  [2]byte // talker of the (last) sentence: "AI", "AB", "BS", ...
	Own     bool    // VDO: the receiver's own ship
	Channel byte    // radio channel: 'A', 'B', '1', '2', ...; 0 when empty

	// Line is the decoder's count of lines (1-based, all lines counted)
	// at the line that completed this message.
	Line int
	// Station is the tag block's s: of the message (of its first fragment
	// that has one), nil if none. Borrowed.
	Station []byte
	// Time is the tag block's c: (seconds or milliseconds since the epoch,
	// told apart by magnitude) in UTC; the zero Time if none.
	Time time.Time

	known    Field
	status   uint8
	turn     int8
	accuracy bool
	speed    uint16 // 0.1 kn
	course   uint16 // 0.1°
	heading  uint16
	second   uint8
	lat, lon int32 // 1/10000 minute

	utc      time.Time // type 4
	epfd     uint8
	imo      uint32
	shiptype uint8
	toBow    uint16
	toStern  uint16
	toPort   uint8
	toStbd   uint8
	eta      [4]uint8 // month, day, hour, minute
	draught  uint8    // 0.1 m
	mother   uint32

	// 6-bit text fields and their trimmed lengths.
	callsign                                     [7]byte
	shipname, destination                        [20]byte
	vendor                                       [3]byte
	callsignLen, shipnameLen, destLen, vendorLen uint8

	payload []byte // packed payload bits, borrowed
}

// Has reports whether every field in f is known.
func (m *Message) Has(f Field) bool { return m.known&f == f }

// Status returns the navigation status 0..15 (15: not defined).
func (m *Message) Status() (uint8, bool) { return m.status, m.Has(FieldStatus) }

// Turn returns the raw rate of turn ROT_AIS, −127..127, as sent: 0 not
// turning, ±1..±126 a turn indicator's rate (see TurnRate), +127 / −127
// turning right / left at more than 5° per 30 s with no turn indicator.
// Only −128 (not available) is unknown.
func (m *Message) Turn() (int8, bool) { return m.turn, m.Has(FieldTurn) }

// TurnRate returns the rate of turn in degrees per minute, positive to
// starboard: sign·(raw/4.733)² for a raw ROT_AIS of −126..126 (at most
// 708.7°/min). It is unknown for ±127, which says only that the rate is
// above 10°/min, and for −128.
func (m *Message) TurnRate() (float64, bool) {
	if !m.Has(FieldTurn) || m.turn < -126 || m.turn > 126 {
		return 0, false
	}
	r := float64(m.turn) / 4.733
	return math.Copysign(r*r, r), true
}

// Speed returns the speed over ground in knots; 102.2 means 102.2 or more.
func (m *Message) Speed() (float64, bool) { return float64(m.speed) / 10, m.Has(FieldSpeed) }

// Accuracy returns the position accuracy flag (true: better than 10 m).
func (m *Message) Accuracy() (bool, bool) { return m.accuracy, m.Has(FieldAccuracy) }

// Position returns the position in degrees (north and east positive). It
// is known only when both coordinates are, and within ±90° / ±180°.
func (m *Message) Position() (lat, lon float64, ok bool) {
	if !m.Has(FieldPosition) {
		return 0, 0, false
	}
	return float64(m.lat) / 600000, float64(m.lon) / 600000, true
}

// PositionRaw returns the position in 1/10000 minute (type 27 positions,
// sent in 1/10 minute, are scaled to that unit).
func (m *Message) PositionRaw() (lat, lon int32, ok bool) {
	return m.lat, m.lon, m.Has(FieldPosition)
}

// Course returns the course over ground in degrees, 0 ≤ course < 360.
func (m *Message) Course() (float64, bool) { return float64(m.course) / 10, m.Has(FieldCourse) }

// Heading returns the true heading in whole degrees, 0..359.
func (m *Message) Heading() (uint16, bool) { return m.heading, m.Has(FieldHeading) }

// Second returns the UTC second of the report, 0..59 (60..63 mean not
// available, manual, dead reckoning, inoperative: all unknown).
func (m *Message) Second() (uint8, bool) { return m.second, m.Has(FieldSecond) }

// UTC returns the date and time of a base station report (type 4) or a
// UTC/date response (type 11).
func (m *Message) UTC() (time.Time, bool) { return m.utc, m.Has(FieldUTC) }

// EPFD returns the type of position fixing device (0: undefined, 1: GPS, ...).
func (m *Message) EPFD() (uint8, bool) { return m.epfd, m.Has(FieldEPFD) }

// IMO returns the IMO number as sent (unchecked; 0 is unknown).
func (m *Message) IMO() (uint32, bool) { return m.imo, m.Has(FieldIMO) }

// ShipType returns the ship and cargo type (0: not available).
func (m *Message) ShipType() (uint8, bool) { return m.shiptype, m.Has(FieldShipType) }

// Dimensions returns the distances in metres from the position reference
// point to the bow, stern, port and starboard.
func (m *Message) Dimensions() (bow, stern uint16, port, starboard uint8, ok bool) {
	return m.toBow, m.toStern, m.toPort, m.toStbd, m.Has(FieldDimensions)
}

// ETA returns the estimated time of arrival (UTC, no year): month 1..12,
// day 1..31, hour 0..23, minute 0..59. It is unknown unless all four are.
func (m *Message) ETA() (month, day, hour, minute uint8, ok bool) {
	return m.eta[0], m.eta[1], m.eta[2], m.eta[3], m.Has(FieldETA)
}

// Draught returns the maximum present static draught in metres.
func (m *Message) Draught() (float64, bool) { return float64(m.draught) / 10, m.Has(FieldDraught) }

// Mothership returns the mothership MMSI of an auxiliary craft's type 24B.
func (m *Message) Mothership() (uint32, bool) { return m.mother, m.Has(FieldMothership) }

// Callsign returns the call sign, nil if unknown. Borrowed.
func (m *Message) Callsign() []byte { return m.strIf(FieldCallsign, m.callsign[:m.callsignLen]) }

// Shipname returns the vessel name, nil if unknown. Borrowed.
func (m *Message) Shipname() []byte { return m.strIf(FieldShipname, m.shipname[:m.shipnameLen]) }

// Destination returns the destination, nil if unknown. Borrowed.
func (m *Message) Destination() []byte { return m.strIf(FieldDestination, m.destination[:m.destLen]) }

// Vendor returns a type 24B's 3-character vendor id, nil if unknown. Borrowed.
func (m *Message) Vendor() []byte { return m.strIf(FieldVendor, m.vendor[:m.vendorLen]) }

func (m *Message) strIf(f Field, b []byte) []byte {
	if !m.Has(f) {
		return nil
	}
	return b
}

// Payload returns the packed payload, most significant bit first; its
// first (Bits+7)/8 bytes hold the message. Messages of types the package
// does not decode keep their content only here. Borrowed.
func (m *Message) Payload() []byte { return m.payload[:(m.Bits+7)/8] }

// IsPositionReport reports whether the type is a position report that
// carries a vessel's kinematics: 1, 2, 3, 18, 19 or 27. Check Position
// for whether this one holds a position.
func (m *Message) IsPositionReport() bool {
	switch m.Type {
	case 1, 2, 3, 18, 19, 27:
		return true
	}
	return false
}

// nominalBits is the specified length of the decoded types, by type (24:
// part A; part B is 168). 0: not decoded.
var nominalBits = [28]int{1: 168, 2: 168, 3: 168, 4: 168, 5: 424, 11: 168, 18: 168, 19: 312, 24: 160, 27: 96}

// decodeFields fills m from r: the header, then the fields of its type
// that are whole in the payload. It reports whether the type is decoded.
func (m *Message) decodeFields(r *bitReader) bool {
	m.Type = uint8(r.u(0, 6))
	m.Repeat = uint8(r.u(6, 2))
	m.MMSI = r.u(8, 30)
	switch m.Type {
	case 1, 2, 3:
		m.decodeStatus(r, 38)
		if r.has(42, 8) {
			if t := r.i(42, 8); t != -128 { // −128: not available
				m.turn = int8(t)
				m.known |= FieldTurn
			}
		}
		m.decodeKinematics(r, 50)
	case 4, 11: // base station report, UTC/date response: one layout
		m.decodeUTC(r)
		m.decodeAccuracyPosition(r, 78)
		m.decodeEPFD(r, 134)
	case 5:
		if r.has(40, 30) {
			if m.imo = r.u(40, 30); m.imo != 0 {
				m.known |= FieldIMO
			}
		}
		m.decodeText(r, FieldCallsign, m.callsign[:], &m.callsignLen, 70)
		m.decodeText(r, FieldShipname, m.shipname[:], &m.shipnameLen, 112)
		m.decodeShipType(r, 232)
		m.decodeDimensions(r, 240)
		m.decodeEPFD(r, 270)
		if r.has(274, 20) {
			mo, d, h, mi := r.u(274, 4), r.u(278, 5), r.u(283, 5), r.u(288, 6)
			m.eta = [4]uint8{uint8(mo), uint8(d), uint8(h), uint8(mi)}
			if mo >= 1 && mo <= 12 && d >= 1 && h < 24 && mi < 60 {
				m.known |= FieldETA
			}
		}
		if r.has(294, 8) {
			if m.draught = uint8(r.u(294, 8)); m.draught != 0 {
				m.known |= FieldDraught
			}
		}
		m.decodeText(r, FieldDestination, m.destination[:], &m.destLen, 302)
	case 18:
		m.decodeKinematics(r, 46)
	case 19:
		m.decodeKinematics(r, 46)
		m.decodeText(r, FieldShipname, m.shipname[:], &m.shipnameLen, 143)
		m.decodeShipType(r, 263)
		m.decodeDimensions(r, 271)
		m.decodeEPFD(r, 301)
	case 24:
		if !r.has(38, 2) {
			break
		}
		switch r.u(38, 2) {
		case 0:
			m.Part = 'A'
			m.decodeText(r, FieldShipname, m.shipname[:], &m.shipnameLen, 40)
		case 1:
			m.Part = 'B'
			m.decodeShipType(r, 40)
			m.decodeText(r, FieldVendor, m.vendor[:], &m.vendorLen, 48)
			m.decodeText(r, FieldCallsign, m.callsign[:], &m.callsignLen, 90)
			// An auxiliary craft (MMSI 98MIDxxxx) sends its mothership's
			// MMSI where the dimensions would be.
			if m.MMSI/10_000_000 == 98 {
				if r.has(132, 30) {
					m.mother = r.u(132, 30)
					m.known |= FieldMothership
				}
			} else {
				m.decodeDimensions(r, 132)
			}
		}
	case 27:
		if r.has(38, 1) {
			m.accuracy = r.flag(38)
			m.known |= FieldAccuracy
		}
		m.decodeStatus(r, 40)
		if r.has(44, 35) {
			// 1/10 minute; ×1000 gives the 1/10000 minute of the other types.
			lon, lat := r.i(44, 18), r.i(62, 17)
			if lon >= -180*600 && lon <= 180*600 && lat >= -90*600 && lat <= 90*600 {
				m.lon, m.lat = lon*1000, lat*1000
				m.known |= FieldPosition
			}
		}
		if r.has(79, 6) {
			if s := r.u(79, 6); s < 63 { // knots
				m.speed = uint16(s) * 10
				m.known |= FieldSpeed
			}
		}
		if r.has(85, 9) {
			if c := r.u(85, 9); c < 360 { // degrees
				m.course = uint16(c) * 10
				m.known |= FieldCourse
			}
		}
	default:
		return false
	}
	return true
}

func (m *Message) decodeStatus(r *bitReader, at int) {
	if r.has(at, 4) {
		m.status = uint8(r.u(at, 4))
		m.known |= FieldStatus
	}
}

// decodeKinematics decodes speed, accuracy, position, course, heading and
// second, laid out alike in types 1/2/3 and 18/19 from bit at.
func (m *Message) decodeKinematics(r *bitReader, at int) {
	if r.has(at, 10) {
		if s := r.u(at, 10); s < 1023 {
			m.speed = uint16(s)
			m.known |= FieldSpeed
		}
	}
	m.decodeAccuracyPosition(r, at+10)
	if r.has(at+66, 12) {
		if c := r.u(at+66, 12); c < 3600 {
			m.course = uint16(c)
			m.known |= FieldCourse
		}
	}
	if r.has(at+78, 9) {
		if h := r.u(at+78, 9); h < 360 {
			m.heading = uint16(h)
			m.known |= FieldHeading
		}
	}
	if r.has(at+87, 6) {
		if s := r.u(at+87, 6); s < 60 {
			m.second = uint8(s)
			m.known |= FieldSecond
		}
	}
}

// decodeAccuracyPosition decodes the accuracy bit at `at`, then a 28-bit
// longitude and a 27-bit latitude in 1/10000 minute.
func (m *Message) decodeAccuracyPosition(r *bitReader, at int) {
	if r.has(at, 1) {
		m.accuracy = r.flag(at)
		m.known |= FieldAccuracy
	}
	if r.has(at+1, 55) {
		lon, lat := r.i(at+1, 28), r.i(at+29, 27)
		// 181° and 91° mean not available; anything else beyond the
		// range is garbage. Both must be good.
		if lon >= -108_000_000 && lon <= 108_000_000 && lat >= -54_000_000 && lat <= 54_000_000 {
			m.lon, m.lat = lon, lat
			m.known |= FieldPosition
		}
	}
}

// decodeUTC decodes a type 4's year..second at bits 38..77.
func (m *Message) decodeUTC(r *bitReader) {
	if !r.has(38, 40) {
		return
	}
	y, mo, d := int(r.u(38, 14)), int(r.u(52, 4)), int(r.u(56, 5))
	h, mi, s := int(r.u(61, 5)), int(r.u(66, 6)), int(r.u(72, 6))
	if s < 60 {
		m.second = uint8(s)
		m.known |= FieldSecond
	}
	if y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 60 {
		m.utc = time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
		m.known |= FieldUTC
	}
}

func (m *Message) decodeEPFD(r *bitReader, at int) {
	if r.has(at, 4) {
		m.epfd = uint8(r.u(at, 4))
		m.known |= FieldEPFD
	}
}

func (m *Message) decodeShipType(r *bitReader, at int) {
	if r.has(at, 8) {
		m.shiptype = uint8(r.u(at, 8))
		m.known |= FieldShipType
	}
}

// decodeDimensions decodes to_bow 9, to_stern 9, to_port 6, to_starboard 6.
func (m *Message) decodeDimensions(r *bitReader, at int) {
	if r.has(at, 30) {
		m.toBow, m.toStern = uint16(r.u(at, 9)), uint16(r.u(at+9, 9))
		m.toPort, m.toStbd = uint8(r.u(at+18, 6)), uint8(r.u(at+24, 6))
		m.known |= FieldDimensions
	}
}

// decodeText decodes the characters of a text field that the payload holds
// whole; the field is known if any remain after trimming.
func (m *Message) decodeText(r *bitReader, f Field, dst []byte, n *uint8, at int) {
	if *n = uint8(r.text(dst, at)); *n > 0 {
		m.known |= f
	}
}
