// Package export writes activations to files that the data tools of the
// Python and SQL worlds open as they are: Parquet (DuckDB, pandas, pyarrow,
// Polars, Spark) and Arrow IPC (pyarrow's Feather, Arrow's other
// implementations).
//
// # Rows
//
// A file is a table with one [Row] per activation vector: the run it comes
// from, the hook point and layer, the sequence, the position and the token
// (id and text) there, and the vector itself. [WithColumns] declares
// further columns, of type [String] or [Int64], which each Row fills in
// Row.Extra; package trace uses them for the sub-call a row belongs to.
//
//	column      Parquet           Arrow IPC                        DuckDB
//	run         string            utf8                             VARCHAR
//	hook        string            utf8                             VARCHAR
//	layer       int32             int32                            INTEGER
//	sequence    int64             int64                            BIGINT
//	position    int32             int32                            INTEGER
//	token_id    int32             int32                            INTEGER
//	token_text  string            utf8                             VARCHAR
//	values      list<float>       fixed_size_list<float32>[width]  FLOAT[]
//	(extra)     string or int64, nullable
//
// Parquet has no fixed-size list type, so values is a list there; every row
// of a file of width w still holds exactly w values (a writer refuses
// others with [ErrSchema]). A width of 0 allows any length, and the IPC
// column is then a list too.
//
// # Streaming
//
// [NewParquetWriter] and [NewIPCWriter] write to any io.Writer as rows
// come: a writer holds the rows of one row group (one record batch), then
// writes them out, so memory stays flat however large the file grows
// ([WithRowGroupRows]; by default 32 MiB of values). The file is complete
// when Close returns. [ReadParquet] and [ReadIPC] read files back row by
// row, one row group at a time.
//
//	f, err := os.Create("trace.parquet")
//	...
//	w, err := export.NewParquetWriter(f, 3584)
//	...
//	err = w.Write(export.Row{Run: "run-1", Hook: "blocks.3.hook_resid_post", Layer: 3, Values: v})
//	...
//	err = w.Close()
//
// In DuckDB:
//
//	SELECT hook, position, values[1] FROM 'trace.parquet' WHERE layer = 3;
//
// Tests can run such queries with package duckdbtest, as this package's own
// tests do to check its files with an independent reader.
//
// # Concurrency
//
// Writers are not safe for concurrent use; use one per goroutine, or
// serialise the calls.
package export
