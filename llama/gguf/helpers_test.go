package gguf_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// raw builds GGUF bytes field by field, for files the Writer refuses to make.
type raw struct{ bytes.Buffer }

func (r *raw) u32(v uint32) *raw {
	binary.Write(&r.Buffer, binary.LittleEndian, v)
	return r
}

func (r *raw) u64(v uint64) *raw {
	binary.Write(&r.Buffer, binary.LittleEndian, v)
	return r
}

func (r *raw) str(s string) *raw {
	r.u64(uint64(len(s)))
	r.WriteString(s)
	return r
}

// header writes the magic, version 3 and the two counts.
func (r *raw) header(nTensors, nKV uint64) *raw {
	r.WriteString("GGUF")
	return r.u32(3).u64(nTensors).u64(nKV)
}

// kvU32 writes a u32 key/value entry.
func (r *raw) kvU32(key string, v uint32) *raw {
	return r.str(key).u32(uint32(gguf.ValueUint32)).u32(v)
}

// tensor writes a tensor info.
func (r *raw) tensor(name string, shape []uint64, typ gguf.Type, offset uint64) *raw {
	r.str(name).u32(uint32(len(shape)))
	for _, d := range shape {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// add appends the bytes of other.
func (r *raw) add(other *raw) *raw {
	r.Write(other.Bytes())
	return r
}

// pad appends zeros up to a multiple of align bytes, then n more bytes.
func (r *raw) pad(align, n int) *raw {
	for r.Len()%align != 0 {
		r.WriteByte(0)
	}
	r.Write(make([]byte, n))
	return r
}

// writeFile writes data to a new file in a test's temporary directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

// sampleValues holds one metadata entry of every scalar type and an array of
// every element type.
var sampleValues = []gguf.KeyValue{
	{Key: "general.architecture", Value: gguf.ValueOf("qwen2")},
	{Key: "test.u8", Value: gguf.ValueOf(uint8(200))},
	{Key: "test.i8", Value: gguf.ValueOf(int8(-100))},
	{Key: "test.u16", Value: gguf.ValueOf(uint16(60000))},
	{Key: "test.i16", Value: gguf.ValueOf(int16(-30000))},
	{Key: "test.u32", Value: gguf.ValueOf(uint32(4000000000))},
	{Key: "test.i32", Value: gguf.ValueOf(int32(-2000000000))},
	{Key: "test.f32", Value: gguf.ValueOf(float32(1.5))},
	{Key: "test.bool", Value: gguf.ValueOf(true)},
	{Key: "test.str", Value: gguf.ValueOf("héllo\x00world")},
	{Key: "test.u64", Value: gguf.ValueOf(uint64(math.MaxUint64))},
	{Key: "test.i64", Value: gguf.ValueOf(int64(math.MinInt64))},
	{Key: "test.f64", Value: gguf.ValueOf(math.Pi)},
	{Key: "test.arr.u8", Value: gguf.ArrayOf([]uint8{1, 2, 255})},
	{Key: "test.arr.i8", Value: gguf.ArrayOf([]int8{-1, 0, 1})},
	{Key: "test.arr.u16", Value: gguf.ArrayOf([]uint16{1, 65535})},
	{Key: "test.arr.i16", Value: gguf.ArrayOf([]int16{-32768, 32767})},
	{Key: "test.arr.u32", Value: gguf.ArrayOf([]uint32{7})},
	{Key: "test.arr.i32", Value: gguf.ArrayOf([]int32{-7, 7})},
	{Key: "test.arr.f32", Value: gguf.ArrayOf([]float32{0.25, -2})},
	{Key: "test.arr.bool", Value: gguf.ArrayOf([]bool{true, false, true})},
	{Key: "test.arr.str", Value: gguf.ArrayOf([]string{"a", "", "ccc"})},
	{Key: "test.arr.u64", Value: gguf.ArrayOf([]uint64{1 << 40})},
	{Key: "test.arr.i64", Value: gguf.ArrayOf([]int64{-1 << 40})},
	{Key: "test.arr.f64", Value: gguf.ArrayOf([]float64{1e300})},
	{Key: "test.arr.empty", Value: gguf.ArrayOf([]uint32{})},
}

// sampleTensors returns three small tensors of different types.
func sampleTensors(t testing.TB) []gguf.Tensor {
	t.Helper()
	values := make([]float32, 64*2)
	for i := range values {
		values[i] = float32(i%17) - 8
	}
	var tensors []gguf.Tensor
	for _, spec := range []struct {
		name string
		typ  gguf.Type
	}{{"a.weight", gguf.TypeF32}, {"b.weight", gguf.TypeF16}, {"c.weight", gguf.TypeQ8_0}} {
		data, err := gguf.EncodeFloat32(spec.typ, values)
		require.NoError(t, err)
		tensors = append(tensors, gguf.Tensor{Name: spec.name, Shape: []int64{64, 2}, Type: spec.typ, Data: data})
	}
	return tensors
}

// writeSample writes sampleValues and sampleTensors with the Writer and
// returns the path.
func writeSample(t testing.TB, opts ...gguf.WriterOption) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.gguf")
	w, err := gguf.Create(path, opts...)
	require.NoError(t, err)
	for _, kv := range sampleValues {
		require.NoError(t, w.Set(kv.Key, kv.Value))
	}
	for _, tensor := range sampleTensors(t) {
		require.NoError(t, w.AddTensor(tensor))
	}
	require.NoError(t, w.Close())
	return path
}

// sampleBytes returns the bytes of a sample file.
func sampleBytes(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(writeSample(t))
	require.NoError(t, err)
	return data
}

func mkdir(path string) error { return os.Mkdir(path, 0o755) }
