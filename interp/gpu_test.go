package interp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// gpuBackend loads ggml's CUDA backend (see llamatest.CUDABackend) and
// returns the name of a GPU device, or skips the test.
func gpuBackend(t *testing.T) string {
	t.Helper()
	require.NoError(t, llama.LoadBackend(llamatest.CUDABackend(t)))
	for _, d := range llama.Devices() {
		if d.Kind == llama.DeviceGPU {
			return d.Name
		}
	}
	t.Skip("the GPU backend loaded, but it found no GPU")
	return ""
}

// TestCaptureOnGPU captures from a model whose layers run on a GPU: the
// activations are read back from GPU memory and agree with the CPU's.
func TestCaptureOnGPU(t *testing.T) {
	device := gpuBackend(t)
	path := llamatest.Model(t, llamatest.DefaultConfig())
	names := interp.Names("blocks.*.hook_resid_post", "blocks.*.attn.hook_pattern", "blocks.1.hook_attn_out")
	capture := func(opts ...llama.ModelOption) *interp.Cache {
		m := loadModel(t, path, opts...)
		c := newContext(t, m)
		prompts := tokenize(t, m, "Critical Role on a GPU")
		cache, err := interp.RunWithCache(context.Background(), c, prompts, names)
		require.NoError(t, err)
		return cache
	}
	cpu := capture(llama.WithGPULayers(0))
	gpu := capture(llama.WithDevices(device), llama.WithGPULayers(99))
	for _, name := range cpu.Names() {
		assert.Less(t, matMaxDiff(cpu.Get(name, 0), gpu.Get(name, 0)), 1e-2, name)
	}
	assert.Less(t, maxAbsDiff(cpu.Logits(0), gpu.Logits(0)), 1e-2)
}
