package export_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/export"
)

// subCallColumns are extra columns like the ones a trace adds.
var subCallColumns = []export.Column{{Name: "query", Type: export.String}, {Name: "depth", Type: export.Int64}}

// randomRows returns n rows of width values (width 0: lengths from 1 to
// 9), with every kind of value the columns hold: negative layers, large
// sequence ids, text that is not valid UTF-8, nulls, subnormal and huge
// floats.
func randomRows(seed uint64, n, width int) []export.Row {
	rng := rand.New(rand.NewPCG(seed, 1))
	texts := []string{"a", " the", "\xe2\x82", "é", ""}
	rows := make([]export.Row, n)
	for i := range rows {
		w := width
		if w == 0 {
			w = 1 + rng.IntN(9)
		}
		values := make([]float32, w)
		for j := range values {
			values[j] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
		}
		if i == 0 {
			values[0] = math.SmallestNonzeroFloat32
			values[w-1] = math.MaxFloat32
		}
		var query any = fmt.Sprintf("question %d", i%3)
		if i%4 == 0 {
			query = nil
		}
		var depth any = int64(1 + i%2)
		if i%5 == 0 {
			depth = nil
		}
		rows[i] = export.Row{
			Run: "run-1", Hook: fmt.Sprintf("blocks.%d.hook_resid_post", i%4), Layer: i%4 - 1,
			Sequence: int64(i/7) + 1<<40, Position: i, TokenID: rng.IntN(300), TokenText: texts[i%len(texts)],
			Values: values, Extra: []any{query, depth},
		}
	}
	return rows
}

// stored is what a row becomes in a file: text as valid UTF-8 and
// integer extras as int64.
func stored(r export.Row) export.Row {
	if r.TokenText == "\xe2\x82" { // the start of "€", cut short
		r.TokenText = "\uFFFD"
	}
	r.Extra = slices.Clone(r.Extra)
	for i, v := range r.Extra {
		if n, ok := v.(int); ok {
			r.Extra[i] = int64(n)
		}
	}
	return r
}

// readAll reads a file's rows with read, copying them.
func readAll(t *testing.T, read func(fn func(*export.Row) error) error) []export.Row {
	t.Helper()
	var rows []export.Row
	require.NoError(t, read(func(r *export.Row) error {
		c := *r
		c.Values = slices.Clone(r.Values)
		c.Extra = slices.Clone(r.Extra)
		rows = append(rows, c)
		return nil
	}))
	return rows
}

func TestParquetRoundTrip(t *testing.T) {
	tests := []struct {
		width, rows, groupRows int
		compression            export.Compression
	}{
		{16, 100, 0, export.CompressionNone}, // one row group
		{16, 100, 7, export.CompressionSnappy},
		{16, 100, 1, export.CompressionNone}, // a row group per row
		{16, 100, 25, export.CompressionZstd},
		{0, 50, 8, export.CompressionNone}, // values of any length
		{16, 0, 0, export.CompressionNone}, // an empty file
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("width %d, %d rows in groups of %d, %v", tt.width, tt.rows, tt.groupRows, tt.compression), func(t *testing.T) {
			want := randomRows(uint64(tt.rows), tt.rows, tt.width)
			var buf bytes.Buffer
			pw, err := export.NewParquetWriter(&buf, tt.width, export.WithColumns(subCallColumns...),
				export.WithRowGroupRows(tt.groupRows), export.WithCompression(tt.compression))
			require.NoError(t, err)
			for _, r := range want {
				require.NoError(t, pw.Write(r))
			}
			assert.Equal(t, int64(tt.rows), pw.Rows())
			require.NoError(t, pw.Close())

			got := readAll(t, func(fn func(*export.Row) error) error {
				return export.ReadParquet(context.Background(), bytes.NewReader(buf.Bytes()), fn)
			})
			require.Len(t, got, len(want))
			for i := range want {
				assert.Equal(t, stored(want[i]), got[i], "row %d", i)
			}

			pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			defer pf.Close()
			groups := 1
			if tt.groupRows > 0 {
				groups = (tt.rows + tt.groupRows - 1) / tt.groupRows
			}
			if tt.rows == 0 {
				groups = 0
			}
			assert.Equal(t, groups, pf.NumRowGroups(), "row groups")
		})
	}
}

func TestIPCRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		width, groupRows int
		compression      export.Compression
	}{{16, 0, export.CompressionNone}, {16, 9, export.CompressionZstd}, {0, 4, export.CompressionNone}} {
		t.Run(fmt.Sprintf("width %d, groups of %d, %v", tt.width, tt.groupRows, tt.compression), func(t *testing.T) {
			want := randomRows(7, 40, tt.width)
			var buf bytes.Buffer
			iw, err := export.NewIPCWriter(&buf, tt.width, export.WithColumns(subCallColumns...),
				export.WithRowGroupRows(tt.groupRows), export.WithCompression(tt.compression))
			require.NoError(t, err)
			for _, r := range want {
				require.NoError(t, iw.Write(r))
			}
			require.NoError(t, iw.Close())
			got := readAll(t, func(fn func(*export.Row) error) error {
				return export.ReadIPC(bytes.NewReader(buf.Bytes()), fn)
			})
			require.Len(t, got, len(want))
			for i := range want {
				assert.Equal(t, stored(want[i]), got[i], "row %d", i)
			}
		})
	}
	_, err := export.NewIPCWriter(&bytes.Buffer{}, 4, export.WithCompression(export.CompressionSnappy))
	assert.ErrorContains(t, err, "cannot use snappy")
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	writers := map[string]func(w *bytes.Buffer) (interface {
		Write(export.Row) error
		Close() error
	}, error){
		"parquet": func(w *bytes.Buffer) (interface {
			Write(export.Row) error
			Close() error
		}, error) {
			return export.NewParquetWriter(w, 4, export.WithColumns(subCallColumns...))
		},
		"ipc": func(w *bytes.Buffer) (interface {
			Write(export.Row) error
			Close() error
		}, error) {
			return export.NewIPCWriter(w, 4, export.WithColumns(subCallColumns...))
		},
	}
	for name, newWriter := range writers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := newWriter(&buf)
			require.NoError(t, err)
			good := export.Row{Run: "r", Hook: "h", Values: []float32{1, 2, 3, 4}, Extra: []any{"q", 1}}
			for _, bad := range []export.Row{
				{Values: []float32{1, 2, 3}, Extra: []any{"q", 1}},  // too short
				{Values: []float32{1, 2, 3, 4}, Extra: []any{"q"}},  // an extra value missing
				{Values: []float32{1, 2, 3, 4}, Extra: []any{1, 1}}, // an int for a string
				{Values: []float32{1, 2, 3, 4}, Extra: []any{"q", 1.5}},
			} {
				assert.ErrorIs(t, w.Write(bad), export.ErrSchema)
			}
			require.NoError(t, w.Write(good), "a refused row leaves the writer usable")
			require.NoError(t, w.Close())
			require.NoError(t, w.Close(), "Close twice")
			assert.ErrorIs(t, w.Write(good), export.ErrClosed)
		})
	}

	var nilWriter *export.ParquetWriter
	assert.NoError(t, nilWriter.Close())
	var nilIPC *export.IPCWriter
	assert.NoError(t, nilIPC.Close())

	_, err := export.NewParquetWriter(&bytes.Buffer{}, 4, export.WithColumns(export.Column{Name: "hook", Type: export.String}))
	assert.ErrorIs(t, err, export.ErrSchema, "a taken column name")
	_, err = export.NewParquetWriter(&bytes.Buffer{}, -1)
	assert.ErrorIs(t, err, export.ErrSchema)
	_, err = export.NewParquetWriter(&bytes.Buffer{}, 4, export.WithRowGroupRows(-1))
	assert.ErrorContains(t, err, "row group of -1 rows")
	_, err = export.NewParquetWriter(&bytes.Buffer{}, 4, export.WithCompression(9))
	assert.ErrorContains(t, err, "unknown compression")

	// A failing output breaks the file for good, and says why.
	pw, err := export.NewParquetWriter(&failingWriter{n: 100}, 4, export.WithRowGroupRows(2))
	require.NoError(t, err)
	row := export.Row{Values: []float32{1, 2, 3, 4}}
	require.NoError(t, pw.Write(row))
	err = pw.Write(row) // the row group goes out
	assert.ErrorIs(t, err, errDiskFull)
	assert.ErrorIs(t, pw.Write(row), errDiskFull, "later writes fail too")
	assert.Error(t, pw.Close())
}

func TestReadErrors(t *testing.T) {
	err := export.ReadParquet(context.Background(), bytes.NewReader([]byte("not parquet at all")), func(*export.Row) error { return nil })
	assert.ErrorContains(t, err, "export: read parquet")

	var buf bytes.Buffer
	pw, err := export.NewParquetWriter(&buf, 2)
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, pw.Write(export.Row{Values: []float32{1, 2}}))
	}
	require.NoError(t, pw.Close())
	stop := errors.New("stop")
	n := 0
	err = export.ReadParquet(context.Background(), bytes.NewReader(buf.Bytes()), func(*export.Row) error {
		n++
		return stop
	})
	assert.ErrorIs(t, err, stop, "fn's error comes back as it is")
	assert.Equal(t, 1, n)
}
