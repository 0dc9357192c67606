package export

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Row is one activation vector and where it was taken: one row of the files
// this package writes.
type Row struct {
	Run      string // names the run the activation comes from
	Hook     string // the hook point, e.g. "blocks.3.hook_resid_post" or "l_out-3"
	Layer    int    // the layer of the hook point, -1 for none
	Sequence int64  // the sequence (prompt) the token belongs to
	Position int    // the token's position in its sequence, from 0
	TokenID  int    // the token at that position
	// TokenText is the token's text. Strings are stored as UTF-8, as
	// Parquet readers demand: each run of bytes that are not valid UTF-8
	// (a byte-level token can be part of a character) is stored as one
	// U+FFFD, as strings.ToValidUTF8 does; TokenID stays exact.
	TokenText string
	Values    []float32 // the activation
	// Extra holds the values of the columns declared with [WithColumns],
	// in their order: a string for a [String] column, an int64 or int for
	// an [Int64] column, or nil for null.
	Extra []any
}

// ColumnType is the type of an extra column.
type ColumnType int

// The types of extra columns.
const (
	String ColumnType = iota // UTF-8 text
	Int64                    // 64-bit signed integer
)

func (t ColumnType) String() string {
	switch t {
	case String:
		return "string"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("ColumnType(%d)", int(t))
}

// Column declares an extra column, nullable, after the fixed ones.
type Column struct {
	Name string
	Type ColumnType
}

// The names of the fixed columns, in order.
const (
	ColumnRun       = "run"
	ColumnHook      = "hook"
	ColumnLayer     = "layer"
	ColumnSequence  = "sequence"
	ColumnPosition  = "position"
	ColumnTokenID   = "token_id"
	ColumnTokenText = "token_text"
	ColumnValues    = "values"
)

var fixedColumns = []string{ColumnRun, ColumnHook, ColumnLayer, ColumnSequence, ColumnPosition, ColumnTokenID, ColumnTokenText, ColumnValues}

// ErrSchema is wrapped by errors about a row or a file that does not fit
// the schema: values of the wrong length, extra values of the wrong type or
// number, a file without the fixed columns.
var ErrSchema = errors.New("does not fit the schema")

// newSchema returns the Arrow schema of the files written for width and the
// extra columns: run, hook (string), layer (int32), sequence (int64),
// position and token_id (int32), token_text (string), values, then the
// extra columns. Only the extra columns are nullable. Values are
// fixed_size_list<float32>[width] when fixed is set and width is not 0,
// else list<float32>.
func newSchema(width int, fixed bool, extra []Column) (*arrow.Schema, error) {
	if width < 0 {
		return nil, fmt.Errorf("%w: negative width %d", ErrSchema, width)
	}
	element := arrow.Field{Name: "element", Type: arrow.PrimitiveTypes.Float32}
	var values arrow.DataType = arrow.ListOfField(element)
	if fixed && width > 0 {
		values = arrow.FixedSizeListOfField(int32(width), element)
	}
	fields := []arrow.Field{
		{Name: ColumnRun, Type: arrow.BinaryTypes.String},
		{Name: ColumnHook, Type: arrow.BinaryTypes.String},
		{Name: ColumnLayer, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColumnSequence, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColumnPosition, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColumnTokenID, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColumnTokenText, Type: arrow.BinaryTypes.String},
		{Name: ColumnValues, Type: values},
	}
	seen := map[string]bool{}
	for _, name := range fixedColumns {
		seen[name] = true
	}
	for _, c := range extra {
		if c.Name == "" || seen[c.Name] {
			return nil, fmt.Errorf("%w: extra column %q: empty or taken name", ErrSchema, c.Name)
		}
		seen[c.Name] = true
		var t arrow.DataType
		switch c.Type {
		case String:
			t = arrow.BinaryTypes.String
		case Int64:
			t = arrow.PrimitiveTypes.Int64
		default:
			return nil, fmt.Errorf("%w: extra column %q of unknown type %v", ErrSchema, c.Name, c.Type)
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: t, Nullable: true})
	}
	return arrow.NewSchema(fields, nil), nil
}

// batch collects rows into Arrow builders until they are taken as a
// record.
type batch struct {
	width int // of every row, 0 when it varies
	rows  int // rows per record
	extra []Column
	b     *array.RecordBuilder
	n     int // rows appended since the last record

	run, hook, text *array.StringBuilder
	layer, pos, tok *array.Int32Builder
	seq             *array.Int64Builder
	floats          *array.Float32Builder
	fixed           *array.FixedSizeListBuilder // values of fixed_size_list type
	list            *array.ListBuilder          // values of list type
}

func newBatch(schema *arrow.Schema, width, rows int, extra []Column, mem memory.Allocator) *batch {
	b := array.NewRecordBuilder(mem, schema)
	bt := &batch{
		width: width, rows: rows, extra: extra, b: b,
		run:   b.Field(0).(*array.StringBuilder),
		hook:  b.Field(1).(*array.StringBuilder),
		layer: b.Field(2).(*array.Int32Builder),
		seq:   b.Field(3).(*array.Int64Builder),
		pos:   b.Field(4).(*array.Int32Builder),
		tok:   b.Field(5).(*array.Int32Builder),
		text:  b.Field(6).(*array.StringBuilder),
	}
	switch f := b.Field(7).(type) {
	case *array.FixedSizeListBuilder:
		bt.fixed = f
		bt.floats = f.ValueBuilder().(*array.Float32Builder)
	case *array.ListBuilder:
		bt.list = f
		bt.floats = f.ValueBuilder().(*array.Float32Builder)
	}
	bt.reserve()
	return bt
}

// reserve sizes the builders for a full batch up front: growing them by
// doubling would allocate twice the values and copy them on the way.
func (bt *batch) reserve() {
	bt.b.Reserve(bt.rows)
	bt.floats.Reserve(bt.rows * bt.width)
}

// check reports whether r fits the schema, before anything is appended, so
// that a bad row leaves the batch as it was.
func (bt *batch) check(r *Row) error {
	if bt.width > 0 && len(r.Values) != bt.width {
		return fmt.Errorf("%w: %d values, the file's width is %d", ErrSchema, len(r.Values), bt.width)
	}
	if len(r.Extra) != len(bt.extra) {
		return fmt.Errorf("%w: %d extra values for %d extra columns", ErrSchema, len(r.Extra), len(bt.extra))
	}
	for i, v := range r.Extra {
		ok := v == nil
		switch v.(type) {
		case string:
			ok = bt.extra[i].Type == String
		case int64, int:
			ok = bt.extra[i].Type == Int64
		}
		if !ok {
			return fmt.Errorf("%w: column %q (%v) given a %T", ErrSchema, bt.extra[i].Name, bt.extra[i].Type, v)
		}
	}
	return nil
}

func (bt *batch) append(r *Row) error {
	if err := bt.check(r); err != nil {
		return err
	}
	bt.run.Append(validUTF8(r.Run))
	bt.hook.Append(validUTF8(r.Hook))
	bt.layer.Append(int32(r.Layer))
	bt.seq.Append(r.Sequence)
	bt.pos.Append(int32(r.Position))
	bt.tok.Append(int32(r.TokenID))
	bt.text.Append(validUTF8(r.TokenText))
	if bt.fixed != nil {
		bt.fixed.Append(true)
	} else {
		bt.list.Append(true)
	}
	bt.floats.AppendValues(r.Values, nil)
	for i, v := range r.Extra {
		f := bt.b.Field(len(fixedColumns) + i)
		switch v := v.(type) {
		case nil:
			f.AppendNull()
		case string:
			f.(*array.StringBuilder).Append(validUTF8(v))
		case int64:
			f.(*array.Int64Builder).Append(v)
		case int:
			f.(*array.Int64Builder).Append(int64(v))
		}
	}
	bt.n++
	return nil
}

// record takes the rows appended so far as a record, which the caller
// releases, and empties the batch.
func (bt *batch) record() arrow.Record {
	bt.n = 0
	rec := bt.b.NewRecord()
	bt.reserve()
	return rec
}

func (bt *batch) release() { bt.b.Release() }

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// rowsOf calls fn with each row of rec. The Values slice fn sees aliases
// rec's memory and is only valid during the call.
func rowsOf(rec arrow.Record, fn func(*Row) error) error {
	schema := rec.Schema()
	if int(rec.NumCols()) < len(fixedColumns) {
		return fmt.Errorf("%w: %d columns, want at least %d", ErrSchema, rec.NumCols(), len(fixedColumns))
	}
	for i, name := range fixedColumns {
		if schema.Field(i).Name != name {
			return fmt.Errorf("%w: column %d is %q, want %q", ErrSchema, i, schema.Field(i).Name, name)
		}
	}
	run, ok1 := rec.Column(0).(*array.String)
	hook, ok2 := rec.Column(1).(*array.String)
	layer, ok3 := rec.Column(2).(*array.Int32)
	seq, ok4 := rec.Column(3).(*array.Int64)
	pos, ok5 := rec.Column(4).(*array.Int32)
	tok, ok6 := rec.Column(5).(*array.Int32)
	text, ok7 := rec.Column(6).(*array.String)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return fmt.Errorf("%w: fixed columns of other types: %s", ErrSchema, schema)
	}
	var floats *array.Float32
	var offsets func(i int) (int64, int64)
	switch v := rec.Column(7).(type) {
	case *array.FixedSizeList:
		floats, _ = v.ListValues().(*array.Float32)
		offsets = v.ValueOffsets
	case *array.List:
		floats, _ = v.ListValues().(*array.Float32)
		offsets = v.ValueOffsets
	}
	if floats == nil {
		return fmt.Errorf("%w: values of type %s", ErrSchema, rec.Column(7).DataType())
	}
	all := floats.Float32Values()
	extra := rec.Columns()[len(fixedColumns):]
	var r Row
	for i := range int(rec.NumRows()) {
		start, end := offsets(i)
		r = Row{
			Run: run.Value(i), Hook: hook.Value(i), Layer: int(layer.Value(i)), Sequence: seq.Value(i),
			Position: int(pos.Value(i)), TokenID: int(tok.Value(i)), TokenText: text.Value(i),
			Values: all[start:end:end], Extra: r.Extra[:0],
		}
		for _, col := range extra {
			var v any
			if !col.IsNull(i) {
				switch col := col.(type) {
				case *array.String:
					v = col.Value(i)
				case *array.Int64:
					v = col.Value(i)
				default:
					return fmt.Errorf("%w: extra column of type %s", ErrSchema, col.DataType())
				}
			}
			r.Extra = append(r.Extra, v)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}
