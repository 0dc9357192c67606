package llama_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"

	"github.com/go-rlm/rlm/internal/kernels"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func TestCPUKernels(t *testing.T) {
	k := llama.CPUKernels()
	t.Logf("CPU kernels: %s from %q", k, k.Library)
	require.NotEmpty(t, k.Features)
	for _, f := range k.Missing {
		assert.NotContains(t, k.Features, f)
	}
	assert.Equal(t, k.Missing, llama.MissingCPUFeatures())
	if k.Library != "" {
		assert.Equal(t, kernels.Variant(k.Library), k.Variant)
		assert.Contains(t, k.Features, "OPENMP", "the libraries are built with OpenMP")
		assert.True(t, slices.Contains(k.Searched, filepath.Dir(k.Library)), "%s comes from %v", k.Library, k.Searched)
	}
	// The report is a copy.
	k.Features[0] = "changed"
	assert.NotEqual(t, "changed", llama.CPUKernels().Features[0])
}

// kernelsReport is what the helper process reports.
type kernelsReport struct {
	Kernels llama.Kernels
	LoadErr string
	Slow    bool // the load error wraps ErrSlowKernels
}

// TestKernelsHelperProcess is not a test: the tests below run the test
// binary again with it, because the kernels are chosen once per process.
func TestKernelsHelperProcess(t *testing.T) {
	model := os.Getenv("RLM_TEST_KERNELS_MODEL")
	if model == "" {
		t.Skip("run by TestKernelSelection")
	}
	r := kernelsReport{Kernels: llama.CPUKernels()}
	var opts []llama.ModelOption
	if os.Getenv("RLM_TEST_ACCEPT_SLOW") == "1" {
		opts = append(opts, llama.WithSlowKernels())
	}
	if m, err := llama.LoadModel(context.Background(), model, opts...); err != nil {
		r.LoadErr, r.Slow = err.Error(), errors.Is(err, llama.ErrSlowKernels)
	} else {
		m.Close()
	}
	require.NoError(t, json.NewEncoder(os.Stdout).Encode(r))
}

func runKernelsHelper(t *testing.T, model string, env ...string) kernelsReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelsHelperProcess$")
	cmd.Env = append(os.Environ(), append([]string{"RLM_TEST_KERNELS_MODEL=" + model}, env...)...)
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	var r kernelsReport
	require.NoError(t, json.Unmarshal(firstLine(out), &r), "%s", out)
	return r
}

func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			return b[:i]
		}
	}
	return b
}

// TestKernelSelection checks where the kernels come from, with libraries
// that `make kernels` built: the best this CPU runs from the directory
// $RLM_KERNELS names, a broken library reported and passed over, and the
// linked-in kernels on request.
func TestKernelSelection(t *testing.T) {
	if !kernels.Supported() {
		t.Skip("kernel libraries are built on linux/amd64 only")
	}
	built, err := kernels.CacheDir()
	require.NoError(t, err)
	if len(kernels.Libraries(built)) == 0 {
		t.Skipf("no kernel libraries in %s: run make kernels", built)
	}
	model := llamatest.Model(t, llamatest.DefaultConfig())
	dir := t.TempDir()
	for _, f := range []string{"libggml-base.so.0", "libggml-cpu-x64.so", "libggml-cpu-haswell.so"} {
		b, err := os.ReadFile(filepath.Join(built, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "libggml-cpu-broken.so"), []byte("not a library"), 0o755))

	t.Run("best of a directory", func(t *testing.T) {
		r := runKernelsHelper(t, model, kernels.EnvDir+"="+dir)
		assert.Equal(t, []string{dir}, r.Kernels.Searched)
		require.Len(t, r.Kernels.Problems, 1)
		assert.Contains(t, r.Kernels.Problems[0], "libggml-cpu-broken.so")
		if !cpu.X86.HasAVX2 {
			t.Skip("this CPU has no AVX2: x64 is its best")
		}
		assert.Equal(t, filepath.Join(dir, "libggml-cpu-haswell.so"), r.Kernels.Library, "haswell scores above x64")
		assert.Equal(t, "haswell", r.Kernels.Variant)
		assert.Contains(t, r.Kernels.Features, "AVX2")
		assert.Empty(t, r.Kernels.Missing)
		assert.Empty(t, r.LoadErr)
	})
	t.Run("linked in", func(t *testing.T) {
		r := runKernelsHelper(t, model, kernels.EnvDir+"="+kernels.Linked)
		assert.Empty(t, r.Kernels.Library)
		assert.Empty(t, r.Kernels.Searched)
		assert.NotContains(t, r.Kernels.Features, "OPENMP")
		if len(r.Kernels.Missing) > 0 {
			// Built with cgo's default flags: refused unless accepted.
			assert.True(t, r.Slow, r.LoadErr)
			assert.Contains(t, r.LoadErr, kernels.EnvDir+"="+kernels.Linked)
			accepted := runKernelsHelper(t, model, kernels.EnvDir+"="+kernels.Linked, "RLM_TEST_ACCEPT_SLOW=1")
			assert.Empty(t, accepted.LoadErr)
			viaEnv := runKernelsHelper(t, model, kernels.EnvDir+"="+kernels.Linked, llama.EnvSlowKernels+"=1")
			assert.Empty(t, viaEnv.LoadErr)
		} else {
			assert.Empty(t, r.LoadErr)
		}
	})
	t.Run("none found", func(t *testing.T) {
		empty := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(empty, "libggml-cpu-broken.so"), nil, 0o755))
		r := runKernelsHelper(t, model, kernels.EnvDir+"="+empty)
		assert.Empty(t, r.Kernels.Library)
		assert.Len(t, r.Kernels.Problems, 1)
		if len(r.Kernels.Missing) > 0 {
			assert.True(t, r.Slow)
			assert.Contains(t, r.LoadErr, empty)
			assert.Contains(t, r.LoadErr, "rlm-kernels")
		}
	})
}
