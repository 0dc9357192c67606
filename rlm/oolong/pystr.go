package oolong

// The official scorer is Python. This file reproduces the three pieces of
// Python's str semantics that it relies on: str.isspace (through str.strip),
// str.lower, and the character classes int() accepts. Go's unicode tables and
// CPython 3.12's are both Unicode 15.0, so the classes below agree code point
// for code point; the package tests check that against a python3 interpreter
// when one is installed.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isPySpace reports whether Python's str.isspace is true for r: the
// White_Space property plus the four ASCII separators U+001C..U+001F, which
// Python counts as whitespace (bidirectional class B or S) and Go does not.
func isPySpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || ('\t' <= r && r <= '\r') || (0x1c <= r && r <= 0x1f)
	}
	return unicode.Is(unicode.White_Space, r)
}

// pyStrip is Python's str.strip() with no argument.
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// isIntSpace reports whether int() skips r around the digits. CPython maps
// non-ASCII whitespace to ' ' before parsing but passes ASCII through, and its
// parser only skips the C whitespace set, so U+001C..U+001F are rejected here
// although str.isspace accepts them.
func isIntSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || ('\t' <= r && r <= '\r')
	}
	return unicode.Is(unicode.White_Space, r)
}

// decimalValue returns the value of r as a decimal digit (Unicode general
// category Nd, what Python's int() accepts), or -1. Unicode encodes every
// decimal digit set as ten contiguous code points from zero to nine (some
// sets sit back to back, like the five mathematical ones), so the value of a
// digit is the count of digits directly below it, modulo ten.
func decimalValue(r rune) int {
	if '0' <= r && r <= '9' {
		return int(r - '0')
	}
	if r < utf8.RuneSelf || !unicode.Is(unicode.Nd, r) {
		return -1
	}
	below := 0
	for unicode.Is(unicode.Nd, r-rune(below)-1) {
		below++
	}
	return below % 10
}

// pyLower is Python's str.lower(): full Unicode lowercase mapping, in which
// U+0130 (İ) becomes "i̇" (two code points), and the Final_Sigma rule, by
// which Σ becomes ς at the end of a word and σ elsewhere. Go's
// strings.ToLower does neither. Bytes that are not valid UTF-8 are copied
// unchanged.
func pyLower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i])
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 'İ':
			b.WriteString("i\u0307")
		case r == 'Σ':
			if isFinalSigma(s, i, i+size) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
		i += size
	}
	return b.String()
}

// isFinalSigma applies Unicode's Final_Sigma condition the way CPython does
// for the Σ at s[start:end]: a cased letter before it and none after it,
// skipping case-ignorable characters on both sides.
func isFinalSigma(s string, start, end int) bool {
	return casedBefore(s[:start]) && !casedAfter(s[end:])
}

// casedBefore reports whether the last character of s that is not
// case-ignorable is cased.
func casedBefore(s string) bool {
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if !isCaseIgnorable(r) {
			return isCased(r)
		}
		s = s[:len(s)-size]
	}
	return false
}

// casedAfter reports whether the first character of s that is not
// case-ignorable is cased.
func casedAfter(s string) bool {
	for _, r := range s {
		if !isCaseIgnorable(r) {
			return isCased(r)
		}
	}
	return false
}

// isCased is Unicode's derived property Cased.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is Unicode's derived property Case_Ignorable: general
// categories Mn, Me, Cf, Lm and Sk, plus the Word_Break classes MidLetter,
// MidNumLet and Single_Quote, listed here because Go has no Word_Break table.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024,
		0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
