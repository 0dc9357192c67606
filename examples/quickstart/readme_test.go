package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"

	"github.com/go-rlm/rlm/llama/llamatest"
)

// TestREADMEBuildRunsFullSpeedKernels builds the quick start as README tells
// a user to, with a plain `go build` and no CGO flags in the environment (so
// llama.cpp's linked-in kernels lack AVX2 and FMA), runs it, and checks the
// CPU kernels it reports: none of this CPU's vector extensions missing. It
// fails where the kernel libraries have not been built (`make kernels`), as
// the program itself then does, and checks that failure too.
func TestREADMEBuildRunsFullSpeedKernels(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = plainEnv()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	model := llamatest.Model(t, llamatest.DefaultConfig())
	doc := filepath.Join(t.TempDir(), "doc.txt")
	require.NoError(t, os.WriteFile(doc, []byte("Matt: Roll initiative.\nLaura: 17.\n"), 0o644))
	run := exec.Command(bin, "-controller", model, "-worker", model, "-doc", doc, "-q", "How many rolls?",
		"-iterations", "1", "-max-reply", "8", "-ctx", "8192", "-threads", "1")
	run.Env = plainEnv()
	out, err = run.CombinedOutput()
	require.NoError(t, err, "%s", out)

	line := regexp.MustCompile(`(?m)^CPU kernels: +(.*)$`).FindStringSubmatch(string(out))
	require.NotNil(t, line, "%s", out)
	kernels := line[1]
	t.Logf("a plain build runs %s", kernels)
	assert.NotContains(t, kernels, "missing")
	if !cpu.X86.HasAVX2 {
		return
	}
	for _, f := range []string{" AVX2 ", " FMA ", " F16C "} {
		assert.Contains(t, kernels, f)
	}

	// Without the libraries, the same binary stops before running slowly.
	slow := exec.Command(bin, "-controller", model, "-worker", model, "-doc", doc, "-q", "How many rolls?")
	slow.Env = append(plainEnv(), "RLM_KERNELS="+t.TempDir())
	out, err = slow.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "slow CPU kernels")
	assert.Contains(t, string(out), "rlm-kernels")
}

// plainEnv is this process's environment without the CGO flags that make
// and CI set.
func plainEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "CGO_") || name == "CGO_ENABLED" {
			env = append(env, kv)
		}
	}
	return env
}
