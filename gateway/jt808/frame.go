package jt808

import (
	"errors"
	"fmt"
)

// Frame bytes of the transport layer.
const (
	flag   = 0x7E
	escape = 0x7D
)

// Message ids the gateway handles.
const (
	IDTerminalResponse = 0x0001
	IDHeartbeat        = 0x0002
	IDLogout           = 0x0003
	IDRegister         = 0x0100
	IDAuth             = 0x0102
	IDLocation         = 0x0200
	IDBatchLocation    = 0x0704
	IDPlatformResponse = 0x8001
	IDRegisterResponse = 0x8100
)

// Header property bits.
const (
	propBodyLen = 0x03FF
	propEncrypt = 0x1C00
	propSplit   = 1 << 13
	propV2019   = 1 << 14
)

// Errors of the frame layer. Each is a malformed frame: the connection
// counts it and goes on with the next frame.
var (
	ErrEscape   = errors.New("jt808: bad escape sequence")
	ErrShort    = errors.New("jt808: frame too short")
	ErrCheck    = errors.New("jt808: check code mismatch")
	ErrBodyLen  = errors.New("jt808: body length does not match the header")
	ErrEncrypt  = errors.New("jt808: encrypted bodies are not supported")
	ErrBadPhone = errors.New("jt808: terminal phone number is not BCD")
)

// Header is the message header.
type Header struct {
	ID      uint16
	Props   uint16
	Version byte   // protocol version byte (2019 only; 0 for 2013)
	Phone   string // terminal phone number, decimal digits as sent
	Serial  uint16
	Total   uint16 // packets of a split message (Split only)
	Index   uint16 // 1-based packet index (Split only)
}

// V2019 reports whether the header is of the 2019 version.
func (h *Header) V2019() bool { return h.Props&propV2019 != 0 }

// Split reports whether the message is one packet of a split message.
func (h *Header) Split() bool { return h.Props&propSplit != 0 }

// BodyLen is the body length the header declares.
func (h *Header) BodyLen() int { return int(h.Props & propBodyLen) }

// Unescape appends to dst the bytes of one frame, given without its
// delimiting 0x7E bytes, with 0x7D 0x01 → 0x7D and 0x7D 0x02 → 0x7E.
func Unescape(dst, frame []byte) ([]byte, error) {
	for i := 0; i < len(frame); i++ {
		c := frame[i]
		if c == flag {
			return dst, ErrEscape
		}
		if c != escape {
			dst = append(dst, c)
			continue
		}
		if i+1 >= len(frame) {
			return dst, ErrEscape
		}
		i++
		switch frame[i] {
		case 0x01:
			dst = append(dst, escape)
		case 0x02:
			dst = append(dst, flag)
		default:
			return dst, ErrEscape
		}
	}
	return dst, nil
}

// Checksum is the XOR of b.
func Checksum(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

// Parse parses an unescaped frame (header, body, check code) and returns
// its header and body. body aliases raw.
func Parse(raw []byte) (h Header, body []byte, err error) {
	if len(raw) < 13 {
		return h, nil, ErrShort
	}
	if Checksum(raw[:len(raw)-1]) != raw[len(raw)-1] {
		return h, nil, ErrCheck
	}
	raw = raw[:len(raw)-1]
	h.ID = be16(raw)
	h.Props = be16(raw[2:])
	p := 4
	phoneLen := 6
	if h.V2019() {
		h.Version = raw[4]
		p = 5
		phoneLen = 10
	}
	if len(raw) < p+phoneLen+2 {
		return h, nil, ErrShort
	}
	if h.Phone, err = bcdDigits(raw[p : p+phoneLen]); err != nil {
		return h, nil, err
	}
	p += phoneLen
	h.Serial = be16(raw[p:])
	p += 2
	if h.Split() {
		if len(raw) < p+4 {
			return h, nil, ErrShort
		}
		h.Total, h.Index = be16(raw[p:]), be16(raw[p+2:])
		p += 4
		if h.Total == 0 || h.Index == 0 || h.Index > h.Total {
			return h, nil, fmt.Errorf("jt808: packet %d of %d: %w", h.Index, h.Total, ErrBodyLen)
		}
	}
	if h.Props&propEncrypt != 0 {
		return h, nil, ErrEncrypt
	}
	body = raw[p:]
	if len(body) != h.BodyLen() {
		return h, nil, fmt.Errorf("jt808: header says %d body bytes, frame has %d: %w", h.BodyLen(), len(body), ErrBodyLen)
	}
	return h, body, nil
}

// AppendFrame appends to dst the escaped frame, delimiters included, of a
// message with header h (ID, Phone, Serial and, for 2019, Version; the
// properties are computed) and body. The reply uses the version of the
// terminal's messages: v2019.
func AppendFrame(dst []byte, h Header, v2019 bool, body []byte) []byte {
	raw := make([]byte, 0, 17+len(body)+1)
	props := uint16(len(body)) & propBodyLen
	if v2019 {
		props |= propV2019
	}
	raw = append(raw, byte(h.ID>>8), byte(h.ID), byte(props>>8), byte(props))
	n := 6
	if v2019 {
		raw = append(raw, h.Version)
		n = 10
	}
	raw = appendBCDDigits(raw, h.Phone, n)
	raw = append(raw, byte(h.Serial>>8), byte(h.Serial))
	raw = append(raw, body...)
	raw = append(raw, Checksum(raw))
	dst = append(dst, flag)
	for _, c := range raw {
		switch c {
		case flag:
			dst = append(dst, escape, 0x02)
		case escape:
			dst = append(dst, escape, 0x01)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, flag)
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// bcdDigits decodes packed BCD into decimal digits.
func bcdDigits(b []byte) (string, error) {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		hi, lo := c>>4, c&0x0F
		if hi > 9 || lo > 9 {
			return "", ErrBadPhone
		}
		out = append(out, '0'+hi, '0'+lo)
	}
	return string(out), nil
}

// appendBCDDigits appends digits as n bytes of packed BCD, left-padded
// with zeros (digits longer than 2n keep their last 2n).
func appendBCDDigits(dst []byte, digits string, n int) []byte {
	buf := make([]byte, 2*n)
	for i := range buf {
		buf[i] = '0'
	}
	if len(digits) > len(buf) {
		digits = digits[len(digits)-len(buf):]
	}
	copy(buf[len(buf)-len(digits):], digits)
	for i := 0; i < n; i++ {
		dst = append(dst, (buf[2*i]-'0')<<4|(buf[2*i+1]-'0')&0x0F)
	}
	return dst
}
