package ais

import "encoding/binary"

// Payload limits. A sentence payload fits in an 82-byte NMEA line, but feeds
// exceed that; an assembled message is at most 5 slots (1,008 bits, 168
// characters). maxChars leaves room for both.
const (
	maxChars     = 256
	maxBits      = 6 * maxChars
	maxBytes     = maxBits / 8
	minBits      = 38 // type, repeat and MMSI
	maxFragments = 9  // the fragment count is one digit
)

// armour maps a payload character to its 6-bit value, or to 0xFF for a
// character outside the armour ('0'..'W', '`'..'w').
var armour = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= 'W':
			t[c] = byte(c - '0')
		case c >= '`' && c <= 'w':
			t[c] = byte(c - '0' - 8)
		default:
			t[c] = 0xFF
		}
	}
	return t
}()

// validArmour reports whether every character of p is in the armour.
func validArmour(p []byte) bool {
	var or byte
	for _, c := range p {
		or |= armour[c]
	}
	return or < 64
}

// unarmour packs the 6-bit values of p into dst, most significant bit
// first, and reports whether every character was in the armour. dst needs
// len(p)*6/8 + 3 bytes.
func unarmour(dst []byte, p []byte) bool {
	var or byte
	j := 0
	for len(p) >= 4 {
		a, b, c, e := armour[p[0]], armour[p[1]], armour[p[2]], armour[p[3]]
		or |= a | b | c | e
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(e)
		dst[j], dst[j+1], dst[j+2] = byte(v>>16), byte(v>>8), byte(v)
		j += 3
		p = p[4:]
	}
	if len(p) > 0 {
		var v uint32
		for i, c := range p {
			or |= armour[c]
			v |= uint32(armour[c]&63) << (18 - 6*i)
		}
		dst[j], dst[j+1], dst[j+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	return or < 64
}

// bitReader reads big-endian bit fields from an unarmoured payload. b has 8
// bytes of slack past the payload so that every read is one 64-bit load.
type bitReader struct {
	b []byte
	n int // payload length in bits
}

// has reports whether the field [start, start+width) lies in the payload.
func (r *bitReader) has(start, width int) bool { return start+width <= r.n }

// u returns the unsigned field [start, start+width), width ≤ 32; the caller
// checks has first.
func (r *bitReader) u(start, width int) uint32 {
	x := binary.BigEndian.Uint64(r.b[start>>3:])
	return uint32(x << (start & 7) >> (64 - width))
}

// i returns the field as a two's complement number of its own width.
func (r *bitReader) i(start, width int) int32 {
	return int32(r.u(start, width)<<(32-width)) >> (32 - width)
}

// flag returns the 1-bit field at start.
func (r *bitReader) flag(start int) bool { return r.u(start, 1) == 1 }

// text decodes up to len(dst) 6-bit characters at start into dst, as many
// as the payload holds whole. '@' ends the text: it is the padding, and
// what follows it in real data is garbage ("HAN KANG NO3@@@@@@B-"); gpsd
// cuts there too. Trailing spaces are trimmed. It returns the length kept.
func (r *bitReader) text(dst []byte, start int) int {
	n := 0
	for n < len(dst) && r.has(start+6*n, 6) {
		c := byte(r.u(start+6*n, 6))
		if c == 0 {
			break
		}
		if c < 32 {
			c += 64 // 'A'..'Z', '[', '\\', ']', '^', '_'
		}
		dst[n] = c
		n++
	}
	for n > 0 && dst[n-1] == ' ' {
		n--
	}
	return n
}
