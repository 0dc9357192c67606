package interp_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// TestLogitLensQwenVocabulary runs the logit lens and a capture on a model
// with Qwen2.5-0.5B's widths and its 151,936-token vocabulary (one layer,
// F16, tied embeddings): the Go unembedding agrees with llama.cpp's logits
// over the whole vocabulary within 0.1% of the largest logit, and the memory a capture
// holds is what EstimateMemory states: every kept row of logits is 151,936
// float32s (594 KiB per position).
func TestLogitLensQwenVocabulary(t *testing.T) {
	path := llamatest.Model(t, llamatest.Qwen25Config(t, 1))
	lensMatchesModel(t, path, 1e-3)

	m := loadModel(t, path)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Vex'ahlia nocks an arrow; Trinket growls at the shadows. 日本語 🎲")
	names := interp.Names(interp.ActName("resid_post", 0), "ln_final.hook_normalized")
	estimate, err := interp.EstimateMemory(ctx, c, prompts, names, interp.WithAllLogits())
	require.NoError(t, err)
	n := len(prompts[0])
	logits := int64(n) * 151936 * 4
	activations := int64(2*n) * 896 * 8
	t.Logf("capture of %d positions: estimate %d bytes; logits %d, activations %d", n, estimate, logits, activations)
	assert.GreaterOrEqual(t, estimate, logits+activations)
	assert.Less(t, estimate, 2*(logits+activations))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cache, err := interp.RunWithCache(ctx, c, prompts, names, interp.WithAllLogits())
	require.NoError(t, err)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap held by the cache: %d bytes", held)
	assert.Less(t, held, 2*estimate)
	for pos := range n {
		require.Len(t, cache.LogitsAt(0, pos), 151936)
	}
	r, cols := cache.Get(interp.ActName("resid_post", 0), 0).Dims()
	assert.Equal(t, []int{n, 896}, []int{r, cols})
	runtime.KeepAlive(cache)
}
