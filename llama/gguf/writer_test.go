package gguf_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

func TestRoundTripTensors(t *testing.T) {
	path := writeSample(t)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()

	want := sampleTensors(t)
	got := f.Tensors()
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.Name, got[i].Name)
		assert.Equal(t, w.Shape, got[i].Shape)
		assert.Equal(t, w.Type, got[i].Type)
		assert.Equal(t, int64(len(w.Data)), got[i].Size)
		assert.Equal(t, int64(128), got[i].Elements())
		data, err := f.TensorData(w.Name)
		require.NoError(t, err)
		assert.Equal(t, w.Data, data, w.Name)

		r, err := f.TensorReader(w.Name)
		require.NoError(t, err)
		streamed, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.Equal(t, w.Data, streamed)

		info, ok := f.Tensor(w.Name)
		require.True(t, ok)
		assert.Equal(t, got[i], info)
	}
	_, ok := f.Tensor("missing")
	assert.False(t, ok)
	_, err = f.TensorData("missing")
	assert.ErrorIs(t, err, gguf.ErrTensorNotFound)
}

// TestTensorFloat32 writes the same values in every encodable type and
// reads them back: exactly for F32, F16 and BF16, within half a quantization
// step for Q8_0 and Q4_0.
func TestTensorFloat32(t *testing.T) {
	// Multiples of 0.5 from -8 to 7.5: exact in F16 and BF16. In each block
	// of 32 the largest magnitude is -8, so Q4_0's scale is exactly 1 and
	// Q8_0's is 8/127.
	values := make([]float32, 64*4)
	for i := range values {
		values[i] = float32(i%32)/2 - 8
	}
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			var buf bytes.Buffer
			w := gguf.NewWriter(&buf)
			require.NoError(t, w.AddFloat32("t", []int64{64, 4}, typ, values))
			require.NoError(t, w.Close())
			f, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			require.NoError(t, err)
			got, err := f.TensorFloat32("t")
			require.NoError(t, err)
			require.Len(t, got, len(values))
			tolerance := 0.0
			switch typ {
			case gguf.TypeQ8_0:
				tolerance = 8.0 / 127 / 2 * 1.01 // half a quantization step, plus F16 rounding of the scale
			case gguf.TypeQ4_0:
				tolerance = 0.5 // integer steps of the scale 1 between -8 and 7
			}
			for i := range values {
				assert.InDelta(t, values[i], got[i], tolerance, "element %d", i)
			}
		})
	}
}

func TestTensorFloat32Unsupported(t *testing.T) {
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	require.NoError(t, w.AddTensor(gguf.Tensor{Name: "t", Shape: []int64{256}, Type: gguf.TypeIQ2_XXS, Data: make([]byte, 66)}))
	require.NoError(t, w.Close())
	f, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	_, err = f.TensorFloat32("t")
	assert.ErrorIs(t, err, gguf.ErrUnsupportedType)
	assert.Contains(t, err.Error(), `tensor "t" of type IQ2_XXS`)
}

func TestAlignment(t *testing.T) {
	for _, alignment := range []uint32{1, 32, 64, 4096} {
		t.Run("", func(t *testing.T) {
			f, err := gguf.Open(writeSample(t, gguf.WithAlignment(alignment)))
			require.NoError(t, err)
			defer f.Close()
			assert.Equal(t, int64(alignment), f.Alignment())
			assert.Zero(t, f.DataOffset()%int64(alignment))
			for _, tensor := range f.Tensors() {
				assert.Zero(t, tensor.Offset%int64(alignment), tensor.Name)
			}
			v, ok := f.Value(gguf.KeyAlignment)
			require.True(t, ok)
			got, _ := gguf.As[uint32](v)
			assert.Equal(t, alignment, got)
			// The data still reads back.
			data, err := f.TensorData("c.weight")
			require.NoError(t, err)
			assert.Equal(t, sampleTensors(t)[2].Data, data)
		})
	}
	t.Run("default", func(t *testing.T) {
		f, err := gguf.Open(writeSample(t))
		require.NoError(t, err)
		defer f.Close()
		assert.Equal(t, int64(gguf.DefaultAlignment), f.Alignment())
		_, ok := f.Value(gguf.KeyAlignment)
		assert.False(t, ok, "the default alignment needs no key")
	})
}

func TestWriterRefusesInvalidTensors(t *testing.T) {
	tests := []struct {
		name    string
		tensor  gguf.Tensor
		message string
	}{
		{"empty name", gguf.Tensor{Shape: []int64{1}, Type: gguf.TypeF32, Data: make([]byte, 4)}, "empty name"},
		{"long name", gguf.Tensor{Name: string(make([]byte, 64)), Shape: []int64{1}, Type: gguf.TypeF32, Data: make([]byte, 4)}, "more than ggml's 63"},
		{"no shape", gguf.Tensor{Name: "t", Type: gguf.TypeF32}, "0 dimensions"},
		{"zero dimension", gguf.Tensor{Name: "t", Shape: []int64{4, 0}, Type: gguf.TypeF32}, "bad shape"},
		{"unknown type", gguf.Tensor{Name: "t", Shape: []int64{1}, Type: gguf.Type(5), Data: make([]byte, 4)}, "not a ggml type"},
		{"partial block", gguf.Tensor{Name: "t", Shape: []int64{16}, Type: gguf.TypeQ8_0, Data: make([]byte, 17)}, "not a multiple of Q8_0's block size 32"},
		{"short data", gguf.Tensor{Name: "t", Shape: []int64{4}, Type: gguf.TypeF32, Data: make([]byte, 15)}, "takes 16 bytes, data has 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := gguf.NewWriter(&buf)
			err := w.AddTensor(tt.tensor)
			assert.ErrorIs(t, err, gguf.ErrCorrupt)
			assert.Contains(t, err.Error(), tt.message)
			assert.Equal(t, err, w.Close(), "Close returns the first error")
			assert.Zero(t, buf.Len(), "nothing is written after an error")
		})
	}
}

func TestWriterRefusesBadMetadata(t *testing.T) {
	w := gguf.NewWriter(io.Discard)
	assert.ErrorIs(t, w.Set("", gguf.ValueOf(1.0)), gguf.ErrCorrupt)
	assert.ErrorIs(t, w.Set("k", gguf.Value{}), gguf.ErrCorrupt)
	assert.ErrorIs(t, w.Set(gguf.KeyAlignment, gguf.ValueOf(uint32(48))), gguf.ErrCorrupt)
	assert.ErrorIs(t, w.Set(gguf.KeyAlignment, gguf.ValueOf(uint64(64))), gguf.ErrCorrupt)
	assert.ErrorIs(t, gguf.NewWriter(io.Discard, gguf.WithAlignment(3)).Close(), gguf.ErrCorrupt)
}

func TestWriterDuplicateTensorAndReplacedKey(t *testing.T) {
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	require.NoError(t, w.Set("a", gguf.ValueOf(uint32(1))))
	require.NoError(t, w.Set("b", gguf.ValueOf("x")))
	require.NoError(t, w.Set("a", gguf.ValueOf("replaced")))
	require.NoError(t, w.AddFloat32("t", []int64{1}, gguf.TypeF32, []float32{1}))
	assert.ErrorIs(t, w.AddFloat32("t", []int64{1}, gguf.TypeF32, []float32{1}), gguf.ErrCorrupt)

	var buf2 bytes.Buffer
	w2 := gguf.NewWriter(&buf2)
	require.NoError(t, w2.Set("a", gguf.ValueOf(uint32(1))))
	require.NoError(t, w2.Set("b", gguf.ValueOf("x")))
	require.NoError(t, w2.Set("a", gguf.ValueOf("replaced")))
	require.NoError(t, w2.Close())
	f, err := gguf.Read(bytes.NewReader(buf2.Bytes()), int64(buf2.Len()))
	require.NoError(t, err)
	kvs := f.KeyValues()
	require.Len(t, kvs, 2)
	assert.Equal(t, "a", kvs[0].Key, "a replaced key keeps its place")
	assert.Equal(t, "replaced", kvs[0].Value.String())
}

// TestCreateLeavesNoPartialFile checks that a failed write leaves nothing at
// the path, and a successful one leaves only the file.
func TestCreateLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.gguf")
	w, err := gguf.Create(path)
	require.NoError(t, err)
	require.Error(t, w.AddTensor(gguf.Tensor{Name: "t"}))
	require.Error(t, w.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)

	w, err = gguf.Create(path)
	require.NoError(t, err)
	require.NoError(t, w.AddFloat32("t", []int64{2}, gguf.TypeF32, []float32{1, 2}))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close twice")
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "model.gguf", entries[0].Name())
	assert.ErrorIs(t, w.Set("late", gguf.ValueOf(true)), gguf.ErrClosed)

	_, err = gguf.Create(filepath.Join(dir, "no", "such", "dir.gguf"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriterReportsWriteErrors(t *testing.T) {
	w := gguf.NewWriter(&failingWriter{n: 10})
	require.NoError(t, w.Set("k", gguf.ValueOf("v")))
	err := w.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full")
}

func TestCloseIsIdempotentAndNilSafe(t *testing.T) {
	var f *gguf.File
	assert.NoError(t, f.Close())
	var w *gguf.Writer
	assert.NoError(t, w.Close())

	f, err := gguf.Open(writeSample(t))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	_, err = f.TensorData("a.weight")
	assert.ErrorIs(t, err, gguf.ErrClosed)
	_, err = f.TensorFloat32("a.weight")
	assert.ErrorIs(t, err, gguf.ErrClosed)
	// Metadata stays readable.
	arch, err := f.Architecture()
	require.NoError(t, err)
	assert.Equal(t, "qwen2", arch)
}

// TestConcurrentReads reads tensors from many goroutines while another
// closes the file; run with -race.
func TestConcurrentReads(t *testing.T) {
	f, err := gguf.Open(writeSample(t))
	require.NoError(t, err)
	want, err := f.TensorFloat32("b.weight")
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := f.TensorFloat32("b.weight")
				if err != nil {
					assert.ErrorIs(t, err, gguf.ErrClosed)
					return
				}
				assert.Equal(t, want, got)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, f.Close())
	}()
	wg.Wait()
}
