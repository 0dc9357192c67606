package duckdbtest

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/go-rlm/rlm/internal/npmtest"
)

// Package is the npm package that runs the queries: DuckDB's Node.js
// client, with prebuilt binaries.
const Package = "@duckdb/node-api@1.5.6-r.1"

// queryScript is the node program that runs one query.
//
//go:embed query.cjs
var queryScript string

// Column is a result column: its name and its DuckDB type, as DuckDB
// spells it ("BIGINT", "FLOAT[]").
type Column struct {
	Name string
	Type string
}

// Result is what a query returned.
type Result struct {
	Columns []Column
	// Rows map column names to values (see the package documentation).
	Rows []map[string]any
}

// Query runs sql in an in-memory DuckDB and returns its result. A query
// DuckDB refuses fails the test with DuckDB's message; without node, npm
// or a reachable registry the test is skipped.
func Query(t testing.TB, sql string) Result {
	t.Helper()
	modules := npmtest.Modules(t, Package)
	var res Result
	npmtest.Run(t, modules, strings.NewReader(sql), &res, "-e", queryScript)
	return res
}
