package repl

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The child is hostile: what it writes is decoded here, not by
// encoding/json, so that the memory a message can make the host allocate is
// bounded. Every value is charged what it costs as a Go value (its interface
// slot, string header and bytes, slice and map storage) against a budget,
// and decoding stops with errTooLarge when the budget is spent: a 30 MB list
// of one-character strings would otherwise become half a gigabyte of Go
// heap. Numbers come back as int64 or float64 directly (see fromJSON for the
// rules), strings with invalid UTF-8 or lone surrogates get U+FFFD, as with
// encoding/json.

// errTooLarge marks a message whose values would take more memory than its
// budget.
var errTooLarge = errors.New("repl: message too large to decode")

// minDecodeBudget is the budget of a small message, so that a list of many
// short items in a small message still decodes. A larger message gets its
// own size: together with the frame, a message costs the host at most twice
// its size.
const minDecodeBudget = 16 << 20

func decodeBudget(size int) int64 { return max(int64(size), minDecodeBudget) }

// maxJSONDepth bounds nesting; Python's own json module stops near 1000.
const maxJSONDepth = 1000

// Approximate costs, in bytes, of Go values on a 64-bit machine.
const (
	costSlot     = 16 // an interface value in a slice or map
	costString   = 16 // a string header boxed in an interface
	costNumber   = 8  // an int64 or float64 boxed in an interface
	costSlice    = 24
	costMap      = 64
	costMapEntry = 48
)

type jsonDecoder struct {
	data   []byte
	pos    int
	budget int64
	depth  int
	// stack holds the items of the arrays being read, so that each array
	// is allocated once at its exact size; it grows by doubling.
	stack []any
}

// decodeJSON parses one JSON value that fills data, within budget bytes.
// The strings it returns may share data's memory: data must not be written
// afterwards.
func decodeJSON(data []byte, budget int64) (any, error) {
	d := &jsonDecoder{data: data, budget: budget}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.data) {
		return nil, d.syntax("data after the value")
	}
	return v, nil
}

// decodeSkeleton parses a header object too large to decode whole: the
// values of the keys in skip are checked for syntax and left out, the other
// fields decoded as usual.
func decodeSkeleton(data []byte, skip ...string) (map[string]any, error) {
	d := &jsonDecoder{data: data, budget: minDecodeBudget}
	d.space()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.syntax("expected an object")
	}
	d.pos++
	m := map[string]any{}
	for first := true; ; first = false {
		d.space()
		if first && d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return m, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.syntax("expected a key")
		}
		k, _, err := d.string()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.syntax("expected :")
		}
		d.pos++
		if slices.Contains(skip, k) {
			err = d.skip()
		} else {
			m[k], err = d.value()
		}
		if err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) {
			return nil, d.syntax("unterminated object")
		}
		if d.data[d.pos] == '}' {
			d.pos++
			return m, nil
		}
		if d.data[d.pos] != ',' {
			return nil, d.syntax("expected , or }")
		}
		d.pos++
	}
}

// skip passes over one value, checking its syntax, allocating nothing for
// it.
func (d *jsonDecoder) skip() error {
	d.space()
	if d.pos >= len(d.data) {
		return d.syntax("unexpected end")
	}
	switch c := d.data[d.pos]; {
	case c == '{' || c == '[':
		if err := d.enter(); err != nil {
			return err
		}
		defer func() { d.depth-- }()
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		d.pos++
		d.space()
		if d.pos < len(d.data) && d.data[d.pos] == end {
			d.pos++
			return nil
		}
		for {
			if end == '}' {
				d.space()
				if d.pos >= len(d.data) || d.data[d.pos] != '"' {
					return d.syntax("expected a key")
				}
				if err := d.skipString(); err != nil {
					return err
				}
				d.space()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					return d.syntax("expected :")
				}
				d.pos++
			}
			if err := d.skip(); err != nil {
				return err
			}
			d.space()
			if d.pos >= len(d.data) {
				return d.syntax("unterminated value")
			}
			if d.data[d.pos] == end {
				d.pos++
				return nil
			}
			if d.data[d.pos] != ',' {
				return d.syntax("expected a separator")
			}
			d.pos++
		}
	case c == '"':
		return d.skipString()
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := d.number()
		return err
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return d.syntax("unexpected character")
}

// skipString passes over a string; escapes are not checked beyond their
// length, since the value is dropped.
func (d *jsonDecoder) skipString() error {
	d.pos++
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			return nil
		case c == '\\':
			d.pos += 2
		case c < 0x20:
			return d.syntax("control character in string")
		default:
			d.pos++
		}
	}
	return d.syntax("unterminated string")
}

func (d *jsonDecoder) charge(n int64) error {
	d.budget -= n
	if d.budget < 0 {
		return errTooLarge
	}
	return nil
}

func (d *jsonDecoder) syntax(what string) error {
	return fmt.Errorf("%w: JSON: %s at offset %d", errProtocol, what, d.pos)
}

func (d *jsonDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value() (any, error) {
	d.space()
	if d.pos >= len(d.data) {
		return nil, d.syntax("unexpected end")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, copied, err := d.string()
		if err != nil {
			return nil, err
		}
		return s, d.charge(costString + copied)
	case c == '-' || ('0' <= c && c <= '9'):
		if err := d.charge(costNumber); err != nil {
			return nil, err
		}
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, d.syntax("unexpected character")
}

func (d *jsonDecoder) literal(word string) bool {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return false
}

func (d *jsonDecoder) enter() error {
	if d.depth++; d.depth > maxJSONDepth {
		return d.syntax("nesting too deep")
	}
	return nil
}

func (d *jsonDecoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // [
	if err := d.charge(costSlice); err != nil {
		return nil, err
	}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	mark := len(d.stack)
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if len(d.stack) == cap(d.stack) {
			grown := make([]any, len(d.stack), max(2*cap(d.stack), 64))
			copy(grown, d.stack)
			if err := d.charge(costSlot * int64(cap(grown)-cap(d.stack))); err != nil {
				return nil, err
			}
			d.stack = grown
		}
		d.stack = append(d.stack, v)
		d.space()
		if d.pos >= len(d.data) {
			return nil, d.syntax("unterminated array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			items := make([]any, len(d.stack)-mark)
			copy(items, d.stack[mark:])
			clear(d.stack[mark:])
			d.stack = d.stack[:mark]
			return items, d.charge(costSlot * int64(len(items)))
		default:
			return nil, d.syntax("expected , or ]")
		}
	}
}

func (d *jsonDecoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	d.pos++ // {
	if err := d.charge(costMap); err != nil {
		return nil, err
	}
	m := map[string]any{}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.syntax("expected a key")
		}
		k, copied, err := d.string()
		if err != nil {
			return nil, err
		}
		if err := d.charge(costMapEntry + copied); err != nil {
			return nil, err
		}
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.syntax("expected :")
		}
		d.pos++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.space()
		if d.pos >= len(d.data) {
			return nil, d.syntax("unterminated object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return m, nil
		default:
			return nil, d.syntax("expected , or }")
		}
	}
}

// number reads a JSON number: an int64 when it is an integer that fits,
// its decimal text when it is an integer that does not (as Python's str()
// would write it), else a float64.
func (d *jsonDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return nil, d.syntax("bad number")
	}
	integer := true
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		integer = false
		if digits() == 0 {
			return nil, d.syntax("bad number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		integer = false
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.syntax("bad number")
		}
	}
	text := string(d.data[start:d.pos])
	if integer {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		return text, d.charge(costString + int64(len(text)))
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, d.syntax("bad number")
	}
	return f, nil
}

// string reads a JSON string; d.data[d.pos] is its opening quote. copied is
// the number of bytes it allocated: none when the string shares data.
func (d *jsonDecoder) string() (s string, copied int64, err error) {
	d.pos++
	start := d.pos
	// Fast path: valid UTF-8 with no escape, which the string shares with
	// the header rather than copies (the header is never written again).
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := unsafe.String(unsafe.SliceData(d.data[start:]), d.pos-start)
			d.pos++
			return s, 0, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			d.pos++
			continue
		}
		r, size := utf8.DecodeRune(d.data[d.pos:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		d.pos += size
	}
	buf := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), int64(len(buf)), nil
		case c < 0x20:
			return "", 0, d.syntax("control character in string")
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", 0, d.syntax("unterminated escape")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", 0, d.syntax("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					save := d.pos
					if d.literal(`\u`) {
						if r2, ok = d.hex4(); !ok {
							return "", 0, d.syntax("bad \\u escape")
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						r = utf8.RuneError
						d.pos = save // the second escape, if any, stands alone
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", 0, d.syntax("bad escape")
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, d.data[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
	return "", 0, d.syntax("unterminated string")
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
