// Package cmdtest builds the example commands for their tests, with the
// build flags of the test binary itself, so that a `go test -race` run reuses
// the race-enabled build of llama.cpp instead of compiling it once more.
package cmdtest

import (
	"fmt"
	"os/exec"
)

// Build compiles the command in package directory pkg (often ".") to out.
func Build(pkg, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("cmdtest: the go tool is needed to build %s: %w", pkg, err)
	}
	args := []string{"build"}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "-o", out, pkg)
	if msg, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("cmdtest: go %v: %w\n%s", args, err, msg)
	}
	return nil
}
