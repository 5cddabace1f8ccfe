package state

import (
	"errors"
	"fmt"
)

// ContainerLen is the length of an ISO 6346 container number.
const ContainerLen = 11

// Errors returned by CheckContainer and ParseContainer.
var (
	ErrContainerFormat     = errors.New("not an ISO 6346 container number")
	ErrContainerCheckDigit = errors.New("ISO 6346 check digit mismatch")
)

// letterValue holds the ISO 6346 value of 'A'..'Z': from 10, skipping
// multiples of 11.
var letterValue = [26]int{10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38}

// ContainerCheckDigit computes the check digit of the first ten characters of
// an ISO 6346 number. It assumes the owner code and category are upper-case
// letters and the serial digits; CheckContainer checks that.
func ContainerCheckDigit(s string) byte {
	sum := 0
	for i := 0; i < 10; i++ {
		c := s[i]
		v := int(c - '0')
		if c >= 'A' {
			v = letterValue[c-'A']
		}
		sum += v << i
	}
	return byte('0' + (sum%11)%10)
}

// CheckContainer reports whether s is a valid ISO 6346 number in canonical
// form: three upper-case owner letters, a category U, J or Z, six digits and
// the correct check digit. It does not allocate.
func CheckContainer(s string) error {
	if len(s) != ContainerLen {
		return ErrContainerFormat
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return ErrContainerFormat
		}
	}
	if s[3] != 'U' && s[3] != 'J' && s[3] != 'Z' {
		return ErrContainerFormat
	}
	for i := 4; i < ContainerLen; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ErrContainerFormat
		}
	}
	if ContainerCheckDigit(s) != s[10] {
		return ErrContainerCheckDigit
	}
	return nil
}

// ParseContainer normalises s (upper case; spaces, hyphens and a slash before
// the check digit removed, as printed on boxes: "CSQU 305438-3") and validates it.
func ParseContainer(s string) (string, error) {
	if len(s) > 2*ContainerLen {
		return "", ErrContainerFormat
	}
	var buf [2 * ContainerLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '/':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	id := string(buf[:n])
	if err := CheckContainer(id); err != nil {
		return "", fmt.Errorf("container %q: %w", s, err)
	}
	return id, nil
}
