package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The independent readers the tests check files with, from npm: DuckDB's
// Node package (prebuilt binaries) for Parquet and the Apache Arrow
// JavaScript library for Arrow IPC.
var nodePackages = []string{"@duckdb/node-api@1.5.6-r.1", "apache-arrow@21.1.0"}

// nodeModules returns a node_modules directory holding nodePackages,
// installing them with npm on first use into the user's cache directory
// (outside the repository), where later test runs find them. It skips the
// test when node or npm is missing or the registry cannot be reached.
func nodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the independent readers run on Node.js")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the independent readers come from npm")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "rlm-test")
	dir := filepath.Join(parent, "node-readers-duckdb-1.5.6-r.1-arrow-21.1.0")
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "apache-arrow", "package.json")); err == nil {
		return modules
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Skipf("no cache directory for the npm packages: %v", err)
	}
	// Install into a directory of our own and rename it into place, so that
	// concurrent test processes never see a half-installed tree.
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		t.Skipf("no cache directory for the npm packages: %v", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-save", "--prefix", tmp}, nodePackages...)
	if out, err := exec.CommandContext(ctx, npm, args...).CombinedOutput(); err != nil {
		t.Skipf("npm could not install the independent readers (is the registry reachable?): %v\n%s", err, tail(out))
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(modules); statErr != nil {
			t.Fatalf("installing the npm packages: %v", err)
		}
		// Another process installed them first.
	}
	return modules
}

// tail returns the end of long command output, for messages.
func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// runNode runs a script of testdata with the npm packages and decodes the
// JSON it prints into out.
func runNode(t *testing.T, modules string, out any, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("node", append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
		}
		t.Fatalf("node %s: %v", script, err)
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("node %s printed what is not JSON: %v\n%.2000s", script, err, stdout.String())
	}
}
