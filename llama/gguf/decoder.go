package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Limits on lengths and counts read from a header, far above anything a real
// model holds (the largest vocabularies have a few hundred thousand tokens,
// the largest models a few thousand tensors). A value above its limit that
// also overruns the file is reported as corruption rather than truncation,
// and no value above its limit is ever allocated for.
const (
	maxTensors   = 1 << 20 // tensor infos in one file
	maxKeyValues = 1 << 20 // metadata entries in one file
	maxArrayLen  = 1 << 24 // elements in one metadata array
	maxStringLen = 1 << 26 // bytes in one metadata string (64 MiB)
)

// Minimum encoded sizes, used to bound counts by the bytes left in the file.
const (
	minKeyValueSize   = 8 + 4 + 1 // key length, value type, a 1-byte value
	minTensorInfoSize = 8 + 4 + 8 + 4 + 8
	maxNameLen        = 63 // GGML_MAX_NAME - 1: ggml refuses longer tensor names
	maxDims           = 4  // GGML_MAX_DIMS
)

// decoder reads a GGUF header sequentially, tracking its offset in the file so
// that every error says where it happened.
type decoder struct {
	path string
	br   *bufio.Reader
	off  int64 // offset of the next byte br returns
	size int64 // file size
	buf  [8]byte
	str  []byte // scratch space for strings, reused
}

func newDecoder(path string, r io.ReaderAt, size int64) *decoder {
	return &decoder{
		path: path,
		br:   bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10),
		size: size,
	}
}

func (d *decoder) remaining() int64 { return d.size - d.off }

// corrupt returns an ErrCorrupt error at offset off.
func (d *decoder) corrupt(off int64, format string, args ...any) *Error {
	return &Error{Path: d.path, Offset: off, What: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

// truncated returns an ErrTruncated error at offset off.
func (d *decoder) truncated(off int64, format string, args ...any) *Error {
	return &Error{Path: d.path, Offset: off, What: fmt.Sprintf(format, args...), Err: ErrTruncated}
}

// bytes reads n (at most 8) bytes into the scratch buffer; what names the
// field for the error when the file ends first.
func (d *decoder) bytes(n int, what string) ([]byte, error) {
	if int64(n) > d.remaining() {
		return nil, d.truncated(d.off, "file ends in the %s", what)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		return nil, d.ioError(err, what)
	}
	d.off += int64(n)
	return b, nil
}

func (d *decoder) ioError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The reader ended before the size it was said to have.
		return d.truncated(d.off, "file ends in the %s", what)
	}
	return &Error{Path: d.path, Offset: d.off, What: "reading the " + what, Err: err}
}

func (d *decoder) u8(what string) (uint8, error) {
	b, err := d.bytes(1, what)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16(what string) (uint16, error) {
	b, err := d.bytes(2, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32(what string) (uint32, error) {
	b, err := d.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	b, err := d.bytes(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count checks a count or length n read at offset off: n items of at least
// minSize bytes each must fit in the bytes left, and n must not exceed limit.
// Beyond the limit the value is corrupt; within it, a value that overruns the
// file means the file was cut short. The field is named noun+suffix in
// errors (two strings, so that the hot path concatenates nothing).
func (d *decoder) count(off int64, n uint64, minSize int64, limit uint64, noun, suffix string) error {
	return d.countIn(d.remaining(), off, n, minSize, limit, noun, suffix)
}

// countIn is count with only avail of the bytes left available to the items.
func (d *decoder) countIn(avail, off int64, n uint64, minSize int64, limit uint64, noun, suffix string) error {
	hi, need := bits.Mul64(n, uint64(minSize))
	fits := avail >= 0 && hi == 0 && need <= uint64(avail)
	switch {
	case n > limit && !fits:
		return d.corrupt(off, "%s%s %d exceeds what a %s file can hold", noun, suffix, n, humanSize(d.size))
	case n > limit:
		return d.corrupt(off, "%s%s %d exceeds the limit of %d", noun, suffix, n, limit)
	case !fits:
		return d.truncated(off, "%s%s %d needs at least %d bytes but only %d are left", noun, suffix, n, need, max(avail, 0))
	}
	return nil
}

// string reads a length-prefixed string of at most limit bytes.
func (d *decoder) string(limit uint64, what string) (string, error) {
	off := d.off
	if d.remaining() < 8 {
		return "", d.truncated(off, "file ends in the %s length", what)
	}
	b, err := d.bytes(8, what)
	if err != nil {
		return "", err
	}
	n := binary.LittleEndian.Uint64(b)
	if err := d.count(off, n, 1, limit, what, " length"); err != nil {
		return "", err
	}
	if uint64(cap(d.str)) < n {
		d.str = make([]byte, n)
	}
	text := d.str[:n]
	if _, err := io.ReadFull(d.br, text); err != nil {
		return "", d.ioError(err, what)
	}
	d.off += int64(n)
	return string(text), nil
}

// scalar reads one value of scalar type t.
func (d *decoder) scalar(t ValueType, what string) (any, error) {
	switch t {
	case ValueUint8:
		return d.u8(what)
	case ValueInt8:
		v, err := d.u8(what)
		return int8(v), err
	case ValueBool:
		v, err := d.u8(what)
		return v != 0, err // ggml reads any non-zero byte as true
	case ValueUint16:
		return d.u16(what)
	case ValueInt16:
		v, err := d.u16(what)
		return int16(v), err
	case ValueUint32:
		return d.u32(what)
	case ValueInt32:
		v, err := d.u32(what)
		return int32(v), err
	case ValueFloat32:
		v, err := d.u32(what)
		return math.Float32frombits(v), err
	case ValueUint64:
		return d.u64(what)
	case ValueInt64:
		v, err := d.u64(what)
		return int64(v), err
	case ValueFloat64:
		v, err := d.u64(what)
		return math.Float64frombits(v), err
	case ValueString:
		return d.string(maxStringLen, what)
	}
	return nil, fmt.Errorf("gguf: internal error: scalar of type %v", t) // callers check t first
}

// array reads n elements of scalar type t into a typed slice, growing it as
// elements arrive so that memory follows the bytes actually read.
func (d *decoder) array(t ValueType, n uint64, what string) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return readArray(d, n, 1, what, func(b []byte) uint8 { return b[0] })
	case ValueInt8:
		return readArray(d, n, 1, what, func(b []byte) int8 { return int8(b[0]) })
	case ValueBool:
		return readArray(d, n, 1, what, func(b []byte) bool { return b[0] != 0 })
	case ValueUint16:
		return readArray(d, n, 2, what, le.Uint16)
	case ValueInt16:
		return readArray(d, n, 2, what, func(b []byte) int16 { return int16(le.Uint16(b)) })
	case ValueUint32:
		return readArray(d, n, 4, what, le.Uint32)
	case ValueInt32:
		return readArray(d, n, 4, what, func(b []byte) int32 { return int32(le.Uint32(b)) })
	case ValueFloat32:
		return readArray(d, n, 4, what, func(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) })
	case ValueUint64:
		return readArray(d, n, 8, what, le.Uint64)
	case ValueInt64:
		return readArray(d, n, 8, what, func(b []byte) int64 { return int64(le.Uint64(b)) })
	case ValueFloat64:
		return readArray(d, n, 8, what, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) })
	case ValueString:
		xs := make([]string, 0, min(n, 4096))
		for range n {
			s, err := d.string(maxStringLen, what)
			if err != nil {
				return nil, err
			}
			xs = append(xs, s)
		}
		return xs, nil
	}
	return nil, fmt.Errorf("gguf: internal error: array of type %v", t) // callers check t first
}

// readArray reads n fixed-size elements of size bytes each, decoding each
// with decode.
func readArray[T Scalar](d *decoder, n uint64, size int, what string, decode func([]byte) T) ([]T, error) {
	xs := make([]T, 0, min(n, 4096))
	for range n {
		b, err := d.bytes(size, what)
		if err != nil {
			return nil, err
		}
		xs = append(xs, decode(b))
	}
	return xs, nil
}

// humanSize formats a byte count the way the error messages use it: "100 B",
// "1 KiB", "1.5 MiB".
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, suffix := float64(n)/1024, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if f < 1024 {
			break
		}
		f, suffix = f/1024, next
	}
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + " " + suffix
}
