package oolong

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// NewParquetReader returns a Reader of the Parquet file r, such as a shard of
// the Hub's automatic Parquet conversion of the dataset (see
// [ParquetRevision] and [ParquetShards]). It reads only the dataset's
// columns, [WithParquetBatchRows] rows at a time, streaming each column's
// pages rather than loading whole column chunks. The caller closes r.
func NewParquetReader(r parquet.ReaderAtSeeker, opts ...Option) (*Reader, error) {
	cfg := newReaderConfig(opts)
	src, err := newParquetSource(r, nil, &cfg)
	if err != nil {
		return nil, fmt.Errorf("oolong: open parquet: %w", err)
	}
	return &Reader{cfg: cfg, src: src}, nil
}

// parquetColumns are the dataset's columns, in the order of the fields of
// parquetSource.cols.
var parquetColumns = []string{
	"id", "context_window_id", "context_window_text", "question",
	"answer", "question_type", "episodes", "campaign",
}

const (
	colID = iota
	colWindowID
	colText
	colQuestion
	colAnswer
	colQuestionType
	colEpisodes
	colCampaign
)

type parquetSource struct {
	counter *countingReaderAt
	file    *file.Reader
	records pqarrow.RecordReader
	closer  io.Closer

	record arrow.Record
	row    int   // next row of record
	cols   []int // record column of each parquetColumns entry, -1 if absent

	current  string // the current row's text, aliasing record
	prevText string
	hasPrev  bool
}

func newParquetSource(r parquet.ReaderAtSeeker, closer io.Closer, cfg *readerConfig) (*parquetSource, error) {
	counter := &countingReaderAt{r: r}
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	// Stream each column chunk page by page: a row group of this dataset
	// holds gigabytes of context windows.
	props.BufferedStreamEnabled = true
	props.BufferSize = 256 << 10
	pf, err := file.NewParquetReader(counter, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	s := &parquetSource{counter: counter, file: pf, closer: closer}
	// Read only the leaves of the dataset's columns (the converter may add
	// others).
	var leaves []int
	schema := pf.MetaData().Schema
	for i := range schema.NumColumns() {
		root := schema.Column(i).ColumnPath()[0]
		for _, name := range parquetColumns {
			if root == name {
				leaves = append(leaves, i)
			}
		}
	}
	if len(leaves) == 0 {
		pf.Close()
		return nil, fmt.Errorf("no OOLONG columns (%s): %w", strings.Join(parquetColumns, ", "), ErrFormat)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(cfg.batchRows)}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	records, err := fr.GetRecordReader(context.Background(), leaves, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	s.records = records
	s.cols = make([]int, len(parquetColumns))
	for i, name := range parquetColumns {
		s.cols[i] = -1
		if idx := records.Schema().FieldIndices(name); len(idx) > 0 {
			s.cols[i] = idx[0]
		}
	}
	if s.cols[colText] < 0 {
		s.close()
		return nil, fmt.Errorf("no context_window_text column: %w", ErrFormat)
	}
	return s, nil
}

func (s *parquetSource) next(ctx context.Context, e *Example) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for s.record == nil || s.row >= int(s.record.NumRows()) {
		if s.record != nil {
			s.record.Release()
			s.record = nil
		}
		if !s.records.Next() {
			if err := s.records.Err(); err != nil && err != io.EOF {
				return err
			}
			return io.EOF
		}
		s.record = s.records.Record()
		s.record.Retain()
		s.row = 0
	}
	row := s.row
	s.row++
	var err error
	field := func(col int) string {
		if err != nil || s.cols[col] < 0 {
			return ""
		}
		var v string
		v, err = stringAt(s.record.Column(s.cols[col]), row)
		if err != nil {
			err = fmt.Errorf("column %s: %w", parquetColumns[col], err)
		}
		return v
	}
	*e = Example{
		ID:              strings.Clone(field(colID)),
		ContextWindowID: strings.Clone(field(colWindowID)),
		Question:        strings.Clone(field(colQuestion)),
		Answer:          strings.Clone(field(colAnswer)),
		QuestionType:    QuestionType(strings.Clone(field(colQuestionType))),
		Campaign:        strings.Clone(field(colCampaign)),
	}
	s.current = field(colText) // copied by text() when new
	if err != nil {
		return err
	}
	if c := s.cols[colEpisodes]; c >= 0 {
		if e.Episodes, err = intsAt(s.record.Column(c), row); err != nil {
			return fmt.Errorf("column episodes: %w", err)
		}
	}
	return nil
}

func (s *parquetSource) text() (string, bool, error) {
	if s.hasPrev && s.current == s.prevText {
		return s.prevText, true, nil
	}
	// Copy out of the record so that a row kept by the caller does not pin
	// a whole batch.
	s.prevText, s.hasPrev = strings.Clone(s.current), true
	return s.prevText, false, nil
}

func (s *parquetSource) bytesRead() int64 { return s.counter.n.Load() }

func (s *parquetSource) close() error {
	if s.record != nil {
		s.record.Release()
		s.record = nil
	}
	if s.records != nil {
		s.records.Release()
		s.records = nil
	}
	err := s.file.Close()
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// stringAt returns row i of a string column, or the text of a number (the
// answer column of a converted file can be numeric).
func stringAt(a arrow.Array, i int) (string, error) {
	if a.IsNull(i) {
		return "", nil
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return string(a.Value(i)), nil
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), nil
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	}
	return "", fmt.Errorf("type %s is not a string: %w", a.DataType(), ErrFormat)
}

// intsAt returns row i of a list-of-integers column.
func intsAt(a arrow.Array, i int) ([]int, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	list, ok := a.(array.ListLike)
	if !ok {
		return nil, fmt.Errorf("type %s is not a list: %w", a.DataType(), ErrFormat)
	}
	start, end := list.ValueOffsets(i)
	out := make([]int, 0, end-start)
	switch v := list.ListValues().(type) {
	case *array.Int64:
		for j := start; j < end; j++ {
			out = append(out, int(v.Value(int(j))))
		}
	case *array.Int32:
		for j := start; j < end; j++ {
			out = append(out, int(v.Value(int(j))))
		}
	default:
		return nil, fmt.Errorf("type %s is not a list of integers: %w", a.DataType(), ErrFormat)
	}
	return out, nil
}

// countingReaderAt counts the bytes read through it, for [Stats].
type countingReaderAt struct {
	r parquet.ReaderAtSeeker
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReaderAt) Seek(offset int64, whence int) (int64, error) {
	return c.r.Seek(offset, whence)
}
