package oolong

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
)

// ErrFormat is wrapped by the errors about a file's format: an unknown file
// extension, a malformed JSONL row, a Parquet file without the dataset's
// columns.
var ErrFormat = errors.New("malformed or unsupported data")

// source is one file of rows: JSONL or Parquet.
type source interface {
	// next reads the next row into e, all fields but the context window
	// text, and returns io.EOF after the last row.
	next(ctx context.Context, e *Example) error
	// text returns the current row's context window text, and whether it is
	// the very string the previous call returned (same content).
	text() (text string, same bool, err error)
	// bytesRead is how many bytes of input the source has consumed.
	bytesRead() int64
	close() error
}

// Stats counts what a [Reader] has read.
type Stats struct {
	Rows     int   // rows read
	Returned int   // rows that passed the filters and were returned
	Windows  int   // distinct context windows decoded (consecutive equal ones count once)
	Bytes    int64 // bytes of input consumed
}

// Reader streams the rows of an OOLONG-real split, filtering them as it
// reads. It never holds the split: for JSONL it holds one line and the last
// context window it decoded (raw and decoded: about three times the longest
// row); for Parquet one batch of rows ([WithParquetBatchRows]) and a page
// per column. Rows that share a context window with the row before get the
// same string, without a copy.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	cfg     readerConfig
	src     source
	pending []func() (source, error) // sources not opened yet (OpenAll)
	name    string                   // of the current source, for errors
	names   []string
	stats   Stats
	done    int64 // bytes of the sources already finished

	lastLength int
	haveLength bool
	closed     bool
}

// NewReader returns a Reader of the JSON Lines in r, the format of the
// dataset's files on the Hub (dnd/test.jsonl, ...).
func NewReader(r io.Reader, opts ...Option) *Reader {
	return &Reader{cfg: newReaderConfig(opts), src: newJSONLSource(r, nil)}
}

// Open returns a Reader of the named file, chosen by its extension: JSON
// Lines for .jsonl or .json (optionally gzip-compressed, .jsonl.gz), Parquet
// for .parquet. The Reader closes the file when closed.
func Open(name string, opts ...Option) (*Reader, error) {
	return OpenAll([]string{name}, opts...)
}

// OpenAll returns a Reader of the named files one after the other, each
// opened as [Open] does when the previous one is exhausted: for instance the
// Parquet shards of one split.
func OpenAll(names []string, opts ...Option) (*Reader, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("oolong: open: no files")
	}
	r := &Reader{cfg: newReaderConfig(opts), names: names}
	for _, name := range names {
		if _, err := formatOf(name); err != nil {
			return nil, err
		}
		r.pending = append(r.pending, func() (source, error) { return openSource(name, &r.cfg) })
	}
	if err := r.advance(); err != nil {
		return nil, err
	}
	return r, nil
}

type format int

const (
	formatJSONL format = iota
	formatJSONLGzip
	formatParquet
)

func formatOf(name string) (format, error) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".json"):
		return formatJSONL, nil
	case strings.HasSuffix(lower, ".jsonl.gz"), strings.HasSuffix(lower, ".json.gz"):
		return formatJSONLGzip, nil
	case strings.HasSuffix(lower, ".parquet"):
		return formatParquet, nil
	}
	return 0, fmt.Errorf("oolong: open %s: want a .jsonl, .jsonl.gz or .parquet file: %w", name, ErrFormat)
}

func openSource(name string, cfg *readerConfig) (source, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("oolong: open: %w", err)
	}
	kind, _ := formatOf(name)
	switch kind {
	case formatJSONLGzip:
		z, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("oolong: open %s: %w", name, err)
		}
		return newJSONLSource(z, f), nil
	case formatParquet:
		src, err := newParquetSource(f, f, cfg)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("oolong: open %s: %w", name, err)
		}
		return src, nil
	default:
		return newJSONLSource(f, f), nil
	}
}

// advance closes the current source and opens the next pending one.
func (r *Reader) advance() error {
	if r.src != nil {
		r.done += r.src.bytesRead()
		err := r.src.close()
		r.src = nil
		if err != nil {
			return fmt.Errorf("oolong: close %s: %w", r.name, err)
		}
	}
	if len(r.pending) == 0 {
		return io.EOF
	}
	open := r.pending[0]
	r.pending = r.pending[1:]
	r.name = r.names[len(r.names)-len(r.pending)-1]
	src, err := open()
	if err != nil {
		return err
	}
	r.src = src
	return nil
}

// Read returns the next row that passes the filters, or io.EOF after the
// last one.
func (r *Reader) Read(ctx context.Context) (Example, error) {
	if r.closed {
		return Example{}, fmt.Errorf("oolong: read: %w", os.ErrClosed)
	}
	for {
		if r.src == nil {
			return Example{}, io.EOF
		}
		var e Example
		err := r.src.next(ctx, &e)
		if errors.Is(err, io.EOF) {
			if err := r.advance(); err != nil {
				return Example{}, err
			}
			continue
		}
		if err != nil {
			return Example{}, r.wrap(err)
		}
		r.stats.Rows++
		if !r.cfg.keepHeader(&e) {
			continue
		}
		text, same, err := r.src.text()
		if err != nil {
			return Example{}, r.wrap(err)
		}
		if !same {
			r.stats.Windows++
			r.haveLength = false
		}
		if r.cfg.filtersLength() {
			if !r.haveLength {
				r.lastLength, r.haveLength = r.cfg.length(text), true
			}
			if !r.cfg.keepLength(r.lastLength) {
				continue
			}
		}
		e.ContextWindowText = text
		r.stats.Returned++
		return e, nil
	}
}

func (r *Reader) wrap(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if r.name != "" {
		return fmt.Errorf("oolong: read %s: %w", r.name, err)
	}
	return fmt.Errorf("oolong: read: %w", err)
}

// All returns an iterator over the rows that pass the filters. It stops
// after the last row, or after yielding the first error (with a zero
// Example).
func (r *Reader) All(ctx context.Context) iter.Seq2[Example, error] {
	return func(yield func(Example, error) bool) {
		for {
			e, err := r.Read(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// Stats returns what the Reader has read so far.
func (r *Reader) Stats() Stats {
	s := r.stats
	s.Bytes = r.done
	if r.src != nil {
		s.Bytes += r.src.bytesRead()
	}
	return s
}

// Close closes the file the Reader reads, if it opened it. It is safe to call
// more than once, and on a nil Reader.
func (r *Reader) Close() error {
	if r == nil || r.closed {
		return nil
	}
	r.closed = true
	r.pending = nil
	if r.src == nil {
		return nil
	}
	err := r.src.close()
	r.done += r.src.bytesRead()
	r.src = nil
	if err != nil {
		return fmt.Errorf("oolong: close %s: %w", r.name, err)
	}
	return nil
}
