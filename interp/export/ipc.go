package export

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// IPCWriter streams rows into an Arrow IPC file (the random-access "Feather
// v2" format), one record batch at a time, with the same columns as
// [ParquetWriter] but values as fixed_size_list<float32>[width] (when width
// is not 0): it holds at most one batch of rows in memory (see
// [WithRowGroupRows]). An IPCWriter is not safe for concurrent use.
type IPCWriter struct{ s recordStream }

// NewIPCWriter starts an Arrow IPC file on w for activations of width
// values (0: of any length). Only CompressionNone and CompressionZstd apply.
// The file is complete once Close returns; Close does not close w.
func NewIPCWriter(w io.Writer, width int, opts ...Option) (*IPCWriter, error) {
	cfg, err := newConfig(width, opts)
	if err != nil {
		return nil, fmt.Errorf("export: new ipc writer: %w", err)
	}
	schema, err := newSchema(width, true, cfg.extra)
	if err != nil {
		return nil, fmt.Errorf("export: new ipc writer: %w", err)
	}
	ipcOpts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(cfg.mem)}
	switch cfg.compression {
	case CompressionNone:
	case CompressionZstd:
		ipcOpts = append(ipcOpts, ipc.WithZstd())
	default:
		return nil, fmt.Errorf("export: new ipc writer: Arrow IPC files cannot use %v compression", cfg.compression)
	}
	fw, err := ipc.NewFileWriter(&tellWriter{w: w}, ipcOpts...)
	if err != nil {
		return nil, fmt.Errorf("export: new ipc writer: %w", err)
	}
	return &IPCWriter{newRecordStream(cfg, schema, width, fw, "record batch")}, nil
}

// Write adds a row; see [ParquetWriter.Write].
func (iw *IPCWriter) Write(r Row) error { return iw.stream().write(&r) }

// Flush writes the rows held so far as a record batch (none when no row is
// held).
func (iw *IPCWriter) Flush() error { return iw.stream().flush() }

// Rows is the number of rows written so far.
func (iw *IPCWriter) Rows() int64 { return iw.s.rows }

// Close writes the remaining rows and the file's footer. It is safe to call
// more than once and on nil; later calls return nil.
func (iw *IPCWriter) Close() error { return iw.stream().close() }

func (iw *IPCWriter) stream() *recordStream {
	if iw == nil {
		return nil
	}
	return &iw.s
}

// tellWriter gives the IPC file writer the one Seek it makes, to learn where
// the file starts, on a plain io.Writer.
type tellWriter struct {
	w   io.Writer
	pos int64
}

func (t *tellWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.pos += int64(n)
	return n, err
}

func (t *tellWriter) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekCurrent {
		return t.pos, errors.New("export: the IPC writer's output cannot seek")
	}
	return t.pos, nil
}

// ReadIPC calls fn with every row of an Arrow IPC file written by
// [IPCWriter], in order, reading one record batch at a time; see
// [ReadParquet].
func ReadIPC(r ipc.ReadAtSeeker, fn func(*Row) error) error {
	fr, err := ipc.NewFileReader(r, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("export: read ipc: %w", err)
	}
	defer fr.Close()
	for i := range fr.NumRecords() {
		rec, err := fr.Record(i)
		if err != nil {
			return fmt.Errorf("export: read ipc: %w", err)
		}
		if err := rowsOf(rec, fn); err != nil {
			return readError("read ipc", err)
		}
	}
	return nil
}
