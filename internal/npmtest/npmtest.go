package npmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// installTimeout bounds one npm install.
const installTimeout = 5 * time.Minute

// installing serializes the installs of one process; concurrent processes
// are kept apart by installing into a directory of their own and renaming
// it into place.
var installing sync.Mutex

// Modules returns a node_modules directory that holds packages (npm specs
// such as "apache-arrow@21.1.0"), installing them with npm on first use
// into the user's cache directory (outside the repository), where later
// test runs find them. Each set of packages gets a directory of its own.
// It skips the test when node or npm is missing or the registry cannot be
// reached.
func Modules(t testing.TB, packages ...string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("node is not installed: %s runs on Node.js", strings.Join(packages, " and "))
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("npm is not installed: %s comes from npm", strings.Join(packages, " and "))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "rlm-test")
	dir := filepath.Join(parent, "node-"+dirName(packages))
	modules := filepath.Join(dir, "node_modules")

	installing.Lock()
	defer installing.Unlock()
	if installed(modules, packages) {
		return modules
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Skipf("no cache directory for the npm packages: %v", err)
	}
	tmp, err := os.MkdirTemp(parent, "install-")
	if err != nil {
		t.Skipf("no cache directory for the npm packages: %v", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-save", "--prefix", tmp}, packages...)
	if out, err := exec.CommandContext(ctx, npm, args...).CombinedOutput(); err != nil {
		t.Skipf("npm could not install %s (is the registry reachable?): %v\n%s", strings.Join(packages, " and "), err, tail(out))
	}
	if err := os.Rename(tmp, dir); err != nil && !installed(modules, packages) {
		t.Fatalf("npmtest: installing %s: %v", strings.Join(packages, " and "), err)
	}
	// Else another process installed them first.
	return modules
}

// dirName names the cache directory of a set of packages:
// "@duckdb/node-api@1.5.6-r.1" gives "duckdb-node-api@1.5.6-r.1", and
// several join with "+".
func dirName(packages []string) string {
	names := make([]string, len(packages))
	for i, p := range packages {
		names[i] = strings.ReplaceAll(strings.TrimPrefix(p, "@"), "/", "-")
	}
	return strings.Join(names, "+")
}

// installed reports whether modules holds every package.
func installed(modules string, packages []string) bool {
	for _, p := range packages {
		name := p
		if i := strings.LastIndexByte(p, '@'); i > 0 {
			name = p[:i] // the spec's version
		}
		if _, err := os.Stat(filepath.Join(modules, filepath.FromSlash(name), "package.json")); err != nil {
			return false
		}
	}
	return true
}

// Run runs node with args (a script and its arguments, or -e and a
// program), with NODE_PATH naming modules and stdin, if not nil, as its
// standard input, and decodes the JSON it prints into out, numbers as
// json.Number. A program that fails or prints something else fails the
// test with its output.
func Run(t testing.TB, modules string, stdin io.Reader, out any, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("npmtest: node %s: %v\n%s", args[0], err, tail(stderr.Bytes()))
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("npmtest: node %s printed what is not JSON: %v\n%s", args[0], err, tail(stdout.Bytes()))
	}
}

// tail returns the end of long command output, for messages.
func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}
