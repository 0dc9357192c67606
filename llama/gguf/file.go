package gguf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"strconv"
	"sync/atomic"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the alignment of tensor data when a file has no
// general.alignment key.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the alignment of tensor data.
const KeyAlignment = "general.alignment"

// File is a parsed and validated GGUF file: its metadata and tensor infos in
// memory, its tensor data on disk, read on demand.
//
// A File is safe for concurrent use by multiple goroutines, Close included.
type File struct {
	path       string
	r          io.ReaderAt
	file       *os.File // the file Open opened, closed by Close; nil for Read
	size       int64
	version    uint32
	alignment  int64
	dataOffset int64

	kvs              []KeyValue
	kvOffsets        []int64 // file offset of each key/value entry, for error messages
	keys             map[string]int
	tensors          []TensorInfo
	dataOffsetFields []int64 // file offset of each tensor's data offset field, for error messages
	names            map[string]int

	closed atomic.Bool
}

// TensorInfo describes one tensor of a [File].
type TensorInfo struct {
	Name string
	// Shape lists the dimensions in ggml order: Shape[0] (ne0) is the length
	// of a row, the dimension that varies fastest in memory.
	Shape  []int64
	Type   Type
	Offset int64 // absolute offset of the tensor's data in the file
	Size   int64 // bytes of tensor data
}

// Elements returns the number of elements of the tensor.
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Open opens, parses and validates the GGUF file at path. The file stays open
// for reading tensor data until [File.Close].
//
// A path that does not exist gives an error wrapping [fs.ErrNotExist]; every
// other failure is an [*Error] wrapping one of the sentinels.
func Open(path string) (*File, error) {
	osf, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in our message
		}
		return nil, &Error{Path: path, Offset: -1, What: "open", Err: err}
	}
	info, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, &Error{Path: path, Offset: -1, What: "stat", Err: err}
	}
	if info.IsDir() {
		osf.Close()
		return nil, &Error{Path: path, Offset: -1, What: "is a directory", Err: ErrNotGGUF}
	}
	f, err := read(path, osf, info.Size())
	if err != nil {
		osf.Close()
		return nil, err
	}
	f.file = osf
	return f, nil
}

// Read parses and validates a GGUF file of size bytes read through r, which
// must stay readable while the File is used. [File.Close] does not close r.
func Read(r io.ReaderAt, size int64) (*File, error) {
	return read("", r, size)
}

// Close releases the file opened by [Open]. It is safe on a nil File and
// safe to call more than once; later calls return nil.
func (f *File) Close() error {
	if f == nil || !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	if f.file == nil {
		return nil
	}
	if err := f.file.Close(); err != nil {
		return &Error{Path: f.path, Offset: -1, What: "close", Err: err}
	}
	return nil
}

// Path returns the path given to [Open], or "" for [Read].
func (f *File) Path() string { return f.path }

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return f.size }

// Version returns the GGUF version (2 or 3).
func (f *File) Version() uint32 { return f.version }

// Alignment returns the alignment of tensor data in bytes.
func (f *File) Alignment() int64 { return f.alignment }

// DataOffset returns the offset of the tensor data section in the file.
func (f *File) DataOffset() int64 { return f.dataOffset }

func read(path string, r io.ReaderAt, size int64) (*File, error) {
	if size <= 0 {
		return nil, &Error{Path: path, Offset: -1, What: "empty file", Err: ErrNotGGUF}
	}
	d := newDecoder(path, r, size)
	f := &File{path: path, r: r, size: size, keys: map[string]int{}, names: map[string]int{}}
	if err := f.readHeader(d); err != nil {
		return nil, err
	}
	if err := f.checkLlama(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) readHeader(d *decoder) error {
	if d.remaining() < 4 {
		return &Error{Path: d.path, Offset: 0, What: fmt.Sprintf("%d-byte file is too short for the magic", d.size), Err: ErrNotGGUF}
	}
	var magic [4]byte
	if _, err := io.ReadFull(d.br, magic[:]); err != nil {
		return d.ioError(err, "magic")
	}
	d.off = 4
	if string(magic[:]) != Magic {
		return &Error{Path: d.path, Offset: 0, What: fmt.Sprintf("magic %q is not %q", magic[:], Magic), Err: ErrNotGGUF}
	}

	off := d.off
	version, err := d.u32("version")
	if err != nil {
		return err
	}
	if err := checkVersion(version); err != nil {
		return &Error{Path: d.path, Offset: off, What: err.Error(), Err: ErrVersion}
	}
	f.version = version

	off = d.off
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return err
	}
	if err := d.count(off, nTensors, minTensorInfoSize, maxTensors, "tensor count", ""); err != nil {
		return err
	}
	off = d.off
	nKV, err := d.u64("key/value count")
	if err != nil {
		return err
	}
	// The tensor infos follow the metadata: they take some of the bytes left.
	avail := d.remaining() - int64(nTensors)*minTensorInfoSize
	if err := d.countIn(avail, off, nKV, minKeyValueSize, maxKeyValues, "key/value count", ""); err != nil {
		return err
	}

	for i := uint64(0); i < nKV; i++ {
		if err := f.readKeyValue(d); err != nil {
			return err
		}
	}
	if err := f.readAlignment(); err != nil {
		return err
	}
	for i := uint64(0); i < nTensors; i++ {
		if err := f.readTensorInfo(d); err != nil {
			return err
		}
	}
	return f.placeTensors(d)
}

func checkVersion(v uint32) error {
	switch {
	case v == 2 || v == 3:
		return nil
	case v == 1:
		return errors.New("version 1 is obsolete and no longer read")
	case v != 0 && v&0xFFFF == 0:
		return fmt.Errorf("version %d (%#x) looks byte-swapped: the file is big-endian", v, v)
	default:
		return fmt.Errorf("version %d is not 2 or 3", v)
	}
}

func (f *File) readKeyValue(d *decoder) error {
	start := d.off
	key, err := d.string(maxStringLen, "key")
	if err != nil {
		return err
	}
	if key == "" {
		// ggml asserts that keys are not empty: llama.cpp would abort.
		return d.corrupt(start, "key %d is empty", len(f.kvs))
	}
	if _, dup := f.keys[key]; dup {
		return d.corrupt(start, "duplicate key %q", key)
	}
	off := d.off
	raw, err := d.u32("value type of " + key)
	if err != nil {
		return err
	}
	t := ValueType(raw)
	var v Value
	switch {
	case t == ValueArray:
		off = d.off
		rawElem, err := d.u32("array type of " + key)
		if err != nil {
			return err
		}
		elem := ValueType(rawElem)
		if elem == ValueArray || elem.size() == 0 && elem != ValueString {
			return d.corrupt(off, "key %q: array element type %v is not a scalar type", key, elem)
		}
		off = d.off
		n, err := d.u64("array length of " + key)
		if err != nil {
			return err
		}
		minSize := elem.size()
		if elem == ValueString {
			minSize = 8
		}
		if err := d.count(off, n, minSize, maxArrayLen, "key "+strconv.Quote(key), ": array length"); err != nil {
			return err
		}
		xs, err := d.array(elem, n, "value of "+key)
		if err != nil {
			return err
		}
		v = Value{typ: ValueArray, elem: elem, v: xs}
	case t < valueTypeCount:
		x, err := d.scalar(t, "value of "+key)
		if err != nil {
			return err
		}
		v = Value{typ: t, v: x}
	default:
		return d.corrupt(off, "key %q: value type %v is unknown", key, t)
	}
	f.keys[key] = len(f.kvs)
	f.kvs = append(f.kvs, KeyValue{Key: key, Value: v})
	f.kvOffsets = append(f.kvOffsets, start)
	return nil
}

// readAlignment applies general.alignment. ggml reads it with
// gguf_get_val_u32, which asserts that it is a u32 scalar.
func (f *File) readAlignment() error {
	f.alignment = DefaultAlignment
	i, ok := f.keys[KeyAlignment]
	if !ok {
		return nil
	}
	v := f.kvs[i].Value
	a, ok := As[uint32](v)
	if !ok {
		return f.keyError(KeyAlignment, ErrCorrupt, "is %s, not u32 (llama.cpp would abort)", v.describe())
	}
	if a == 0 || a&(a-1) != 0 {
		return f.keyError(KeyAlignment, ErrCorrupt, "%d is not a power of two", a)
	}
	f.alignment = int64(a)
	return nil
}

func (f *File) readTensorInfo(d *decoder) error {
	start := d.off
	index := len(f.tensors)
	off := d.off
	n, err := d.u64("tensor name length")
	if err != nil {
		return err
	}
	if n > maxNameLen {
		return d.corrupt(off, "tensor %d: name length %d exceeds ggml's limit of %d", index, n, maxNameLen)
	}
	if err := d.count(off, n, 1, maxNameLen, "tensor name", " length"); err != nil {
		return err
	}
	nameBytes := make([]byte, n)
	if _, err := io.ReadFull(d.br, nameBytes); err != nil {
		return d.ioError(err, "tensor name")
	}
	d.off += int64(n)
	name := string(nameBytes)
	if name == "" {
		// ggml would accept it, but no model has one and llama.cpp could not use it.
		return d.corrupt(start, "tensor %d has an empty name", index)
	}
	for _, c := range nameBytes {
		if c == 0 {
			// ggml keeps names as C strings: "a\x00b" would become "a".
			return d.corrupt(start, "tensor %d: name %q contains a NUL byte", index, name)
		}
	}
	if j, dup := f.names[name]; dup {
		return d.corrupt(start, "tensor %d: duplicate tensor name %q (also tensor %d)", index, name, j)
	}

	off = d.off
	nDims, err := d.u32("dimension count of tensor " + name)
	if err != nil {
		return err
	}
	if nDims < 1 || nDims > maxDims {
		return d.corrupt(off, "tensor %q: %d dimensions, want 1 to %d", name, nDims, maxDims)
	}
	shape := make([]int64, nDims)
	elements := uint64(1)
	for j := range shape {
		off = d.off
		ne, err := d.u64("shape of tensor " + name)
		if err != nil {
			return err
		}
		// ggml divides by every dimension: a zero would crash it.
		if ne == 0 || ne > math.MaxInt64 {
			return d.corrupt(off, "tensor %q: dimension %d is %d, want > 0", name, j, int64(ne))
		}
		hi, lo := bits.Mul64(elements, ne)
		if hi != 0 || lo >= math.MaxInt64 {
			return d.corrupt(off, "tensor %q: element count overflows with dimension %d = %d", name, j, ne)
		}
		elements = lo
		shape[j] = int64(ne)
	}

	off = d.off
	rawType, err := d.u32("type of tensor " + name)
	if err != nil {
		return err
	}
	typ := Type(rawType)
	if !typ.Valid() {
		return d.corrupt(off, "tensor %q: type %d is not a ggml type", name, rawType)
	}
	if shape[0]%typ.BlockSize() != 0 {
		return d.corrupt(off, "tensor %q: row length %d is not a multiple of %v's block size %d", name, shape[0], typ, typ.BlockSize())
	}
	hi, size := bits.Mul64(elements/uint64(typ.BlockSize()), uint64(typ.BlockBytes()))
	if hi != 0 || size > math.MaxInt64 {
		return d.corrupt(off, "tensor %q: size in bytes overflows", name)
	}

	off = d.off
	rel, err := d.u64("data offset of tensor " + name)
	if err != nil {
		return err
	}
	if rel > math.MaxInt64 {
		return d.corrupt(off, "tensor %q: data offset %d is out of range", name, rel)
	}
	f.names[name] = index
	// Offset holds the offset relative to the data section until placeTensors
	// knows where that section starts.
	f.tensors = append(f.tensors, TensorInfo{Name: name, Shape: shape, Type: typ, Offset: int64(rel), Size: int64(size)})
	f.dataOffsetFields = append(f.dataOffsetFields, off)
	return nil
}

// placeTensors turns the tensors' offsets into absolute file offsets and
// checks them the way ggml does: each tensor's data starts at an aligned
// offset exactly where the previous tensor's padded data ends, and lies
// within the file.
func (f *File) placeTensors(d *decoder) error {
	f.dataOffset = alignUp(d.off, f.alignment)
	var next int64 // where ggml expects the next tensor's data, relative to the data section
	for i := range f.tensors {
		t := &f.tensors[i]
		rel, field := t.Offset, f.dataOffsetFields[i]
		switch {
		case rel%f.alignment != 0:
			return d.corrupt(field, "tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, rel, f.alignment)
		case rel < next:
			return d.corrupt(field, "tensor %q: data offset %d overlaps tensor %q, whose data ends at %d", t.Name, rel, f.tensors[i-1].Name, next)
		case rel > next:
			return d.corrupt(field, "tensor %q: data offset %d leaves a gap after the previous tensor's data, which ends at %d", t.Name, rel, next)
		}
		if rel > f.size-f.dataOffset || t.Size > f.size-f.dataOffset-rel {
			return d.truncated(field, "tensor %q: data [%d, +%d) runs past the end of the %s file", t.Name, f.dataOffset+rel, t.Size, humanSize(f.size))
		}
		t.Offset = f.dataOffset + rel
		next = rel + alignUp(t.Size, f.alignment)
	}
	return nil
}

// alignUp rounds n up to a multiple of the power of two a.
func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }

// keyError returns an error about the metadata entry key, located at the
// entry's offset when the key is present.
func (f *File) keyError(key string, sentinel error, format string, args ...any) *Error {
	off := int64(-1)
	if i, ok := f.keys[key]; ok {
		off = f.kvOffsets[i]
	}
	return &Error{Path: f.path, Offset: off, What: "key " + strconv.Quote(key) + " " + fmt.Sprintf(format, args...), Err: sentinel}
}
