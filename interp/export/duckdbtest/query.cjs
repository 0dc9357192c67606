// Runs the SQL query read from standard input in an in-memory DuckDB,
// through its Node package (@duckdb/node-api), and prints the result as
// JSON: {"columns": [{"name", "type"}], "rows": [{column: value}]}.
const fs = require('fs');
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const sql = fs.readFileSync(0, 'utf8');
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
