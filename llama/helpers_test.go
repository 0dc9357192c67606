package llama_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// Tests use one thread: tiny models gain nothing from a second one (this
// package's tests take 1.4x as long with two), and the suite runs beside
// other work on small machines.
const testThreads = 1

// tinyModel returns a loaded default generated model (4 layers, n_embd 64),
// closed when the test ends.
func tinyModel(t testing.TB) *llama.Model {
	t.Helper()
	return loadModel(t, llamatest.Model(t, llamatest.DefaultConfig()))
}

func loadModel(t testing.TB, path string, opts ...llama.ModelOption) *llama.Model {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func newContext(t testing.TB, m *llama.Model, opts ...llama.ContextOption) *llama.Context {
	t.Helper()
	opts = append([]llama.ContextOption{llama.WithContextSize(1024), llama.WithThreads(testThreads, testThreads)}, opts...)
	c, err := m.NewContext(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// lastLogits decodes prompt into sequence seq of a cleared context and
// returns the logits at its last token.
func lastLogits(t testing.TB, c *llama.Context, tokens []llama.Token) []float32 {
	t.Helper()
	require.NoError(t, c.ClearKV())
	var b llama.Batch
	b.AddSequence(tokens, 0, 0, true)
	require.NoError(t, c.Decode(context.Background(), &b))
	logits, err := c.Logits(b.Len() - 1)
	require.NoError(t, err)
	return logits
}

// seqEnd is c.SequenceEnd, which must succeed.
func seqEnd(t testing.TB, c *llama.Context, seq int) int {
	t.Helper()
	n, err := c.SequenceEnd(seq)
	require.NoError(t, err)
	return n
}

// isEOG is m.IsEndOfGeneration, which must succeed.
func isEOG(t testing.TB, m *llama.Model, tok llama.Token) bool {
	t.Helper()
	eog, err := m.IsEndOfGeneration(tok)
	require.NoError(t, err)
	return eog
}

// texts makes plain-text prompts.
func texts(ss ...string) []llama.Prompt {
	out := make([]llama.Prompt, len(ss))
	for i, s := range ss {
		out[i] = llama.Text(s)
	}
	return out
}

// controlTexts makes prompts whose control-token text is parsed.
func controlTexts(ss ...string) []llama.Prompt {
	out := make([]llama.Prompt, len(ss))
	for i, s := range ss {
		out[i] = llama.TextWithControlTokens(s)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		x := float64(a[i] - b[i])
		if x < 0 {
			x = -x
		}
		d = max(d, x)
	}
	return d
}

// readModel returns the metadata and tensors of a GGUF file.
func readModel(t testing.TB, path string) ([]gguf.KeyValue, []gguf.Tensor) {
	t.Helper()
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var tensors []gguf.Tensor
	for _, info := range f.Tensors() {
		data, err := f.TensorData(info.Name)
		require.NoError(t, err)
		tensors = append(tensors, gguf.Tensor{Name: info.Name, Shape: info.Shape, Type: info.Type, Data: data})
	}
	return f.KeyValues(), tensors
}

// withoutKey writes a copy of the model at src without metadata key.
func withoutKey(t testing.TB, src, key string) string {
	t.Helper()
	return editedModel(t, src, key, nil)
}

// withKey writes a copy of the model at src with metadata key set to value.
func withKey(t testing.TB, src, key, value string) string {
	t.Helper()
	v := gguf.ValueOf(value)
	return editedModel(t, src, key, &v)
}

// editedModel writes a copy of the model at src with metadata key set to
// value, or removed when value is nil.
func editedModel(t testing.TB, src, key string, value *gguf.Value) string {
	t.Helper()
	kvs, tensors := readModel(t, src)
	path := filepath.Join(t.TempDir(), "edited.gguf")
	w, err := gguf.Create(path)
	require.NoError(t, err)
	set := false
	for _, kv := range kvs {
		switch {
		case kv.Key != key:
			require.NoError(t, w.Set(kv.Key, kv.Value))
		case value != nil:
			require.NoError(t, w.Set(kv.Key, *value))
			set = true
		}
	}
	if value != nil && !set {
		require.NoError(t, w.Set(key, *value))
	}
	for _, tensor := range tensors {
		require.NoError(t, w.AddTensor(tensor))
	}
	require.NoError(t, w.Close())
	return path
}

// splitModel writes the model at src as parts files, as gguf-split does,
// and returns their paths, the first one first.
func splitModel(t testing.TB, src string, parts int) []string {
	t.Helper()
	kvs, tensors := readModel(t, src)
	paths, err := gguf.WriteSplit(filepath.Join(t.TempDir(), "split"), parts, kvs, tensors)
	require.NoError(t, err)
	return paths
}
