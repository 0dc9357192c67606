package npmtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirName(t *testing.T) {
	assert.Equal(t, "duckdb-node-api@1.5.6-r.1", dirName([]string{"@duckdb/node-api@1.5.6-r.1"}))
	assert.Equal(t, "duckdb-node-api@1.5.6-r.1+apache-arrow@21.1.0",
		dirName([]string{"@duckdb/node-api@1.5.6-r.1", "apache-arrow@21.1.0"}))
}

func TestInstalled(t *testing.T) {
	modules := filepath.Join(t.TempDir(), "node_modules")
	packages := []string{"@duckdb/node-api@1.5.6-r.1", "apache-arrow@21.1.0"}
	assert.False(t, installed(modules, packages))
	for _, dir := range []string{filepath.Join("@duckdb", "node-api"), "apache-arrow"} {
		require.NoError(t, os.MkdirAll(filepath.Join(modules, dir), 0o755))
		assert.False(t, installed(modules, packages), "a package without package.json is not installed")
		require.NoError(t, os.WriteFile(filepath.Join(modules, dir, "package.json"), []byte("{}"), 0o644))
	}
	assert.True(t, installed(modules, packages))
}

// TestRun runs node on a program that reads its input and its NODE_PATH.
func TestRun(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	modules := t.TempDir()
	var out struct {
		Input    string
		NodePath string `json:"node_path"`
		Big      json.Number
	}
	program := `const input = require('fs').readFileSync(0, 'utf8');
process.stdout.write(JSON.stringify({input, node_path: process.env.NODE_PATH, big: 12345678901234567890}));`
	Run(t, modules, strings.NewReader("Roll for initiative"), &out, "-e", program)
	assert.Equal(t, "Roll for initiative", out.Input)
	assert.Equal(t, modules, out.NodePath)
	assert.Equal(t, json.Number("12345678901234567000"), out.Big, "numbers stay as printed")
}
