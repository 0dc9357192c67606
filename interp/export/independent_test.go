package export_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/internal/npmtest"
	"github.com/go-rlm/rlm/interp/export"
	"github.com/go-rlm/rlm/interp/export/duckdbtest"
)

// arrowPackage is the Apache Arrow JavaScript library, the independent
// reader of Arrow IPC files.
const arrowPackage = "apache-arrow@21.1.0"

// writeFile writes rows to a new file in dir with the writer open makes.
func writeFile(t *testing.T, path string, rows []export.Row, open func(f *os.File) (interface {
	Write(export.Row) error
	Close() error
}, error)) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w, err := open(f)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
}

// number reads a JSON number or a number printed as a string (the readers
// print 64-bit integers as strings).
func number(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		require.NoError(t, err)
		return f
	case string:
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		return f
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// checkRow compares a row as an independent reader printed it (column name
// → JSON value) with the row Go wrote.
func checkRow(t *testing.T, i int, got map[string]any, want export.Row) {
	t.Helper()
	want = stored(want)
	assert.Equal(t, want.Run, got["run"], "row %d run", i)
	assert.Equal(t, want.Hook, got["hook"], "row %d hook", i)
	assert.Equal(t, float64(want.Layer), number(t, got["layer"]), "row %d layer", i)
	assert.Equal(t, strconv.FormatInt(want.Sequence, 10), fmt.Sprint(got["sequence"]), "row %d sequence", i)
	assert.Equal(t, float64(want.Position), number(t, got["position"]), "row %d position", i)
	assert.Equal(t, float64(want.TokenID), number(t, got["token_id"]), "row %d token_id", i)
	assert.Equal(t, want.TokenText, got["token_text"], "row %d token_text", i)
	values, ok := got["values"].([]any)
	require.True(t, ok, "row %d values: %#v", i, got["values"])
	require.Len(t, values, len(want.Values), "row %d values", i)
	for j, v := range values {
		// A float32 printed as the shortest decimal of its double reads
		// back to the same float32: the comparison is exact.
		assert.Equal(t, want.Values[j], float32(number(t, v)), "row %d value %d", i, j)
	}
	for k, c := range subCallColumns {
		switch w := want.Extra[k].(type) {
		case nil:
			assert.Nil(t, got[c.Name], "row %d %s", i, c.Name)
		case string:
			assert.Equal(t, w, got[c.Name], "row %d %s", i, c.Name)
		case int64:
			assert.Equal(t, float64(w), number(t, got[c.Name]), "row %d %s", i, c.Name)
		}
	}
}

// TestDuckDBReadsParquet reads files of both value layouts, in several row
// groups and compressions, with DuckDB (an independent Parquet reader, in
// C++) and compares every value with what Go wrote, exactly.
func TestDuckDBReadsParquet(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		width       int
		compression export.Compression
	}{{8, export.CompressionNone}, {8, export.CompressionZstd}, {0, export.CompressionSnappy}} {
		t.Run(fmt.Sprintf("width %d, %v", tt.width, tt.compression), func(t *testing.T) {
			rows := randomRows(3, 60, tt.width)
			path := filepath.Join(dir, fmt.Sprintf("trace-%d-%v.parquet", tt.width, tt.compression))
			writeFile(t, path, rows, func(f *os.File) (interface {
				Write(export.Row) error
				Close() error
			}, error) {
				return export.NewParquetWriter(f, tt.width, export.WithColumns(subCallColumns...),
					export.WithRowGroupRows(16), export.WithCompression(tt.compression))
			})

			got := duckdbtest.Query(t, fmt.Sprintf("SELECT * FROM read_parquet('%s')", path))
			types := map[string]string{}
			for _, c := range got.Columns {
				types[c.Name] = c.Type
			}
			assert.Equal(t, map[string]string{
				"run": "VARCHAR", "hook": "VARCHAR", "layer": "INTEGER", "sequence": "BIGINT", "position": "INTEGER",
				"token_id": "INTEGER", "token_text": "VARCHAR", "values": "FLOAT[]", "query": "VARCHAR", "depth": "BIGINT",
			}, types)
			require.Len(t, got.Rows, len(rows))
			for i, r := range got.Rows {
				checkRow(t, i, r, rows[i])
			}

			// SQL over the file: rows per hook and the sum of each row's
			// first value, against the same computed in Go.
			agg := duckdbtest.Query(t, fmt.Sprintf(
				"SELECT hook, count(*) AS n, sum(values[1]::DOUBLE) AS first FROM read_parquet('%s') GROUP BY hook ORDER BY hook", path))
			wantN, wantFirst := map[string]int{}, map[string]float64{}
			for _, r := range rows {
				wantN[r.Hook]++
				wantFirst[r.Hook] += float64(r.Values[0])
			}
			require.Len(t, agg.Rows, len(wantN))
			for _, r := range agg.Rows {
				hook := r["hook"].(string)
				assert.Equal(t, float64(wantN[hook]), number(t, r["n"]), hook)
				assert.InDelta(t, wantFirst[hook], number(t, r["first"]), 1e-9*max(1, abs(wantFirst[hook])), hook)
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestArrowJSReadsIPC reads IPC files with the Apache Arrow JavaScript
// library (an independent Arrow implementation) and compares every value
// with what Go wrote, exactly.
func TestArrowJSReadsIPC(t *testing.T) {
	modules := npmtest.Modules(t, arrowPackage)
	dir := t.TempDir()
	for _, width := range []int{8, 0} {
		t.Run(fmt.Sprintf("width %d", width), func(t *testing.T) {
			rows := randomRows(5, 30, width)
			path := filepath.Join(dir, fmt.Sprintf("trace-%d.arrow", width))
			writeFile(t, path, rows, func(f *os.File) (interface {
				Write(export.Row) error
				Close() error
			}, error) {
				return export.NewIPCWriter(f, width, export.WithColumns(subCallColumns...), export.WithRowGroupRows(8))
			})
			var got struct {
				Schema []struct{ Name, Type string }
				Rows   []map[string]any
			}
			npmtest.Run(t, modules, nil, &got, filepath.Join("testdata", "arrow_read.cjs"), path)
			wantValues := "List<Float32>"
			if width > 0 {
				wantValues = fmt.Sprintf("FixedSizeList[%d]<Float32>", width)
			}
			var names []string
			for _, f := range got.Schema {
				names = append(names, f.Name)
				if f.Name == "values" {
					assert.Equal(t, wantValues, f.Type)
				}
			}
			assert.Equal(t, "run hook layer sequence position token_id token_text values query depth", strings.Join(names, " "))
			require.Len(t, got.Rows, len(rows))
			for i, r := range got.Rows {
				checkRow(t, i, r, rows[i])
			}
		})
	}
}
