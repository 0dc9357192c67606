package export

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// ErrClosed is returned by writes to a closed writer.
var ErrClosed = errors.New("writer closed")

// ParquetWriter streams rows into a Parquet file, one row group at a time:
// it holds at most one row group's rows in memory (see [WithRowGroupRows]).
// The values column is a list of float32 (DuckDB's FLOAT[], a NumPy array
// per row in pandas), since Parquet has no fixed-size list. A ParquetWriter
// is not safe for concurrent use.
type ParquetWriter struct{ s recordStream }

// NewParquetWriter starts a Parquet file on w for activations of width
// values (0: of any length, stored as list<float32>). The file is complete
// once Close returns; Close does not close w.
func NewParquetWriter(w io.Writer, width int, opts ...Option) (*ParquetWriter, error) {
	cfg, err := newConfig(width, opts)
	if err != nil {
		return nil, fmt.Errorf("export: new parquet writer: %w", err)
	}
	// Parquet has no fixed-size list: a fixed_size_list column is stored as
	// a list anyway, and Arrow Go v17 writes its values as nulls
	// (apache/arrow-go#584). Every row still holds width values.
	schema, err := newSchema(width, false, cfg.extra)
	if err != nil {
		return nil, fmt.Errorf("export: new parquet writer: %w", err)
	}
	codec := map[Compression]compress.Compression{
		CompressionNone:   compress.Codecs.Uncompressed,
		CompressionSnappy: compress.Codecs.Snappy,
		CompressionZstd:   compress.Codecs.Zstd,
	}[cfg.compression]
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(cfg.mem),
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(int64(cfg.rows)),
		// The strings repeat (run, hook, and a trace's sub-call columns):
		// dictionaries store each once. Floats do not.
		parquet.WithDictionaryDefault(true),
		parquet.WithDictionaryFor(ColumnValues+".list.element", false),
		parquet.WithStatsFor(ColumnValues+".list.element", false),
		parquet.WithCreatedBy("github.com/go-rlm/rlm/interp/export"),
	)
	// A Closer passed to the Parquet library would be closed with the file.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(cfg.mem)))
	if err != nil {
		return nil, fmt.Errorf("export: new parquet writer: %w", err)
	}
	return &ParquetWriter{newRecordStream(cfg, schema, width, fw, "row group")}, nil
}

// Write adds a row. Rows are written out a row group at a time. A row that
// does not fit the schema is refused with an error wrapping [ErrSchema]
// and the writer goes on; an error of the underlying writer is final.
func (pw *ParquetWriter) Write(r Row) error { return pw.stream().write(&r) }

// Flush writes the rows held so far as a row group (none when no row is
// held).
func (pw *ParquetWriter) Flush() error { return pw.stream().flush() }

// Rows is the number of rows written so far.
func (pw *ParquetWriter) Rows() int64 { return pw.s.rows }

// Close writes the remaining rows and the file's footer. It is safe to call
// more than once and on nil; later calls return nil.
func (pw *ParquetWriter) Close() error { return pw.stream().close() }

func (pw *ParquetWriter) stream() *recordStream {
	if pw == nil {
		return nil
	}
	return &pw.s
}

// ReadParquet calls fn with every row of a Parquet file written by
// [ParquetWriter], in order, reading one row group at a time. The Row and
// its slices are only valid during the call: copy what you keep. An error
// from fn stops the reading and is returned.
func ReadParquet(ctx context.Context, r parquet.ReaderAtSeeker, fn func(*Row) error) error {
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return fmt.Errorf("export: read parquet: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("export: read parquet: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("export: read parquet: %w", err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := rowsOf(rr.Record(), fn); err != nil {
			return readError("read parquet", err)
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("export: read parquet: %w", err)
	}
	return nil
}

// readError wraps the package's own schema errors, and passes fn's errors
// through as they are.
func readError(op string, err error) error {
	if errors.Is(err, ErrSchema) {
		return fmt.Errorf("export: %s: %w", op, err)
	}
	return err
}
