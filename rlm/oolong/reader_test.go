package oolong_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// openers open the same rows in every format a Reader reads.
var openers = map[string]func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader{
	"jsonl stream": func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader {
		var buf bytes.Buffer
		writeJSONL(t, &buf, rows)
		return oolong.NewReader(&buf, opts...)
	},
	"jsonl file": func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader {
		name := filepath.Join(t.TempDir(), "test.jsonl")
		writeJSONLFile(t, name, rows)
		r, err := oolong.Open(name, opts...)
		require.NoError(t, err)
		return r
	},
	"jsonl gzip file": func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader {
		name := filepath.Join(t.TempDir(), "test.jsonl.gz")
		f, err := os.Create(name)
		require.NoError(t, err)
		z := gzip.NewWriter(f)
		writeJSONL(t, z, rows)
		require.NoError(t, z.Close())
		require.NoError(t, f.Close())
		r, err := oolong.Open(name, opts...)
		require.NoError(t, err)
		return r
	},
	"parquet file": func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader {
		name := filepath.Join(t.TempDir(), "0000.parquet")
		writeParquetFile(t, name, rows, 5)
		r, err := oolong.Open(name, opts...)
		require.NoError(t, err)
		return r
	},
	"parquet reader": func(t *testing.T, rows []oolong.Example, opts ...oolong.Option) *oolong.Reader {
		name := filepath.Join(t.TempDir(), "0000.parquet")
		writeParquetFile(t, name, rows, 3)
		f, err := os.Open(name)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		r, err := oolong.NewParquetReader(f, append(opts, oolong.WithParquetBatchRows(2))...)
		require.NoError(t, err)
		return r
	},
}

func TestReaderRoundTrip(t *testing.T) {
	rows := syntheticRows(4, 3, 5000)
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			r := open(t, rows)
			defer r.Close()
			got := readAll(t, r)
			require.Equal(t, rows, got)
			stats := r.Stats()
			assert.Equal(t, len(rows), stats.Rows)
			assert.Equal(t, len(rows), stats.Returned)
			assert.Equal(t, 4, stats.Windows)
			assert.Positive(t, stats.Bytes)
		})
	}
}

func TestReaderSharesContextWindows(t *testing.T) {
	rows := syntheticRows(2, 3, 1000)
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			r := open(t, rows)
			defer r.Close()
			got := readAll(t, r)
			require.Len(t, got, 6)
			data := func(i int) *byte { return unsafe.StringData(got[i].ContextWindowText) }
			assert.Same(t, data(0), data(1), "rows of one window share its text")
			assert.Same(t, data(0), data(2))
			assert.NotSame(t, data(2), data(3), "a new window is a new text")
			assert.Same(t, data(3), data(5))
		})
	}
}

func TestReaderFilters(t *testing.T) {
	rows := syntheticRows(6, 4, 2000) // windows of 1 to 6 episodes, 4 questions each
	lengthOf := func(e oolong.Example) int { return utf8.RuneCountInString(e.ContextWindowText) }
	tests := []struct {
		name string
		opts []oolong.Option
		keep func(e oolong.Example) bool
	}{
		{"question types", []oolong.Option{oolong.WithQuestionTypes(oolong.SingleDocSpells, oolong.MultiDocRolls)},
			func(e oolong.Example) bool {
				return e.QuestionType == oolong.SingleDocSpells || e.QuestionType == oolong.MultiDocRolls
			}},
		{"episode count", []oolong.Option{oolong.WithEpisodes(2, 4)},
			func(e oolong.Example) bool { return len(e.Episodes) >= 2 && len(e.Episodes) <= 4 }},
		{"episode count without upper bound", []oolong.Option{oolong.WithEpisodes(5, 0)},
			func(e oolong.Example) bool { return len(e.Episodes) >= 5 }},
		{"context length", []oolong.Option{oolong.WithContextLength(lengthOf(rows[4]), lengthOf(rows[12]))},
			func(e oolong.Example) bool {
				return lengthOf(e) > lengthOf(rows[4]) && lengthOf(e) <= lengthOf(rows[12])
			}},
		{"all filters", []oolong.Option{oolong.WithQuestionTypes(oolong.MultiDocSpells), oolong.WithEpisodes(3, 0),
			oolong.WithContextLength(0, lengthOf(rows[20]))},
			func(e oolong.Example) bool {
				return e.QuestionType == oolong.MultiDocSpells && len(e.Episodes) >= 3 && lengthOf(e) <= lengthOf(rows[20])
			}},
	}
	for _, tt := range tests {
		var want []oolong.Example
		for _, row := range rows {
			if tt.keep(row) {
				want = append(want, row)
			}
		}
		require.NotEmpty(t, want, "the test must keep some rows")
		require.Less(t, len(want), len(rows), "the test must drop some rows")
		for name, open := range openers {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				r := open(t, rows, tt.opts...)
				defer r.Close()
				assert.Equal(t, want, readAll(t, r))
				assert.Equal(t, len(rows), r.Stats().Rows)
				assert.Equal(t, len(want), r.Stats().Returned)
			})
		}
	}
}

func TestReaderMeasuresEachWindowOnce(t *testing.T) {
	rows := syntheticRows(3, 5, 1000)
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			calls := 0
			r := open(t, rows, oolong.WithContextLength(0, 1<<30), oolong.WithLengthFunc(func(s string) int {
				calls++
				return len(s)
			}))
			defer r.Close()
			assert.Len(t, readAll(t, r), len(rows))
			assert.Equal(t, 3, calls)
		})
	}
}

func TestReaderAcceptsNumbersAndUnknownFields(t *testing.T) {
	input := `{"id": 7, "context_window_id": 3, "context_window_text": "a\/b \u00e9\ud83c\udfb2 \ud800", "question": "q",` +
		` "answer": 12, "question_type": "singledoc_rolls", "episodes": [1], "campaign": "campaign2",` +
		` "extra": {"nested": ["}", "\"{"]}, "flag": true, "none": null}` + "\r\n\n"
	r := oolong.NewReader(strings.NewReader(input))
	got := readAll(t, r)
	require.Len(t, got, 1)
	assert.Equal(t, oolong.Example{
		ID: "7", ContextWindowID: "3", ContextWindowText: "a/b é🎲 \ufffd", Question: "q", Answer: "12",
		QuestionType: oolong.SingleDocRolls, Episodes: []int{1}, Campaign: "campaign2",
	}, got[0])
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"not an object", "[1, 2]\n", "line 1"},
		{"unterminated string", `{"id": "abc` + "\n", "line 1: invalid JSON: unterminated string"},
		{"bad escape on the second line", `{"id": "a"}` + "\n" + `{"id": "\q"}` + "\n", `line 2: field "id"`},
		{"bad text escape", `{"context_window_text": "\u12"}` + "\n", `line 1: field "context_window_text"`},
		{"missing comma", `{"id": "a" "question": "b"}` + "\n", "line 1: invalid JSON: want ',' or '}'"},
		{"trailing data", `{"id": "a"} x` + "\n", "line 1: invalid JSON: data after the object"},
		{"bad episodes", `{"episodes": ["one"]}` + "\n", `line 1: field "episodes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oolong.NewReader(strings.NewReader(tt.input))
			var err error
			for _, err = range r.All(t.Context()) {
				if err != nil {
					break
				}
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.ErrorIs(t, err, oolong.ErrFormat)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := oolong.Open("rows.csv")
	assert.ErrorIs(t, err, oolong.ErrFormat)

	_, err = oolong.Open(filepath.Join(t.TempDir(), "missing.jsonl"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	notParquet := filepath.Join(t.TempDir(), "bad.parquet")
	require.NoError(t, os.WriteFile(notParquet, []byte("not parquet at all"), 0o644))
	_, err = oolong.Open(notParquet)
	assert.ErrorIs(t, err, oolong.ErrFormat)

	_, err = oolong.OpenAll(nil)
	assert.Error(t, err)
}

func TestReaderCloseAndCancel(t *testing.T) {
	rows := syntheticRows(1, 2, 100)
	name := filepath.Join(t.TempDir(), "test.jsonl")
	writeJSONLFile(t, name, rows)

	r, err := oolong.Open(name)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = r.Read(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close twice")
	_, err = r.Read(t.Context())
	assert.ErrorIs(t, err, os.ErrClosed)

	var nilReader *oolong.Reader
	assert.NoError(t, nilReader.Close())
}

func TestOpenAllChainsFormats(t *testing.T) {
	rows := syntheticRows(4, 2, 300)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.parquet")
	writeJSONLFile(t, first, rows[:3])
	writeParquetFile(t, second, rows[3:], 4)
	r, err := oolong.OpenAll([]string{first, second}, oolong.WithQuestionTypes(oolong.MultiDocRolls, oolong.SingleDocRolls))
	require.NoError(t, err)
	defer r.Close()
	var want []oolong.Example
	for _, row := range rows {
		if strings.HasSuffix(string(row.QuestionType), "rolls") {
			want = append(want, row)
		}
	}
	assert.Equal(t, want, readAll(t, r))
	_, err = r.Read(t.Context())
	assert.ErrorIs(t, err, io.EOF)
}

func TestAllStopsEarly(t *testing.T) {
	var buf bytes.Buffer
	writeJSONL(t, &buf, syntheticRows(3, 3, 100))
	r := oolong.NewReader(&buf)
	n := 0
	for _, err := range r.All(t.Context()) {
		require.NoError(t, err)
		if n++; n == 4 {
			break
		}
	}
	e, err := r.Read(t.Context())
	require.NoError(t, err, "reading goes on after a break")
	assert.Equal(t, "row-1-1", e.ID)
}

func TestParquetShards(t *testing.T) {
	paths := []string{
		"dnd/test/0001.parquet", "dnd/test/0000.parquet", "dnd/validation/0000.parquet",
		"toy_dnd/test/0000.parquet", "dnd/partial-test/0000.parquet", "dnd/test/README.md", "dnd/test.jsonl",
	}
	assert.Equal(t, []string{"dnd/partial-test/0000.parquet", "dnd/test/0000.parquet", "dnd/test/0001.parquet"},
		oolong.ParquetShards(paths, oolong.DnD, oolong.Test))
	assert.Equal(t, []string{"toy_dnd/test/0000.parquet"}, oolong.ParquetShards(paths, oolong.ToyDnD, oolong.Test))
	assert.Empty(t, oolong.ParquetShards(paths, oolong.ToyDnD, oolong.Validation))
	assert.Equal(t, "dnd/validation.jsonl", oolong.JSONLPath(oolong.DnD, oolong.Validation))
}

func TestParquetWithoutDatasetColumns(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecord()
	defer rec.Release()
	name := filepath.Join(t.TempDir(), "other.parquet")
	f, err := os.Create(name)
	require.NoError(t, err)
	w, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())

	_, err = oolong.Open(name)
	assert.ErrorIs(t, err, oolong.ErrFormat)
	assert.ErrorContains(t, err, "no OOLONG columns")
}
