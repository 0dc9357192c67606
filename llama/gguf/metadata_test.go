package gguf_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// TestRoundTripEveryValueType writes a value of every scalar type and an
// array of every element type, reads them back, and compares them in order.
func TestRoundTripEveryValueType(t *testing.T) {
	f, err := gguf.Open(writeSample(t))
	require.NoError(t, err)
	defer f.Close()

	got := f.KeyValues()
	require.Len(t, got, len(sampleValues))
	for i, want := range sampleValues {
		assert.Equal(t, want.Key, got[i].Key)
		assert.Equal(t, want.Value.Type(), got[i].Value.Type(), want.Key)
		assert.Equal(t, want.Value.ElemType(), got[i].Value.ElemType(), want.Key)
		assert.Equal(t, want.Value.Len(), got[i].Value.Len(), want.Key)
		assert.Equal(t, want.Value.Interface(), got[i].Value.Interface(), want.Key)
	}
}

func TestFileAccessors(t *testing.T) {
	f, err := gguf.Open(writeSample(t))
	require.NoError(t, err)
	defer f.Close()

	arch, err := f.Architecture()
	require.NoError(t, err)
	assert.Equal(t, "qwen2", arch)

	s, err := f.String("test.str")
	require.NoError(t, err)
	assert.Equal(t, "héllo\x00world", s)

	u, err := f.Uint("test.u32")
	require.NoError(t, err)
	assert.Equal(t, uint64(4000000000), u)
	u, err = f.Uint("test.u64")
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), u)

	i, err := f.Int("test.i64")
	require.NoError(t, err)
	assert.Equal(t, int64(math.MinInt64), i)
	i, err = f.Int("test.u16")
	require.NoError(t, err)
	assert.Equal(t, int64(60000), i)

	x, err := f.Float("test.f32")
	require.NoError(t, err)
	assert.Equal(t, 1.5, x)

	b, err := f.Bool("test.bool")
	require.NoError(t, err)
	assert.True(t, b)

	strs, err := f.Strings("test.arr.str")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "", "ccc"}, strs)

	arr, err := f.Array("test.arr.i32")
	require.NoError(t, err)
	ints, ok := gguf.ArrayValues[int32](arr)
	require.True(t, ok)
	assert.Equal(t, []int32{-7, 7}, ints)

	v, ok := f.Value("test.u8")
	require.True(t, ok)
	u8, ok := gguf.As[uint8](v)
	assert.True(t, ok)
	assert.Equal(t, uint8(200), u8)
	_, ok = gguf.As[uint16](v)
	assert.False(t, ok, "As needs the exact type")
}

func TestFileAccessorErrors(t *testing.T) {
	f, err := gguf.Open(writeSample(t))
	require.NoError(t, err)
	defer f.Close()

	tests := []struct {
		name    string
		call    func() error
		want    error
		message string
	}{
		{"missing", func() error { _, err := f.String("no.such.key"); return err }, gguf.ErrKeyNotFound, `key "no.such.key" is absent`},
		{"string of a u32", func() error { _, err := f.String("test.u32"); return err }, gguf.ErrKeyType, `key "test.u32" is u32, want str`},
		{"uint of a negative", func() error { _, err := f.Uint("test.i8"); return err }, gguf.ErrKeyType, "is i8, want an unsigned integer"},
		{"int of a huge u64", func() error { _, err := f.Int("test.u64"); return err }, gguf.ErrKeyType, "want an integer"},
		{"float of a string", func() error { _, err := f.Float("test.str"); return err }, gguf.ErrKeyType, "want a float"},
		{"bool of a u8", func() error { _, err := f.Bool("test.u8"); return err }, gguf.ErrKeyType, "want bool"},
		{"strings of u32s", func() error { _, err := f.Strings("test.arr.u32"); return err }, gguf.ErrKeyType, "is arr[u32,1], want arr[str]"},
		{"array of a scalar", func() error { _, err := f.Array("test.u32"); return err }, gguf.ErrKeyType, "want arr"},
		{"file type absent", func() error { _, err := f.FileType(); return err }, gguf.ErrKeyNotFound, "general.file_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.message)
			assert.Contains(t, err.Error(), f.Path())
		})
	}
}

func TestValueConversions(t *testing.T) {
	tests := []struct {
		v        gguf.Value
		uint     uint64
		uintOK   bool
		int      int64
		intOK    bool
		float    float64
		floatOK  bool
		text     string
		describe string
	}{
		{v: gguf.ValueOf(uint8(7)), uint: 7, uintOK: true, int: 7, intOK: true, text: "7"},
		{v: gguf.ValueOf(int16(-3)), int: -3, intOK: true, text: "-3"},
		{v: gguf.ValueOf(int64(5)), uint: 5, uintOK: true, int: 5, intOK: true, text: "5"},
		{v: gguf.ValueOf(uint64(math.MaxUint64)), uint: math.MaxUint64, uintOK: true, text: "18446744073709551615"},
		{v: gguf.ValueOf(float32(0.5)), float: 0.5, floatOK: true, text: "0.5"},
		{v: gguf.ValueOf("x"), text: "x"},
		{v: gguf.ValueOf(false), text: "false"},
		{v: gguf.ArrayOf([]string{"a", "b"}), text: "[a b]"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			u, ok := tt.v.Uint()
			assert.Equal(t, tt.uintOK, ok)
			assert.Equal(t, tt.uint, u)
			i, ok := tt.v.Int()
			assert.Equal(t, tt.intOK, ok)
			assert.Equal(t, tt.int, i)
			x, ok := tt.v.Float()
			assert.Equal(t, tt.floatOK, ok)
			assert.Equal(t, tt.float, x)
			assert.Equal(t, tt.text, tt.v.String())
		})
	}
}

func TestArrayOfCopies(t *testing.T) {
	xs := []uint32{1, 2}
	v := gguf.ArrayOf(xs)
	xs[0] = 99
	got, ok := gguf.ArrayValues[uint32](v)
	require.True(t, ok)
	assert.Equal(t, []uint32{1, 2}, got)
	assert.Equal(t, gguf.ValueArray, v.Type())
	assert.Equal(t, gguf.ValueUint32, v.ElemType())
}

func TestTypeTraits(t *testing.T) {
	tests := []struct {
		typ        gguf.Type
		name       string
		blockSize  int64
		blockBytes int64
	}{
		{gguf.TypeF32, "F32", 1, 4},
		{gguf.TypeF16, "F16", 1, 2},
		{gguf.TypeBF16, "BF16", 1, 2},
		{gguf.TypeQ4_0, "Q4_0", 32, 18},
		{gguf.TypeQ4_1, "Q4_1", 32, 20},
		{gguf.TypeQ5_0, "Q5_0", 32, 22},
		{gguf.TypeQ5_1, "Q5_1", 32, 24},
		{gguf.TypeQ8_0, "Q8_0", 32, 34},
		{gguf.TypeQ8_1, "Q8_1", 32, 36},
		{gguf.TypeQ2_K, "Q2_K", 256, 84},
		{gguf.TypeQ3_K, "Q3_K", 256, 110},
		{gguf.TypeQ4_K, "Q4_K", 256, 144},
		{gguf.TypeQ5_K, "Q5_K", 256, 176},
		{gguf.TypeQ6_K, "Q6_K", 256, 210},
		{gguf.TypeQ8_K, "Q8_K", 256, 292},
		{gguf.TypeIQ2_XXS, "IQ2_XXS", 256, 66},
		{gguf.TypeIQ2_XS, "IQ2_XS", 256, 74},
		{gguf.TypeIQ3_XXS, "IQ3_XXS", 256, 98},
		{gguf.TypeIQ1_S, "IQ1_S", 256, 50},
		{gguf.TypeIQ4_NL, "IQ4_NL", 32, 18},
		{gguf.TypeIQ3_S, "IQ3_S", 256, 110},
		{gguf.TypeIQ2_S, "IQ2_S", 256, 82},
		{gguf.TypeIQ4_XS, "IQ4_XS", 256, 136},
		{gguf.TypeI8, "I8", 1, 1},
		{gguf.TypeI16, "I16", 1, 2},
		{gguf.TypeI32, "I32", 1, 4},
		{gguf.TypeI64, "I64", 1, 8},
		{gguf.TypeF64, "F64", 1, 8},
		{gguf.TypeIQ1_M, "IQ1_M", 256, 56},
		{gguf.TypeTQ1_0, "TQ1_0", 256, 54},
		{gguf.TypeTQ2_0, "TQ2_0", 256, 66},
		{gguf.TypeMXFP4, "MXFP4", 32, 17},
		{gguf.Type(4), "Type(4)", 0, 0},
		{gguf.Type(31), "Type(31)", 0, 0},
		{gguf.Type(40), "Type(40)", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.typ.String())
			assert.Equal(t, tt.blockSize, tt.typ.BlockSize())
			assert.Equal(t, tt.blockBytes, tt.typ.BlockBytes())
			assert.Equal(t, tt.blockSize > 0, tt.typ.Valid())
			assert.Equal(t, tt.blockSize > 1, tt.typ.Quantized())
		})
	}
}

func TestFileTypeString(t *testing.T) {
	assert.Equal(t, "MOSTLY_Q4_K_M", gguf.FileTypeMostlyQ4_K_M.String())
	assert.Equal(t, "ALL_F32", gguf.FileTypeAllF32.String())
	assert.Equal(t, "MOSTLY_F16 (guessed)", (gguf.FileTypeMostlyF16 | gguf.FileTypeGuessed).String())
	assert.Equal(t, "FileType(4)", gguf.FileType(4).String())
}
