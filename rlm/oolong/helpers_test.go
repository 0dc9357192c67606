package oolong_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf16"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// syntheticRows makes rows in the dataset's shape: windows context windows
// of textLen bytes and more (each longer than the one before), every one asked rowsPerWindow questions. The
// text mixes what JSON must escape: quotes, backslashes, newlines, tabs,
// non-ASCII and astral characters.
func syntheticRows(windows, rowsPerWindow, textLen int) []oolong.Example {
	var rows []oolong.Example
	for w := range windows {
		var b strings.Builder
		for line := 0; b.Len() < textLen+w*textLen/4; line++ { // longer and longer
			fmt.Fprintf(&b, "Matt: Window %d, line %d: \"Roll\" a d20\\d4 for Shakäste 🎲\tnow.\n", w, line)
		}
		episodes := make([]int, w%24+1)
		for i := range episodes {
			episodes[i] = i*3 + w + 1
		}
		types := oolong.QuestionTypes[:2]
		if len(episodes) > 1 {
			types = oolong.QuestionTypes[2:]
		}
		text := b.String()
		for q := range rowsPerWindow {
			rows = append(rows, oolong.Example{
				ID:                fmt.Sprintf("row-%d-%d", w, q),
				ContextWindowID:   fmt.Sprintf("window-%d", w),
				ContextWindowText: text,
				Question:          fmt.Sprintf("How many rolls in window %d? (%d)", w, q),
				Answer:            fmt.Sprint(w*10 + q),
				QuestionType:      types[q%2],
				Episodes:          episodes,
				Campaign:          "campaign1",
			})
		}
	}
	return rows
}

// pythonJSON marshals v the way Python's json.dumps does by default: every
// non-ASCII character escaped, astral ones as surrogate pairs.
func pythonJSON(t testing.TB, v any) []byte {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	out := make([]byte, 0, len(data)+len(data)/8)
	escape := func(r rune) {
		const hex = "0123456789abcdef"
		out = append(out, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	for _, r := range string(data) {
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			escape(hi)
			escape(lo)
		default:
			escape(r)
		}
	}
	return out
}

// writeJSONL writes rows as the dataset's JSONL files are written. The text
// a row shares with the row before is encoded once.
func writeJSONL(t testing.TB, w io.Writer, rows []oolong.Example) {
	bw := bufio.NewWriter(w)
	var lastText *byte
	var encoded []byte
	for _, row := range rows {
		if p := unsafe.StringData(row.ContextWindowText); p != lastText || encoded == nil {
			lastText, encoded = p, pythonJSON(t, row.ContextWindowText)
		}
		row.ContextWindowText = ""
		line := pythonJSON(t, row)
		line = bytes.Replace(line, []byte(`"context_window_text":""`),
			append([]byte(`"context_window_text": `), encoded...), 1)
		_, err := bw.Write(line)
		require.NoError(t, err)
		require.NoError(t, bw.WriteByte('\n'))
	}
	require.NoError(t, bw.Flush())
}

func writeJSONLFile(t testing.TB, name string, rows []oolong.Example) {
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	writeJSONL(t, f, rows)
	require.NoError(t, f.Close())
}

// parquetSchema is the schema the Hub's converter gives the dataset, plus a
// column the readers must skip.
var parquetSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "context_window_id", Type: arrow.BinaryTypes.String},
	{Name: "context_window_text", Type: arrow.BinaryTypes.String},
	{Name: "question", Type: arrow.BinaryTypes.String},
	{Name: "answer", Type: arrow.BinaryTypes.String},
	{Name: "question_type", Type: arrow.BinaryTypes.String},
	{Name: "episodes", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	{Name: "campaign", Type: arrow.BinaryTypes.String},
	{Name: "unused", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// writeParquetFile writes rows as Parquet, groupRows rows per row group,
// Snappy-compressed as the Hub's converter does, with more writer
// properties if given.
func writeParquetFile(t testing.TB, name string, rows []oolong.Example, groupRows int, opts ...parquet.WriterProperty) {
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	props := parquet.NewWriterProperties(append([]parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(int64(groupRows)),
	}, opts...)...)
	w, err := pqarrow.NewFileWriter(parquetSchema, f, props, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	for start := 0; start < len(rows); start += groupRows {
		rec := parquetRecord(rows[start:min(start+groupRows, len(rows))])
		require.NoError(t, w.Write(rec))
		rec.Release()
	}
	require.NoError(t, w.Close())
}

func parquetRecord(rows []oolong.Example) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, parquetSchema)
	defer b.Release()
	for _, row := range rows {
		for i, v := range []string{row.ID, row.ContextWindowID, row.ContextWindowText, row.Question, row.Answer, string(row.QuestionType)} {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
		episodes := b.Field(6).(*array.ListBuilder)
		episodes.Append(true)
		for _, ep := range row.Episodes {
			episodes.ValueBuilder().(*array.Int64Builder).Append(int64(ep))
		}
		b.Field(7).(*array.StringBuilder).Append(row.Campaign)
		b.Field(8).(*array.Float64Builder).Append(1.5)
	}
	return b.NewRecord()
}

// readAll reads every row r returns.
func readAll(t testing.TB, r *oolong.Reader) []oolong.Example {
	var rows []oolong.Example
	for row, err := range r.All(t.Context()) {
		require.NoError(t, err)
		rows = append(rows, row)
	}
	return rows
}
