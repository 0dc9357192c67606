// Runs one SQL query in DuckDB (through its Node package, @duckdb/node-api)
// and prints the result as JSON: {"columns": [{"name", "type"}], "rows":
// [{column: value}]}. Floats print as the shortest decimal that reads back
// to the same double, so float32 values survive exactly; BIGINTs print as
// strings. Usage: node duckdb_query.cjs "SELECT ... FROM read_parquet('f')"
// with NODE_PATH naming the node_modules directory the package is in.
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const sql = process.argv[2];
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  const reader = await conn.runAndReadAll(sql);
  const names = reader.columnNames();
  const types = reader.columnTypes().map((t) => t.toString());
  const columns = names.map((name, i) => ({ name, type: types[i] }));
  process.stdout.write(JSON.stringify({ columns, rows: reader.getRowObjectsJson() }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
