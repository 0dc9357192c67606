package gguf

import (
	"errors"
	"io"
	"os"
	"strconv"
)

// tensor returns the info of name, or an error when it is absent or the File
// is closed.
func (f *File) tensor(name string) (TensorInfo, error) {
	if f.closed.Load() {
		return TensorInfo{}, &Error{Path: f.path, Offset: -1, What: "tensor " + strconv.Quote(name), Err: ErrClosed}
	}
	i, ok := f.names[name]
	if !ok {
		return TensorInfo{}, &Error{Path: f.path, Offset: -1, What: "tensor " + strconv.Quote(name), Err: ErrTensorNotFound}
	}
	return f.tensors[i], nil
}

// TensorReader returns a reader of the raw bytes of the tensor called name.
// It reads through the File: it fails once the File is closed.
func (f *File) TensorReader(name string) (*io.SectionReader, error) {
	t, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, t.Offset, t.Size), nil
}

// TensorData returns the raw bytes of the tensor called name, as stored (for
// a quantized type, its blocks).
func (f *File) TensorData(name string) ([]byte, error) {
	t, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	data := make([]byte, t.Size)
	if _, err := f.r.ReadAt(data, t.Offset); err != nil {
		switch {
		case errors.Is(err, os.ErrClosed):
			err = ErrClosed
		case errors.Is(err, io.EOF):
			// The file shrank since it was validated.
			err = ErrTruncated
		}
		return nil, &Error{Path: f.path, Offset: t.Offset, What: "reading tensor " + strconv.Quote(name), Err: err}
	}
	return data, nil
}

// TensorFloat32 returns the elements of the tensor called name as float32,
// dequantizing them as ggml does (see [Dequantize] for the types supported).
// Elements are in ggml order: row after row, each row Shape[0] long.
func (f *File) TensorFloat32(name string) ([]float32, error) {
	t, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	if !CanDequantize(t.Type) {
		return nil, &Error{Path: f.path, Offset: t.Offset, What: "tensor " + strconv.Quote(name) + " of type " + t.Type.String(), Err: ErrUnsupportedType}
	}
	data, err := f.TensorData(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Elements())
	if err := Dequantize(out, t.Type, data); err != nil {
		return nil, &Error{Path: f.path, Offset: t.Offset, What: "tensor " + strconv.Quote(name), Err: err}
	}
	return out, nil
}
