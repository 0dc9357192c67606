// Package cmdtest builds and runs the example commands in their tests, and
// checks what they leave behind. It builds with the test binary's own race
// flag, so that a `go test -race` run reuses the race-enabled build of
// llama.cpp instead of compiling it again.
package cmdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles the command in package directory pkg (often ".") to out.
func Build(pkg, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("cmdtest: the go tool is needed to build %s: %w", pkg, err)
	}
	args := append([]string{"build"}, BuildFlags()...)
	args = append(args, "-o", out, pkg)
	if msg, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("cmdtest: go %v: %w\n%s", args, err, msg)
	}
	return nil
}

// BuildFlags are the go build flags that match the test binary's own: -race
// under the race detector. Give them (in GOFLAGS, say) to builds that a test
// starts by other means, so that they reuse the same build of llama.cpp.
func BuildFlags() []string {
	if raceEnabled {
		return []string{"-race"}
	}
	return nil
}

// Main builds the command in the current directory into a temporary
// directory, sets *binary to its path, runs the tests and exits: call it
// from TestMain.
func Main(m *testing.M, binary *string) {
	os.Exit(buildAndRun(m, binary))
}

func buildAndRun(m *testing.M, binary *string) int {
	dir, err := os.MkdirTemp("", "cmdtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*binary = filepath.Join(dir, filepath.Base(wd))
	if err := Build(".", *binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Run runs binary with args and returns its exit status and output. A
// command that cannot start fails the test.
func Run(t testing.TB, binary string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errOut.String()
	case err != nil:
		t.Fatalf("cmdtest: run %s: %v", binary, err)
	}
	return 0, out.String(), errOut.String()
}
