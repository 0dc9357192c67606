// Package duckdbtest lets any test query files with DuckDB, an independent
// reader of the Parquet files this module writes (DuckDB's own C++
// implementation, through its Node.js package), much as net/http/httptest
// lets any test run a server.
//
//	res := duckdbtest.Query(t, "SELECT hook, count(*) AS n FROM read_parquet('"+path+"') GROUP BY hook")
//	for _, row := range res.Rows {
//		fmt.Println(row["hook"], row["n"])
//	}
//
// # Installing and skipping
//
// The first [Query] installs [Package] with npm into the user's cache
// directory, where later runs find it. Without node, npm or a reachable
// registry, [Query] skips the test and says why.
//
// # Values
//
// Rows map column names to values as encoding/json decodes them, except
// that numbers are json.Number: BIGINT and DECIMAL values arrive as
// strings, lists as []any, NULL as nil, and a FLOAT or DOUBLE as the
// shortest decimal that reads back to the same double, so float32 values
// compare exactly.
//
// # Concurrency
//
// [Query] is safe for concurrent use; each call runs its own in-memory
// DuckDB.
package duckdbtest
