//go:build !(linux && (amd64 || arm64))

package repl

import (
	"errors"

	"golang.org/x/net/bpf"
)

func seccompSupported() bool { return false }

func seccompFilter(int) ([]bpf.RawInstruction, error) {
	return nil, errors.New("seccomp: no filter for this architecture")
}
