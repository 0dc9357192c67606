package llama

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKernels(t *testing.T) {
	full := Kernels{Features: []string{"AVX", "AVX2", "F16C", "FMA"}}
	assert.NoError(t, checkKernels(full, false))

	slow := Kernels{Features: []string{"SSE3"}, Missing: []string{"AVX2", "FMA"},
		Searched: []string{"/a", "/b"}, Problems: []string{"/a/libggml-cpu-x.so: bad ELF"}}
	t.Setenv(EnvSlowKernels, "")
	t.Setenv("RLM_KERNELS", "")
	err := checkKernels(slow, false)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrSlowKernels))
	for _, want := range []string{"AVX2, FMA", "/a, /b", "bad ELF", "rlm-kernels", EnvSlowKernels + "=1", "WithSlowKernels"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, checkKernels(slow, true), "accepted by option")
	t.Setenv(EnvSlowKernels, "1")
	assert.NoError(t, checkKernels(slow, false), "accepted by the environment")
}

func TestKernelsString(t *testing.T) {
	assert.Equal(t, "haswell (AVX AVX2 OPENMP)",
		Kernels{Library: "/k/libggml-cpu-haswell.so", Variant: "haswell", Features: []string{"AVX", "AVX2", "OPENMP"}}.String())
	assert.Equal(t, "linked-in (SSE3) missing AVX2, FMA",
		Kernels{Features: []string{"SSE3"}, Missing: []string{"AVX2", "FMA"}}.String())
}
