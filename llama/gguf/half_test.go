package gguf_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-rlm/rlm/llama/gguf"
)

func TestFloat16ToFloat32(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0},
		{0x3C00, 1},
		{0xC000, -2},
		{0x3800, 0.5},
		{0x3555, 0.333251953125},
		{0x7BFF, 65504},
		{0x0400, 0x1p-14},                 // smallest normal
		{0x03FF, 1023.0 / 1024 * 0x1p-14}, // largest subnormal
		{0x0001, 0x1p-24},                 // smallest subnormal
		{0x7C00, float32(math.Inf(1))},
		{0xFC00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, gguf.Float16ToFloat32(tt.bits), "%#04x", tt.bits)
	}
	negZero := gguf.Float16ToFloat32(0x8000)
	assert.True(t, negZero == 0 && math.Signbit(float64(negZero)))
	assert.True(t, math.IsNaN(float64(gguf.Float16ToFloat32(0x7E00))))
	assert.True(t, math.IsNaN(float64(gguf.Float16ToFloat32(0xFC01))))
}

func TestFloat32ToFloat16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0x0000},
		{1, 0x3C00},
		{-2, 0xC000},
		{65504, 0x7BFF},
		{65519, 0x7BFF}, // below the tie with infinity
		{65520, 0x7C00}, // the tie rounds to even: infinity
		{1e10, 0x7C00},
		{-1e10, 0xFC00},
		{1 + 0x1p-11, 0x3C00},           // tie between 0x3C00 and 0x3C01 → even
		{1 + 3*0x1p-11, 0x3C02},         // tie between 0x3C01 and 0x3C02 → even
		{1 + 0x1p-11 + 0x1p-20, 0x3C01}, // just above the tie
		{0x1p-24, 0x0001},
		{0x1p-25, 0x0000}, // tie between 0 and the smallest subnormal → even
		{1.5 * 0x1p-25, 0x0001},
		{1e-10, 0x0000},
		{float32(math.Inf(1)), 0x7C00},
		{float32(math.NaN()), 0x7E00},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, gguf.Float32ToFloat16(tt.in), "%g", tt.in)
	}
	assert.Equal(t, uint16(0xFE00), gguf.Float32ToFloat16(float32(-math.NaN())))
}

// TestFloat16RoundTripsEveryValue converts every half value to float32 and
// back.
func TestFloat16RoundTripsEveryValue(t *testing.T) {
	for h := 0; h <= 0xFFFF; h++ {
		f := gguf.Float16ToFloat32(uint16(h))
		if h&0x7C00 == 0x7C00 && h&0x03FF != 0 {
			assert.True(t, math.IsNaN(float64(f)), "%#04x", h)
			continue
		}
		if got := gguf.Float32ToFloat16(f); got != uint16(h) {
			t.Fatalf("%#04x → %g → %#04x", h, f, got)
		}
	}
}

func TestBFloat16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3F80},
		{-2, 0xC000},
		{1 + 0x1p-8, 0x3F80},   // tie → even
		{1 + 3*0x1p-8, 0x3F82}, // tie → even
		{1 + 0x1p-8 + 0x1p-20, 0x3F81},
		{float32(math.Inf(-1)), 0xFF80},
		{math.Float32frombits(0x7F800001), 0x7FC0}, // a signalling NaN becomes quiet
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, gguf.Float32ToBFloat16(tt.in), "%g", tt.in)
	}
	assert.Equal(t, float32(1), gguf.BFloat16ToFloat32(0x3F80))
	assert.Equal(t, float32(-0.5), gguf.BFloat16ToFloat32(0xBF00))
	for h := 0; h <= 0xFFFF; h++ {
		f := gguf.BFloat16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		assert.Equal(t, uint16(h), gguf.Float32ToBFloat16(f))
	}
}
