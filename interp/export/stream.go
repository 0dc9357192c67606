package export

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// recordWriter writes Arrow records into a file: a Parquet row group or an
// Arrow IPC record batch each.
type recordWriter interface {
	Write(arrow.Record) error
	Close() error
}

// recordStream is what [ParquetWriter] and [IPCWriter] share: rows gather
// in a batch and go to the file a record at a time. A nil *recordStream
// acts as a closed one.
type recordStream struct {
	cfg    config
	fw     recordWriter
	record string // what a record is in the file, for errors
	batch  *batch
	rows   int64
	err    error // the first write error: the file is unusable after it
	closed bool
}

func newRecordStream(cfg config, schema *arrow.Schema, width int, fw recordWriter, record string) recordStream {
	return recordStream{cfg: cfg, fw: fw, record: record, batch: newBatch(schema, width, cfg.rows, cfg.extra, cfg.mem)}
}

func (s *recordStream) write(r *Row) error {
	if err := s.usable(); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	if err := s.batch.append(r); err != nil {
		return fmt.Errorf("export: write: %w", err)
	}
	s.rows++
	if s.batch.n >= s.cfg.rows {
		return s.flush()
	}
	return nil
}

func (s *recordStream) flush() error {
	if err := s.usable(); err != nil {
		return fmt.Errorf("export: flush: %w", err)
	}
	if s.batch.n == 0 {
		return nil
	}
	rec := s.batch.record()
	defer rec.Release()
	if err := s.fw.Write(rec); err != nil {
		s.err = fmt.Errorf("%s: %w", s.record, err)
		return fmt.Errorf("export: flush: %w", s.err)
	}
	return nil
}

// usable returns ErrClosed after Close and the write error that broke the
// file, if any.
func (s *recordStream) usable() error {
	if s == nil || s.closed {
		return ErrClosed
	}
	return s.err
}

func (s *recordStream) close() error {
	if s == nil || s.closed {
		return nil
	}
	err := s.flush()
	s.closed = true
	s.batch.release()
	if cerr := s.fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export: close: %w", cerr)
	}
	return err
}
