package gguf

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this package returns about a file is an
// [*Error] whose Err is (or wraps) one of these, so callers test the kind of
// failure with errors.Is and read the details with errors.As.
var (
	// ErrNotGGUF: the path is empty, a directory, or does not start with the
	// GGUF magic.
	ErrNotGGUF = errors.New("not a GGUF file")
	// ErrVersion: the file is GGUF but of a version this package does not
	// read (only versions 2 and 3 are read; version 1 is obsolete).
	ErrVersion = errors.New("unsupported GGUF version")
	// ErrTruncated: the file ends before its header, metadata or tensor data do.
	ErrTruncated = errors.New("file is truncated")
	// ErrCorrupt: the file is complete but not valid: absurd counts or
	// lengths, unknown types, bad shapes, misaligned or overlapping tensors,
	// or metadata that would make llama.cpp abort.
	ErrCorrupt = errors.New("file is corrupt")
	// ErrSplit: a split model is inconsistent or one of its parts is missing.
	ErrSplit = errors.New("split model is inconsistent")
	// ErrKeyNotFound: a metadata key asked for is absent.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyType: a metadata key holds a value of another type than asked for.
	ErrKeyType = errors.New("key has another type")
	// ErrTensorNotFound: a tensor asked for is absent.
	ErrTensorNotFound = errors.New("tensor not found")
	// ErrUnsupportedType: a tensor type has no pure-Go dequantization or
	// encoding here.
	ErrUnsupportedType = errors.New("tensor type not supported")
	// ErrClosed: the [File] was closed.
	ErrClosed = errors.New("file is closed")
)

// Error describes a failure to read, validate or write a GGUF file.
//
// Its message reads
//
//	gguf: /path/model.gguf: offset 24: tensor count 9223372036854775807 exceeds what a 1 KiB file can hold: file is corrupt
//
// where the offset part is left out when Offset is negative and the path part
// when Path is empty (a reader without a name).
type Error struct {
	Path   string // the file, or "" when reading an unnamed io.ReaderAt
	Offset int64  // byte offset the problem was found at, or -1 when none applies
	What   string // what went wrong, in words
	Err    error  // one of the sentinels above, or an I/O error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gguf: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Offset >= 0 {
		b.WriteString("offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteString(": ")
	}
	b.WriteString(e.What)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
