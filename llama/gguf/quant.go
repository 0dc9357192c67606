package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// CanEncode reports whether [EncodeFloat32] supports t: F32, F16, BF16, Q8_0
// and Q4_0.
func CanEncode(t Type) bool {
	switch t {
	case TypeF32, TypeF16, TypeBF16, TypeQ8_0, TypeQ4_0:
		return true
	}
	return false
}

// EncodeFloat32 encodes values as tensor data of type t. F16 and BF16 round
// to nearest even; Q8_0 and Q4_0 follow ggml's reference quantizers
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref). len(values) must be a
// multiple of t's block size.
func EncodeFloat32(t Type, values []float32) ([]byte, error) {
	if !CanEncode(t) {
		return nil, fmt.Errorf("gguf: encode %v: %w", t, ErrUnsupportedType)
	}
	bs, bb := int(t.BlockSize()), int(t.BlockBytes())
	if len(values)%bs != 0 {
		return nil, fmt.Errorf("gguf: encode %v: %d values are not a multiple of the block size %d", t, len(values), bs)
	}
	out := make([]byte, len(values)/bs*bb)
	switch t {
	case TypeF32:
		for i, v := range values {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case TypeF16:
		for i, v := range values {
			binary.LittleEndian.PutUint16(out[2*i:], Float32ToFloat16(v))
		}
	case TypeBF16:
		for i, v := range values {
			binary.LittleEndian.PutUint16(out[2*i:], Float32ToBFloat16(v))
		}
	case TypeQ8_0:
		for i := 0; i < len(values)/bs; i++ {
			quantizeQ8_0(out[i*bb:(i+1)*bb], values[i*bs:(i+1)*bs])
		}
	case TypeQ4_0:
		for i := 0; i < len(values)/bs; i++ {
			quantizeQ4_0(out[i*bb:(i+1)*bb], values[i*bs:(i+1)*bs])
		}
	}
	return out, nil
}

// quantizeQ8_0 encodes 32 values: d = max|x| / 127, q = round(x / d).
func quantizeQ8_0(y []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(y, Float32ToFloat16(d))
	for j, v := range x {
		// roundf rounds halves away from zero, as math.Round does.
		y[2+j] = byte(int8(math.Round(float64(v * id))))
	}
}

// quantizeQ4_0 encodes 32 values: d = -max / 8 where max is the value of
// largest magnitude (so that it maps to -8), q = min(15, trunc(x/d + 8.5)).
func quantizeQ4_0(y []byte, x []float32) {
	var amax, maxv float32
	for _, v := range x {
		if amax < abs32(v) {
			amax, maxv = abs32(v), v
		}
	}
	d := maxv / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(y, Float32ToFloat16(d))
	for j := range 16 {
		x0 := float32(x[j] * id)
		x1 := float32(x[16+j] * id)
		xi0 := min(15, truncInt8(x0+8.5))
		xi1 := min(15, truncInt8(x1+8.5))
		y[2+j] = byte(xi0) | byte(xi1)<<4
	}
}

// truncInt8 converts like C's (int8_t) cast of a float, truncating toward
// zero; NaNs and values out of range (undefined in C) become 0 or saturate.
func truncInt8(f float32) int8 {
	switch {
	case f != f:
		return 0
	case f >= 127:
		return 127
	case f <= -128:
		return -128
	}
	return int8(f)
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ 0x80000000) }
