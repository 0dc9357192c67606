package interp

import (
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// WriteParquet writes the table as Parquet, with the columns of WriteCSV:
// kind (string), layer, position, head (int32; head -1 for none), label
// (string), value and normalized (double).
func (t *PatchTable) WriteParquet(w io.Writer) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "kind", Type: arrow.BinaryTypes.String},
		{Name: "layer", Type: arrow.PrimitiveTypes.Int32},
		{Name: "position", Type: arrow.PrimitiveTypes.Int32},
		{Name: "head", Type: arrow.PrimitiveTypes.Int32},
		{Name: "label", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
		{Name: "normalized", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range t.Rows {
		label := ""
		if r.Position < len(t.Labels) {
			label = t.Labels[r.Position]
		}
		b.Field(0).(*array.StringBuilder).Append(t.Kind)
		b.Field(1).(*array.Int32Builder).Append(int32(r.Layer))
		b.Field(2).(*array.Int32Builder).Append(int32(r.Position))
		b.Field(3).(*array.Int32Builder).Append(int32(r.Head))
		b.Field(4).(*array.StringBuilder).Append(label)
		b.Field(5).(*array.Float64Builder).Append(r.Value)
		b.Field(6).(*array.Float64Builder).Append(t.Normalized(r.Value))
	}
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	props := parquet.NewWriterProperties(parquet.WithCreatedBy("github.com/go-rlm/rlm/interp"))
	chunk := int64(max(len(t.Rows), 1))
	if err := pqarrow.WriteTable(tbl, struct{ io.Writer }{w}, min(chunk, math.MaxInt32), props, pqarrow.DefaultWriterProps()); err != nil {
		return fmt.Errorf("interp: write patch table: %w", err)
	}
	return nil
}
