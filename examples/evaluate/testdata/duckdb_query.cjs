// Runs one SQL query with DuckDB, through its Node package
// (@duckdb/node-api), and prints the rows as a JSON array of objects
// (column name → value; BIGINTs print as strings, lists as arrays).
//
//   NODE_PATH=.../node_modules node duckdb_query.cjs "SELECT * FROM read_parquet('results.parquet')"
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const sql = process.argv[2];
  if (!sql) {
    throw new Error('usage: node duckdb_query.cjs SQL');
  }
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  const reader = await conn.runAndReadAll(sql);
  process.stdout.write(JSON.stringify(reader.getRowObjectsJson()));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
