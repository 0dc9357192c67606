package duckdbtest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/export/duckdbtest"
)

func TestQueryValues(t *testing.T) {
	res := duckdbtest.Query(t, `SELECT 7::INTEGER AS i, 9007199254740993::BIGINT AS big, 0.1::FLOAT AS f,
		'Vex''ahlia' AS s, [1.5, 2.5]::FLOAT[] AS l, NULL::VARCHAR AS missing, 12.50::DECIMAL(4,2) AS d`)
	assert.Equal(t, []duckdbtest.Column{
		{"i", "INTEGER"}, {"big", "BIGINT"}, {"f", "FLOAT"}, {"s", "VARCHAR"}, {"l", "FLOAT[]"},
		{"missing", "VARCHAR"}, {"d", "DECIMAL(4,2)"},
	}, res.Columns)
	require.Len(t, res.Rows, 1)
	row := res.Rows[0]
	assert.Equal(t, json.Number("7"), row["i"])
	assert.Equal(t, "9007199254740993", row["big"], "beyond a double's integers, exactly")
	f, err := row["f"].(json.Number).Float64()
	require.NoError(t, err)
	assert.Equal(t, float32(0.1), float32(f), "a float32 reads back exactly")
	assert.Equal(t, "Vex'ahlia", row["s"])
	assert.Equal(t, []any{json.Number("1.5"), json.Number("2.5")}, row["l"])
	assert.Contains(t, row, "missing")
	assert.Nil(t, row["missing"])
	assert.Equal(t, "12.50", row["d"])
}

// TestQueryReadsFiles has DuckDB read a file the test wrote.
func TestQueryReadsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rolls.csv")
	require.NoError(t, os.WriteFile(path, []byte("who,roll\nLaura,17\nTravis,20\nLaura,3\n"), 0o644))
	res := duckdbtest.Query(t, "SELECT who, sum(roll)::INTEGER AS total FROM read_csv('"+path+"') GROUP BY who ORDER BY who")
	assert.Equal(t, []map[string]any{
		{"who": "Laura", "total": json.Number("20")},
		{"who": "Travis", "total": json.Number("20")},
	}, res.Rows)
}
