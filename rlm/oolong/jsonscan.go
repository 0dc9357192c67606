package oolong

// A row of the JSONL file is one JSON object whose context_window_text is
// megabytes long and usually equal to the previous row's. encoding/json would
// validate and decode all of it for every row; this scanner only finds where
// each member's value lies (jumping from quote to quote), so that the reader
// can decode the small fields, filter, and then decode the text only when it
// is new.

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// syntaxError describes malformed JSON, wrapping ErrFormat.
func syntaxError(format string, args ...any) error {
	return fmt.Errorf("invalid JSON: "+format+": %w", append(args, ErrFormat)...)
}

// scanObject calls member for each member of the JSON object in data, with
// the member's key (raw, without quotes) and the span of its value (a string
// value keeps its quotes).
func scanObject(data []byte, member func(key, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return syntaxError("want an object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return syntaxError("want a key at offset %d", i)
		}
		end, err := stringEnd(data, i)
		if err != nil {
			return err
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return syntaxError("want ':' at offset %d", i)
		}
		i = skipSpace(data, i+1)
		end, err = valueEnd(data, i)
		if err != nil {
			return err
		}
		if err := member(key, data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return syntaxError("unterminated object")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return trailing(data, i+1)
		default:
			return syntaxError("want ',' or '}' at offset %d", i)
		}
	}
}

func trailing(data []byte, i int) error {
	if i = skipSpace(data, i); i != len(data) {
		return syntaxError("data after the object at offset %d", i)
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the offset just past the string starting at data[i]
// (a quote). It jumps from quote to quote: a quote ends the string unless an
// odd number of backslashes precede it.
func stringEnd(data []byte, i int) (int, error) {
	for j := i + 1; ; {
		q := bytes.IndexByte(data[j:], '"')
		if q < 0 {
			return 0, syntaxError("unterminated string at offset %d", i)
		}
		j += q
		backslashes := 0
		for k := j - 1; k > i && data[k] == '\\'; k-- {
			backslashes++
		}
		j++
		if backslashes%2 == 0 {
			return j, nil
		}
	}
}

// valueEnd returns the offset just past the JSON value starting at data[i].
func valueEnd(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, syntaxError("want a value at offset %d", i)
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := stringEnd(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, syntaxError("unterminated value at offset %d", i)
	default: // number, true, false, null
		j := i
		for j < len(data) && !strings.ContainsRune(" \t\r\n,}]", rune(data[j])) {
			j++
		}
		if j == i {
			return 0, syntaxError("want a value at offset %d", i)
		}
		return j, nil
	}
}

// decodeString decodes the JSON string literal span (quotes included) as
// encoding/json does, bytes that are not UTF-8 and lone surrogates becoming
// U+FFFD. The result does not alias span.
func decodeString(span []byte) (string, error) {
	if len(span) < 2 || span[0] != '"' || span[len(span)-1] != '"' {
		return "", syntaxError("want a string")
	}
	s := span[1 : len(span)-1]
	var b strings.Builder // its String does not copy
	b.Grow(len(s))
	for len(s) > 0 {
		esc := bytes.IndexByte(s, '\\')
		if esc < 0 {
			esc = len(s)
		}
		writeUnescaped(&b, s[:esc])
		s = s[esc:]
		if len(s) == 0 {
			break
		}
		n, err := writeEscape(&b, s)
		if err != nil {
			return "", err
		}
		s = s[n:]
	}
	return b.String(), nil
}

// writeUnescaped copies a run without escapes, replacing each byte that is
// not UTF-8 with U+FFFD. Like the rest of the scanner it is lenient: control
// characters, which JSON forbids in strings, are copied.
func writeUnescaped(b *strings.Builder, run []byte) {
	if utf8.Valid(run) {
		b.Write(run)
		return
	}
	for len(run) > 0 {
		r, size := utf8.DecodeRune(run)
		b.WriteRune(r) // RuneError for an invalid byte
		run = run[size:]
	}
}

// writeEscape decodes the escape sequence at the start of s and returns its
// length.
func writeEscape(b *strings.Builder, s []byte) (int, error) {
	if len(s) < 2 {
		return 0, syntaxError("unterminated escape")
	}
	switch s[1] {
	case '"', '\\', '/':
		b.WriteByte(s[1])
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, ok := hex4(s[2:])
		if !ok {
			return 0, syntaxError("bad \\u escape")
		}
		if utf16.IsSurrogate(r) {
			if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if r2, ok := hex4(s[8:]); ok {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						b.WriteRune(pair)
						return 12, nil
					}
				}
			}
			r = utf8.RuneError
		}
		b.WriteRune(r)
		return 6, nil
	default:
		return 0, syntaxError("bad escape \\%c", s[1])
	}
	return 2, nil
}

// hex4 decodes the four hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
