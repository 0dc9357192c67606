package repl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// interpreter is a Python installation, probed once per configured name.
type interpreter struct {
	executable string   // the real binary (not a version-manager shim)
	version    string   // e.g. "3.11.7"
	path       []string // sys.path of an isolated interpreter with site-packages
}

// The probe runs with the host's environment, so that version-manager shims
// resolve; the REPL's own children then start the real binary directly, with
// a scrubbed environment and without the site module.
// It parses on Python 2 as well, so that a too old interpreter is reported
// as such rather than as a syntax error.
const probeScript = `import sys, json
sys.stdout.write(json.dumps({"executable": sys.executable, "version": list(sys.version_info[:3]),
    "path": [p for p in sys.path if p]}))`

var interpreters = struct {
	sync.Mutex
	m map[string]interpreter
}{m: map[string]interpreter{}}

// findInterpreter resolves python (a name looked up in PATH, or a path) to an
// interpreter of version 3.8 or newer.
func findInterpreter(ctx context.Context, python string) (interpreter, error) {
	interpreters.Lock()
	defer interpreters.Unlock()
	if in, ok := interpreters.m[python]; ok {
		return in, nil
	}
	in, err := probeInterpreter(ctx, python)
	if err != nil {
		return interpreter{}, err
	}
	interpreters.m[python] = in
	return in, nil
}

func probeInterpreter(ctx context.Context, python string) (interpreter, error) {
	path, err := exec.LookPath(python)
	if err != nil {
		return interpreter{}, fmt.Errorf("%w: %w", ErrNoPython, err)
	}
	cmd := exec.CommandContext(ctx, path, "-I", "-c", probeScript)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return interpreter{}, fmt.Errorf("repl: start: probe %s: %w", path, ctx.Err())
		}
		return interpreter{}, fmt.Errorf("%w: %s: %w: %s", ErrNoPython, path, err, strings.TrimSpace(lastLine(stderr.String())))
	}
	var probe struct {
		Executable string   `json:"executable"`
		Version    []int    `json:"version"`
		Path       []string `json:"path"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &probe); err != nil || len(probe.Version) != 3 {
		return interpreter{}, fmt.Errorf("%w: %s: unexpected answer to the version probe: %q", ErrNoPython, path, stdout.String())
	}
	version := fmt.Sprintf("%d.%d.%d", probe.Version[0], probe.Version[1], probe.Version[2])
	if probe.Version[0] != 3 || probe.Version[1] < 8 {
		return interpreter{}, fmt.Errorf("%w: %s is Python %s", ErrNoPython, path, version)
	}
	in := interpreter{executable: probe.Executable, version: version, path: probe.Path}
	if in.executable == "" {
		in.executable = path
	}
	return in, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
