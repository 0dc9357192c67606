package main

import (
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// tableColumn is a column of the results table: its field and how a record
// fills it.
type tableColumn struct {
	field  arrow.Field
	append func(b array.Builder, r *Record)
}

func stringColumn(name string, get func(*Record) string) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.BinaryTypes.String}, func(b array.Builder, r *Record) {
		b.(*array.StringBuilder).Append(get(r))
	}}
}

func intColumn(name string, get func(*Record) int) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64}, func(b array.Builder, r *Record) {
		b.(*array.Int64Builder).Append(int64(get(r)))
	}}
}

func floatColumn(name string, get func(*Record) float64) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64}, func(b array.Builder, r *Record) {
		b.(*array.Float64Builder).Append(get(r))
	}}
}

// optional makes a column null where get's record part is missing: the
// run's error when there was none, the baseline's columns without one.
func optionalString(name string, get func(*Record) (string, bool)) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}, func(b array.Builder, r *Record) {
		if v, ok := get(r); ok {
			b.(*array.StringBuilder).Append(v)
		} else {
			b.AppendNull()
		}
	}}
}

// asked returns the baseline of r when the worker was asked (nil without
// -baseline, or when the window was excluded): the baseline's columns are
// null otherwise.
func asked(r *Record) *BaselineRecord {
	if r.Baseline == nil || r.Baseline.Excluded != "" {
		return nil
	}
	return r.Baseline
}

func baselineFloat(name string, get func(*BaselineRecord) float64) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, func(b array.Builder, r *Record) {
		if br := asked(r); br != nil {
			b.(*array.Float64Builder).Append(get(br))
		} else {
			b.AppendNull()
		}
	}}
}

func baselineInt(name string, get func(*BaselineRecord) int) tableColumn {
	return tableColumn{arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}, func(b array.Builder, r *Record) {
		if br := asked(r); br != nil {
			b.(*array.Int64Builder).Append(int64(get(br)))
		} else {
			b.AppendNull()
		}
	}}
}

// tableColumns are the columns of results.parquet, one row per example, in
// the order of the Record's fields.
var tableColumns = []tableColumn{
	intColumn("index", func(r *Record) int { return r.Index }),
	stringColumn("id", func(r *Record) string { return r.ID }),
	stringColumn("context_window_id", func(r *Record) string { return r.ContextWindowID }),
	stringColumn("campaign", func(r *Record) string { return r.Campaign }),
	stringColumn("question_type", func(r *Record) string { return r.QuestionType }),
	{arrow.Field{Name: "episodes", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}, func(b array.Builder, r *Record) {
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		for _, ep := range r.Episodes {
			lb.ValueBuilder().(*array.Int64Builder).Append(int64(ep))
		}
	}},
	stringColumn("question", func(r *Record) string { return r.Question }),
	intColumn("context_chars", func(r *Record) int { return r.ContextChars }),
	intColumn("context_tokens", func(r *Record) int { return r.ContextTokens }),
	stringColumn("gold", func(r *Record) string { return r.Gold }),
	stringColumn("answer", func(r *Record) string { return r.Answer }),
	floatColumn("score", func(r *Record) float64 { return r.Score }),
	floatColumn("lenient_score", func(r *Record) float64 { return r.LenientScore }),
	{arrow.Field{Name: "final", Type: arrow.FixedWidthTypes.Boolean}, func(b array.Builder, r *Record) {
		b.(*array.BooleanBuilder).Append(r.Final)
	}},
	stringColumn("stop_reason", func(r *Record) string { return r.Stop }),
	optionalString("error", func(r *Record) (string, bool) { return r.Error, r.Error != "" }),
	intColumn("iterations", func(r *Record) int { return r.Iterations }),
	intColumn("sub_calls", func(r *Record) int { return r.SubCalls }),
	intColumn("sub_calls_failed", func(r *Record) int { return r.SubCallsFailed }),
	intColumn("sub_call_cache_hits", func(r *Record) int { return r.SubCallCacheHits }),
	intColumn("code_blocks", func(r *Record) int { return r.CodeBlocks }),
	intColumn("code_blocks_failed", func(r *Record) int { return r.CodeBlocksFailed }),
	intColumn("controller_prompt_tokens", func(r *Record) int { return r.ControllerPromptTokens }),
	intColumn("controller_completion_tokens", func(r *Record) int { return r.ControllerCompletionTokens }),
	intColumn("controller_cached_tokens", func(r *Record) int { return r.ControllerCachedTokens }),
	intColumn("worker_prompt_tokens", func(r *Record) int { return r.WorkerPromptTokens }),
	intColumn("worker_completion_tokens", func(r *Record) int { return r.WorkerCompletionTokens }),
	floatColumn("seconds", func(r *Record) float64 { return r.Seconds }),
	stringColumn("trajectory", func(r *Record) string { return r.Trajectory }),
	optionalString("baseline_excluded", func(r *Record) (string, bool) {
		if r.Baseline == nil || r.Baseline.Excluded == "" {
			return "", false
		}
		return r.Baseline.Excluded, true
	}),
	optionalString("baseline_answer", func(r *Record) (string, bool) {
		if br := asked(r); br != nil {
			return br.Answer, true
		}
		return "", false
	}),
	baselineFloat("baseline_score", func(b *BaselineRecord) float64 { return b.Score }),
	baselineFloat("baseline_lenient_score", func(b *BaselineRecord) float64 { return b.LenientScore }),
	baselineInt("baseline_context_chars", func(b *BaselineRecord) int { return b.ContextChars }),
	{arrow.Field{Name: "baseline_truncated", Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, func(b array.Builder, r *Record) {
		if br := asked(r); br != nil {
			b.(*array.BooleanBuilder).Append(br.Truncated)
		} else {
			b.AppendNull()
		}
	}},
	baselineInt("baseline_prompt_tokens", func(b *BaselineRecord) int { return b.PromptTokens }),
	baselineInt("baseline_completion_tokens", func(b *BaselineRecord) int { return b.CompletionTokens }),
	baselineFloat("baseline_seconds", func(b *BaselineRecord) float64 { return b.Seconds }),
	optionalString("baseline_error", func(r *Record) (string, bool) {
		if r.Baseline == nil || r.Baseline.Error == "" {
			return "", false
		}
		return r.Baseline.Error, true
	}),
}

// parquetRowGroup is the rows per row group: records are small, so one
// group holds a whole split.
const parquetRowGroup = 8192

// writeParquet writes records as a Parquet table (Snappy-compressed), one
// row per record in the order given.
func writeParquet(w io.Writer, records []Record) error {
	fields := make([]arrow.Field, len(tableColumns))
	for i, c := range tableColumns {
		fields[i] = c.field
	}
	schema := arrow.NewSchema(fields, nil)
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(parquetRowGroup))
	// The Parquet writer closes a writer that has a Close method; the
	// caller owns w, so hide it.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	for start := 0; start < len(records) || start == 0; start += parquetRowGroup {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := start; i < min(start+parquetRowGroup, len(records)); i++ {
			for j, c := range tableColumns {
				c.append(b.Field(j), &records[i])
			}
		}
		rec := b.NewRecord()
		b.Release()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return err
		}
	}
	return fw.Close()
}
