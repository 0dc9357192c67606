package gguf

import "math"

// The conversions below are ports of ggml's (ggml-impl.h), so that values
// round exactly as llama.cpp rounds them. Intermediate results are converted
// to float32 explicitly: Go may otherwise fuse a multiply and an add, which
// rounds once where ggml rounds twice.

// Float16ToFloat32 converts an IEEE 754 half-precision value, given by its
// bits, to float32. Every half value is exactly representable.
func Float16ToFloat32(h uint16) float32 {
	const (
		expOffset         = uint32(0xE0) << 23
		expScale          = float32(0x1.0p-112)
		magicMask         = uint32(126) << 23
		magicBias         = float32(0.5)
		denormalizedLimit = uint32(1) << 27
	)
	w := uint32(h) << 16
	sign := w & 0x80000000
	twoW := w + w
	var result uint32
	if twoW < denormalizedLimit {
		denormalized := float32(math.Float32frombits((twoW>>17)|magicMask) - magicBias)
		result = math.Float32bits(denormalized)
	} else {
		normalized := float32(math.Float32frombits((twoW>>4)+expOffset) * expScale)
		result = math.Float32bits(normalized)
	}
	return math.Float32frombits(sign | result)
}

// Float32ToFloat16 converts f to IEEE 754 half precision, rounding to nearest
// even; values too large become infinities and NaNs become the quiet NaN
// 0x7E00 (with f's sign).
func Float32ToFloat16(f float32) uint16 {
	const (
		scaleToInf  = float32(0x1.0p+112)
		scaleToZero = float32(0x1.0p-110)
	)
	abs := math.Float32frombits(math.Float32bits(f) &^ 0x80000000)
	base := float32(float32(abs*scaleToInf) * scaleToZero)

	w := math.Float32bits(f)
	shl1W := w + w
	sign := w & 0x80000000
	bias := shl1W & 0xFF000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = float32(math.Float32frombits((bias>>1)+0x07800000) + base)
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007C00
	mantissaBits := bits & 0x00000FFF
	nonsign := expBits + mantissaBits
	if shl1W > 0xFF000000 {
		nonsign = 0x7E00
	}
	return uint16(sign>>16) | uint16(nonsign)
}

// BFloat16ToFloat32 converts a bfloat16 value, given by its bits, to float32
// (exactly: bfloat16 is the top half of a float32).
func BFloat16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Float32ToBFloat16 converts f to bfloat16, rounding to nearest even; NaNs
// stay NaNs, made quiet.
func Float32ToBFloat16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}
