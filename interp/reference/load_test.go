package reference_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp/reference"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// rewriteModel copies the generated model src to a new file, with the
// metadata that edit returns and without the tensors named in drop.
func rewriteModel(t *testing.T, src string, edit func([]gguf.KeyValue) []gguf.KeyValue, drop ...string) string {
	t.Helper()
	f, err := gguf.Open(src)
	require.NoError(t, err)
	defer f.Close()
	dst := filepath.Join(t.TempDir(), "model.gguf")
	w, err := gguf.Create(dst)
	require.NoError(t, err)
	kvs := f.KeyValues()
	if edit != nil {
		kvs = edit(kvs)
	}
	for _, kv := range kvs {
		require.NoError(t, w.Set(kv.Key, kv.Value))
	}
	for _, info := range f.Tensors() {
		if slices.Contains(drop, info.Name) {
			continue
		}
		data, err := f.TensorData(info.Name)
		require.NoError(t, err)
		require.NoError(t, w.AddTensor(gguf.Tensor{Name: info.Name, Shape: info.Shape, Type: info.Type, Data: data}))
	}
	require.NoError(t, w.Close())
	return dst
}

// setKey returns an edit that sets key to v, adding it when absent.
func setKey(key string, v gguf.Value) func([]gguf.KeyValue) []gguf.KeyValue {
	return func(kvs []gguf.KeyValue) []gguf.KeyValue {
		for i := range kvs {
			if kvs[i].Key == key {
				kvs[i].Value = v
				return kvs
			}
		}
		return append(kvs, gguf.KeyValue{Key: key, Value: v})
	}
}

func TestLoadErrors(t *testing.T) {
	src := llamatest.Model(t, llamatest.DefaultConfig())
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing file", filepath.Join(t.TempDir(), "none.gguf"), fs.ErrNotExist},
		{"another architecture", rewriteModel(t, src, setKey(gguf.KeyArchitecture, gguf.ValueOf("llama"))), reference.ErrUnsupported},
		{"missing tensor", rewriteModel(t, src, nil, "blk.2.ffn_up.weight"), reference.ErrUnsupported},
		{"missing hyperparameter", rewriteModel(t, src, func(kvs []gguf.KeyValue) []gguf.KeyValue {
			return slices.DeleteFunc(kvs, func(kv gguf.KeyValue) bool { return kv.Key == "qwen2.attention.head_count" })
		}), gguf.ErrKeyNotFound},
		{"rope scaling", rewriteModel(t, src, setKey("qwen2.rope.scaling.type", gguf.ValueOf("yarn"))), reference.ErrUnsupported},
		{"heads not grouped", rewriteModel(t, src, setKey("qwen2.attention.head_count_kv", gguf.ValueOf(uint32(3)))), reference.ErrUnsupported},
		{"rotary dimension", rewriteModel(t, src, setKey("qwen2.rope.dimension_count", gguf.ValueOf(uint32(8)))), reference.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := reference.Load(tt.path)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorContains(t, err, "reference: load")
		})
	}
}

func TestForwardErrors(t *testing.T) {
	m, err := reference.Load(llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	_, err = m.Forward(context.Background(), nil)
	assert.ErrorContains(t, err, "reference: forward: no tokens")
	_, err = m.Forward(context.Background(), []int{1, llamatest.VocabSize})
	assert.ErrorContains(t, err, "outside the vocabulary")
	_, err = m.Forward(context.Background(), []int{-1})
	assert.ErrorContains(t, err, "outside the vocabulary")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m.Forward(ctx, []int{1, 2})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConfigFromMetadata(t *testing.T) {
	cfg := llamatest.Config{Layers: 3, Embd: 96, Heads: 6, KVHeads: 2, FF: 80, Seed: 2}
	m, err := reference.Load(llamatest.Model(t, cfg))
	require.NoError(t, err)
	assert.Equal(t, reference.Config{
		Layers: 3, Embd: 96, Heads: 6, KVHeads: 2, HeadDim: 16, FF: 80, Vocab: llamatest.VocabSize,
		RopeBase: 1e6, RMSEps: float64(float32(1e-6)),
	}, m.Config())
}

// TestReferenceOptionalTensors runs models without the optional tensors of
// Qwen2 (the output projection, tied to the token embeddings instead, and
// the query/key/value biases) through both the reference and llama.cpp.
func TestReferenceOptionalTensors(t *testing.T) {
	src := llamatest.Model(t, llamatest.Config{Layers: 2, Seed: 6})
	var biases []string
	for l := range 2 {
		for _, b := range []string{"attn_q.bias", "attn_k.bias", "attn_v.bias"} {
			biases = append(biases, "blk."+string(rune('0'+l))+"."+b)
		}
	}
	for name, file := range map[string]string{
		"tied output": rewriteModel(t, src, nil, "output.weight"),
		"no biases":   rewriteModel(t, src, nil, biases...),
	} {
		t.Run(name, func(t *testing.T) {
			tokens := tokensOf("Hello, world")
			got := runLlama(t, file, tokens, allNodes...)
			ref, err := reference.Load(file)
			require.NoError(t, err)
			res, err := ref.Forward(context.Background(), tokens)
			require.NoError(t, err)
			compareAll(t, 2, res, got, tolHalf)
		})
	}
}
