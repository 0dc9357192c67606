// Reads an Arrow IPC file with the Apache Arrow JavaScript library and
// prints it as JSON: {"schema": [{"name", "type"}], "rows": [{column:
// value}]}, lists as arrays and 64-bit integers as strings. Usage: node
// arrow_read.cjs FILE, with NODE_PATH naming the node_modules directory the
// apache-arrow package is in.
const fs = require('fs');
const { tableFromIPC } = require('apache-arrow');

const table = tableFromIPC(fs.readFileSync(process.argv[2]));
const schema = table.schema.fields.map((f) => ({ name: f.name, type: String(f.type) }));
const rows = [];
for (const row of table) {
  const out = {};
  for (const f of table.schema.fields) {
    const v = row[f.name];
    if (typeof v === 'bigint') {
      out[f.name] = v.toString();
    } else if (v !== null && typeof v === 'object' && typeof v.toArray === 'function') {
      out[f.name] = Array.from(v.toArray());
    } else {
      out[f.name] = v;
    }
  }
  rows.push(out);
}
process.stdout.write(JSON.stringify({ schema, rows }));
