package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Tensor is a tensor to write: its name, shape in ggml order (Shape[0] is
// the row length) and type, and its data as stored (for a quantized type,
// its blocks).
type Tensor struct {
	Name  string
	Shape []int64
	Type  Type
	Data  []byte
}

// WriterOption configures a [Writer].
type WriterOption func(*Writer)

// WithAlignment sets the alignment of tensor data in bytes, a power of two.
// The default is [DefaultAlignment] (32), which needs no metadata; any other
// value is recorded as general.alignment.
func WithAlignment(n uint32) WriterOption {
	return func(w *Writer) { w.Set(KeyAlignment, ValueOf(n)) } // an error sticks in w
}

// Writer writes a GGUF version 3 file: metadata in the order it was set,
// then tensor infos and data in the order tensors were added, each tensor's
// data aligned. It holds everything in memory until [Writer.Close], which
// writes the file. Errors stick: after a failed Set or AddTensor, Close
// writes nothing and returns the first error.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	out       io.Writer
	file      *os.File // the temporary file Create writes, renamed to path on Close
	path      string
	alignment int64
	kvs       []KeyValue
	keys      map[string]int
	tensors   []Tensor
	names     map[string]bool
	err       error // the first error of Set or AddTensor: Close returns it and writes nothing
	closed    bool
}

// NewWriter returns a Writer that writes to out on [Writer.Close].
func NewWriter(out io.Writer, opts ...WriterOption) *Writer {
	return newWriter(out, nil, "", opts)
}

func newWriter(out io.Writer, file *os.File, path string, opts []WriterOption) *Writer {
	w := &Writer{out: out, file: file, path: path, alignment: DefaultAlignment, keys: map[string]int{}, names: map[string]bool{}}
	for _, opt := range opts {
		opt(w)
	}
	return w
}

// Create returns a Writer for a new file at path. [Writer.Close] writes the
// file under a temporary name in the same directory and renames it to path
// only once complete, so path never holds a partial file.
func Create(path string, opts ...WriterOption) (*Writer, error) {
	tmp, err := createTemp(path)
	if err != nil {
		return nil, &Error{Path: path, Offset: -1, What: "create", Err: err}
	}
	return newWriter(tmp, tmp, path, opts), nil
}

// createTemp creates a new file beside path under a unique hidden name, with
// the permissions os.Create gives (0666 less the umask), which
// os.CreateTemp's 0600 would not.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for {
		name := filepath.Join(dir, "."+base+".tmp"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (w *Writer) fail(what string, err error) error {
	e := &Error{Path: w.path, Offset: -1, What: what, Err: err}
	if w.err == nil && !w.closed {
		w.err = e
	}
	return e
}

// Set sets the metadata value of key. A key set again keeps its first place
// with the new value. Setting general.alignment (a u32 power of two) changes
// the alignment of tensor data.
func (w *Writer) Set(key string, v Value) error {
	switch {
	case w.closed:
		return w.fail("set "+strconv.Quote(key), ErrClosed)
	case key == "":
		return w.fail("set: empty key", ErrCorrupt)
	case v.v == nil:
		return w.fail("set "+strconv.Quote(key)+": zero Value", ErrCorrupt)
	}
	if key == KeyAlignment {
		a, ok := As[uint32](v)
		if !ok || a == 0 || a&(a-1) != 0 {
			return w.fail(fmt.Sprintf("set %s: %s %v is not a u32 power of two", key, v.describe(), v), ErrCorrupt)
		}
		w.alignment = int64(a)
	}
	if i, ok := w.keys[key]; ok {
		w.kvs[i].Value = v
		return nil
	}
	w.keys[key] = len(w.kvs)
	w.kvs = append(w.kvs, KeyValue{Key: key, Value: v})
	return nil
}

// AddTensor adds a tensor. Its data is not copied: leave it unchanged until
// Close. The tensor must be valid as [Open] checks it: a name of 1 to 63 bytes
// not used before, 1 to 4 dimensions each > 0, a row length that is a
// multiple of the type's block size, and exactly the data that shape takes.
func (w *Writer) AddTensor(t Tensor) error {
	what := "add tensor " + strconv.Quote(t.Name)
	if w.closed {
		return w.fail(what, ErrClosed)
	}
	if err := checkTensor(t); err != nil {
		return w.fail(what+": "+err.Error(), ErrCorrupt)
	}
	if w.names[t.Name] {
		return w.fail(what+": duplicate name", ErrCorrupt)
	}
	w.names[t.Name] = true
	t.Shape = append([]int64(nil), t.Shape...)
	w.tensors = append(w.tensors, t)
	return nil
}

// AddFloat32 adds a tensor of type typ encoded from values with
// [EncodeFloat32] (F32, F16, BF16, Q8_0 or Q4_0).
func (w *Writer) AddFloat32(name string, shape []int64, typ Type, values []float32) error {
	data, err := EncodeFloat32(typ, values)
	if err != nil {
		return w.fail("add tensor "+strconv.Quote(name), err)
	}
	return w.AddTensor(Tensor{Name: name, Shape: shape, Type: typ, Data: data})
}

func checkTensor(t Tensor) error {
	switch {
	case t.Name == "":
		return fmt.Errorf("empty name")
	case len(t.Name) > maxNameLen:
		return fmt.Errorf("name is %d bytes, more than ggml's %d", len(t.Name), maxNameLen)
	case strings.IndexByte(t.Name, 0) >= 0:
		return fmt.Errorf("name contains a NUL byte")
	case len(t.Shape) < 1 || len(t.Shape) > maxDims:
		return fmt.Errorf("%d dimensions, want 1 to %d", len(t.Shape), maxDims)
	case !t.Type.Valid():
		return fmt.Errorf("type %v is not a ggml type", t.Type)
	case t.Shape[0]%t.Type.BlockSize() != 0:
		return fmt.Errorf("row length %d is not a multiple of %v's block size %d", t.Shape[0], t.Type, t.Type.BlockSize())
	}
	elements := int64(1)
	for _, d := range t.Shape {
		if d <= 0 || elements > math.MaxInt64/d {
			return fmt.Errorf("bad shape %v", t.Shape)
		}
		elements *= d
	}
	blocks := elements / t.Type.BlockSize()
	if blocks > math.MaxInt64/t.Type.BlockBytes() {
		return fmt.Errorf("shape %v is too large", t.Shape)
	}
	if want := blocks * t.Type.BlockBytes(); int64(len(t.Data)) != want {
		return fmt.Errorf("shape %v of %v takes %d bytes, data has %d", t.Shape, t.Type, want, len(t.Data))
	}
	return nil
}

// Close writes the file. For a Writer made by [Create] it then closes the
// file and moves it into place (or removes it after an error). Close is safe
// on a nil Writer and safe to call more than once; later calls return nil.
func (w *Writer) Close() error {
	if w == nil || w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.write()
	}
	if w.file == nil {
		return err
	}
	if cerr := w.file.Close(); err == nil && cerr != nil {
		err = w.fail("close", cerr)
	}
	if err == nil {
		if rerr := os.Rename(w.file.Name(), w.path); rerr != nil {
			err = w.fail("rename", rerr)
		}
	}
	if err != nil {
		os.Remove(w.file.Name())
	}
	return err
}

// write encodes the whole file to w.out.
func (w *Writer) write() error {
	bw := bufio.NewWriterSize(w.out, 1<<20)
	e := encoder{w: bw}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.string(kv.Key)
		e.value(kv.Value)
	}
	var offset int64
	for _, t := range w.tensors {
		e.string(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(offset))
		offset += alignUp(int64(len(t.Data)), w.alignment)
	}
	e.pad(w.alignment)
	for _, t := range w.tensors {
		e.bytes(t.Data)
		e.pad(w.alignment)
	}
	if e.err == nil {
		e.err = bw.Flush()
	}
	if e.err != nil {
		return w.fail("write", e.err)
	}
	return nil
}

// encoder writes little-endian GGUF fields, keeping the first error and the
// number of bytes written (for padding).
type encoder struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.n += int64(n)
	e.err = err
}

func (e *encoder) u8(v uint8) { e.bytes([]byte{v}) }

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}

func (e *encoder) string(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *encoder) pad(alignment int64) {
	if n := alignUp(e.n, alignment) - e.n; n > 0 {
		e.bytes(make([]byte, n))
	}
}

func (e *encoder) value(v Value) {
	e.u32(uint32(v.typ))
	if v.typ != ValueArray {
		e.scalar(v.v)
		return
	}
	e.u32(uint32(v.elem))
	e.u64(uint64(v.Len()))
	switch xs := v.v.(type) {
	case []uint8:
		encodeAll(e, xs)
	case []int8:
		encodeAll(e, xs)
	case []uint16:
		encodeAll(e, xs)
	case []int16:
		encodeAll(e, xs)
	case []uint32:
		encodeAll(e, xs)
	case []int32:
		encodeAll(e, xs)
	case []float32:
		encodeAll(e, xs)
	case []bool:
		encodeAll(e, xs)
	case []string:
		encodeAll(e, xs)
	case []uint64:
		encodeAll(e, xs)
	case []int64:
		encodeAll(e, xs)
	case []float64:
		encodeAll(e, xs)
	}
}

func encodeAll[T Scalar](e *encoder, xs []T) {
	for _, x := range xs {
		e.scalar(x)
	}
}

func (e *encoder) scalar(x any) {
	switch x := x.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.string(x)
	}
}
