package query

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal, escaping what RFC 8259
// requires plus <, > and & (safe to embed in HTML), and replacing invalid
// UTF-8 with U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime appends a Unix-nanosecond time as a JSON RFC 3339 string in UTC.
// appendTime writes a Unix-nanosecond time as a JSON string in RFC 3339
// (UTC, "Z", the fraction without trailing zeros: time.RFC3339Nano). It
// computes the civil date itself: list answers write three times per object,
// and time.Time.AppendFormat costs several times as much.
func appendTime(dst []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		dst = append(dst, '"')
		dst = time.Unix(0, ns).UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	}
	dst = append(dst, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+rem/36000), byte('0'+rem/3600%10), ':',
		byte('0'+rem%3600/600), byte('0'+rem%3600/60%10), ':',
		byte('0'+rem%60/10), byte('0'+rem%10))
	if frac != 0 {
		var f [10]byte
		f[0] = '.'
		for i := 9; i >= 1; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 10
		for f[n-1] == '0' {
			n--
		}
		dst = append(dst, f[:n]...)
	}
	return append(dst, 'Z', '"')
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendKey(dst []byte, first bool, key string) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// appendDegrees writes a coordinate exactly as strconv.AppendFloat(dst, v,
// 'f', -1, 64) does (the shortest decimal that reads back as v), by integer
// arithmetic when v has at most 7 decimals: truck positions are kept to
// 1e-7° and most other positions come in with fewer. Then the decimal
// v·1e7/1e7 reads back as v, and no shorter decimal does (any other of as
// few digits is at least 1e-7 away, thousands of float64 steps at these
// magnitudes), so it is the shortest. Other values go to strconv.
func appendDegrees(dst []byte, v float64) []byte {
	if r := math.Round(v * 1e7); v != 0 && math.Abs(r) < 1e15 && r/1e7 == v {
		return appendDecimal(dst, int64(r), 7, true)
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}

// appendFixed writes v with prec (1 to 3) decimals exactly as
// strconv.AppendFloat(dst, v, 'f', prec, 64) does, by integer arithmetic
// unless v·10^prec lies so close to a half that the product's rounding
// could decide it (or v is negative and rounds to zero, or is out of
// range): those go to strconv.
func appendFixed(dst []byte, v float64, prec int) []byte {
	scale := [...]float64{1, 10, 100, 1000}[prec]
	s := v * scale
	r := math.Round(s)
	if math.Abs(s) < 1e15 && math.Abs(math.Abs(s-math.Trunc(s))-0.5) > 1e-6 && !(r == 0 && math.Signbit(v)) {
		return appendDecimal(dst, int64(r), prec, false)
	}
	return strconv.AppendFloat(dst, v, 'f', prec, 64)
}

// appendDecimal writes n·10^-prec; trim drops trailing zeros of the
// fraction (and the point when none is left).
func appendDecimal(dst []byte, n int64, prec int, trim bool) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var buf [24]byte
	i := len(buf)
	for k := 0; k < prec; k++ {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	frac := buf[i:]
	if trim {
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
	}
	dst = strconv.AppendInt(dst, n, 10)
	if len(frac) > 0 {
		dst = append(append(dst, '.'), frac...)
	}
	return dst
}
