package llama_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// gpus loads the CUDA backend and returns the GPU devices, or skips.
func gpus(t *testing.T) []llama.Device {
	t.Helper()
	require.NoError(t, llama.LoadBackend(llamatest.CUDABackend(t)))
	var out []llama.Device
	for _, d := range llama.Devices() {
		if d.Kind == llama.DeviceGPU {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Skip("the CUDA backend loaded, but it found no GPU")
	}
	return out
}

// TestGPUMatchesCPU runs a generated model wholly on a GPU and on the CPU:
// the logits agree within what F32 arithmetic in another order allows.
func TestGPUMatchesCPU(t *testing.T) {
	devs := gpus(t)
	path := llamatest.Model(t, llamatest.DefaultConfig())
	cpu := loadModel(t, path, llama.WithGPULayers(0))
	gpu := loadModel(t, path, llama.WithDevices(devs[0].Name), llama.WithGPULayers(999))
	toks, err := cpu.Tokenize("Roll for initiative", false, false)
	require.NoError(t, err)
	want := lastLogits(t, newContext(t, cpu), toks)
	got := lastLogits(t, newContext(t, gpu), toks)
	assert.Less(t, maxAbsDiff(want, got), 1e-2)
}

// TestModelStaysOnItsDevice pins a model to the second GPU: the memory it
// takes comes from that device, not the first.
func TestModelStaysOnItsDevice(t *testing.T) {
	devs := gpus(t)
	if len(devs) < 2 {
		t.Skip("needs two GPUs")
	}
	cfg := llamatest.DefaultConfig()
	cfg.Embd, cfg.FF, cfg.Layers = 512, 2048, 8 // about 100 MB: visible in the devices' free memory
	path := llamatest.Model(t, cfg)
	free := func(name string) uint64 {
		for _, d := range llama.Devices() {
			if d.Name == name {
				return d.FreeMemory
			}
		}
		t.Fatalf("device %s is gone", name)
		return 0
	}
	before0, before1 := free(devs[0].Name), free(devs[1].Name)
	m := loadModel(t, path, llama.WithDevices(devs[1].Name), llama.WithGPULayers(999))
	c := newContext(t, m)
	_, err := c.Generate(context.Background(), llama.Text("Hi"), llama.WithMaxTokens(4))
	require.NoError(t, err)
	used0, used1 := int64(before0)-int64(free(devs[0].Name)), int64(before1)-int64(free(devs[1].Name))
	t.Logf("memory taken: %s %d MiB, %s %d MiB", devs[0].Name, used0>>20, devs[1].Name, used1>>20)
	assert.Greater(t, used1, int64(64<<20), "the weights are on the second GPU")
	assert.Less(t, used0, used1/4, "and not on the first")
}
