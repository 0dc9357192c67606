package oolong

import (
	"math/big"
	"unicode/utf8"
)

// maxIntDigits is CPython's default limit on the digits int() converts from
// a string (sys.int_info.default_max_str_digits, Python 3.11 and later);
// longer numbers raise ValueError, so the official scorer does not read them
// as integers.
const maxIntDigits = 4300

// parsePyInt parses s the way Python's int(s) does with base 10, reporting
// false where int raises ValueError:
//
//   - whitespace may surround the number (Unicode whitespace, but not the
//     ASCII separators U+001C..U+001F);
//   - one sign, '+' or '-', may lead, with nothing between it and the digits;
//   - digits are any Unicode decimal digits (Nd), "٣" and "３" included;
//   - single underscores may separate digits, never lead, trail or double;
//   - leading zeros are allowed ("007" is 7);
//   - at most 4300 digits (underscores not counted).
func parsePyInt(s string) (*big.Int, bool) {
	i := skipIntSpace(s, 0)
	negative := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negative = s[i] == '-'
		i++
	}
	digits := make([]byte, 0, len(s)-i)
	prevUnderscore := true // a leading underscore is an error, like a doubled one
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '_' {
			if prevUnderscore {
				return nil, false
			}
			prevUnderscore = true
			i += size
			continue
		}
		d := decimalValue(r)
		if d < 0 {
			break
		}
		digits = append(digits, byte('0'+d))
		prevUnderscore = false
		i += size
	}
	if len(digits) == 0 || prevUnderscore || len(digits) > maxIntDigits {
		return nil, false
	}
	if skipIntSpace(s, i) != len(s) {
		return nil, false
	}
	n := new(big.Int)
	if len(digits) <= 18 { // fits an int64 without overflow
		var v int64
		for _, c := range digits {
			v = v*10 + int64(c-'0')
		}
		n.SetInt64(v)
	} else {
		n.SetString(string(digits), 10)
	}
	if negative {
		n.Neg(n)
	}
	return n, true
}

// skipIntSpace returns the index of the first byte at or after i that does
// not begin a character int() treats as surrounding whitespace.
func skipIntSpace(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isIntSpace(r) {
			break
		}
		i += size
	}
	return i
}
