package state

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPlateRunes bounds a vehicle plate. Chinese plates have 7 or 8
// characters; foreign and temporary plates are longer, never above 16.
const MaxPlateRunes = 16

// ErrPlateFormat is returned by CheckPlate and ParsePlate.
var ErrPlateFormat = errors.New("not a vehicle plate")

// CheckPlate reports whether s is a plate in canonical form: valid UTF-8 of
// 1 to MaxPlateRunes runes, no control characters, no '/' (it could not be
// addressed in the API's path), no leading or trailing white space and no
// lower-case ASCII letters. The check is loose on purpose: plate schemes
// differ by province and country, and a truck is only a key here. It does
// not allocate.
func CheckPlate(s string) error {
	if s == "" || len(s) > MaxPlateRunes*utf8.UTFMax || !utf8.ValidString(s) {
		return ErrPlateFormat
	}
	n := 0
	for _, r := range s {
		n++
		if n > MaxPlateRunes || unicode.IsControl(r) || r == '/' || (r >= 'a' && r <= 'z') {
			return ErrPlateFormat
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return ErrPlateFormat
	}
	return nil
}

// ParsePlate normalises a plate as feeds and people write it (white space
// around it trimmed, including the ideographic space U+3000; ASCII letters
// upper-cased: "浙b12345 " is "浙B12345") and validates it with CheckPlate.
// It allocates only when the input is not canonical already.
func ParsePlate(s string) (string, error) {
	if CheckPlate(s) == nil {
		return s, nil
	}
	s = strings.TrimSpace(s)
	if strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' }) >= 0 {
		b := []byte(s)
		for i, c := range b {
			if c >= 'a' && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		s = string(b)
	}
	if err := CheckPlate(s); err != nil {
		return "", err
	}
	return s, nil
}
