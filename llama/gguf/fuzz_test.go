package gguf_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// FuzzReadGGUF reads arbitrary bytes as a GGUF file. Nothing may panic or
// allocate beyond the input's size; a refused input gives an *Error wrapping
// a sentinel; an accepted one has tensors within the file, reads all its
// tensor data, and survives a round trip through the Writer.
func FuzzReadGGUF(f *testing.F) {
	valid := sampleBytes(f)
	f.Add(valid)
	var aligned bytes.Buffer
	w := gguf.NewWriter(&aligned, gguf.WithAlignment(64))
	require.NoError(f, w.Set("tokenizer.ggml.tokens", gguf.ArrayOf([]string{"a", "b"})))
	require.NoError(f, w.Set("tokenizer.ggml.scores", gguf.ArrayOf([]float32{0, 1})))
	require.NoError(f, w.AddFloat32("q4", []int64{32, 2}, gguf.TypeQ4_0, make([]float32, 64)))
	require.NoError(f, w.AddTensor(gguf.Tensor{Name: "q6", Shape: []int64{256}, Type: gguf.TypeQ6_K, Data: make([]byte, 210)}))
	require.NoError(f, w.Close())
	f.Add(aligned.Bytes())

	// The bad-file kinds of TestOpenBadFiles.
	f.Add([]byte{})
	f.Add([]byte("GGUF"))
	f.Add(valid[:12])
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:len(valid)-40])
	f.Add(append([]byte("GGML"), valid[4:]...))
	v1 := bytes.Clone(valid)
	v1[4] = 1
	f.Add(v1)
	f.Add(new(raw).header(math.MaxInt64, 0).pad(1024, 0).Bytes())
	f.Add(new(raw).header(0, 1<<62).pad(1024, 0).Bytes())
	f.Add(new(raw).header(0, 1).u64(math.MaxUint64).pad(1024, 0).Bytes())
	f.Add(new(raw).header(1, 0).tensor("t", []uint64{8, 0}, gguf.TypeF32, 0).pad(32, 64).Bytes())

	sentinels := []error{gguf.ErrNotGGUF, gguf.ErrVersion, gguf.ErrTruncated, gguf.ErrCorrupt}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var e *gguf.Error
			require.ErrorAs(t, err, &e)
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			require.True(t, known, "unexpected error kind: %v", err)
			return
		}
		var out bytes.Buffer
		w := gguf.NewWriter(&out)
		for _, kv := range file.KeyValues() {
			require.NoError(t, w.Set(kv.Key, kv.Value))
		}
		for _, info := range file.Tensors() {
			require.GreaterOrEqual(t, info.Offset, file.DataOffset())
			require.LessOrEqual(t, info.Offset+info.Size, int64(len(data)))
			require.Zero(t, info.Offset%file.Alignment())
			raw, err := file.TensorData(info.Name)
			require.NoError(t, err)
			if gguf.CanDequantize(info.Type) {
				values, err := file.TensorFloat32(info.Name)
				require.NoError(t, err)
				require.Len(t, values, int(info.Elements()))
			}
			require.NoError(t, w.AddTensor(gguf.Tensor{Name: info.Name, Shape: info.Shape, Type: info.Type, Data: raw}))
		}
		require.NoError(t, w.Close())
		again, err := gguf.Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		require.NoError(t, err)
		assert.Equal(t, len(file.KeyValues()), len(again.KeyValues()))
		assert.Equal(t, file.Alignment(), again.Alignment())
		require.Equal(t, len(file.Tensors()), len(again.Tensors()))
		for i, info := range file.Tensors() {
			other := again.Tensors()[i]
			assert.Equal(t, info.Name, other.Name)
			assert.Equal(t, info.Shape, other.Shape)
			assert.Equal(t, info.Size, other.Size)
		}
	})
}
