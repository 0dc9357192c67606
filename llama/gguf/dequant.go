package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The dequantizers below port ggml's dequantize_row_* (ggml-quants.c) block
// for block, evaluating each expression in the same order with float32
// rounding after every operation. Where ggml computes a*q + m, the product is
// converted to float32 before the add so that Go cannot fuse the two into one
// FMA (it may on some architectures): the result is the plain IEEE evaluation
// of ggml's C source. On 4096 random blocks of every supported type, the
// output matched ggml-quants.c compiled by GCC at -O3 -march=native on x86-64
// with FMA bit for bit, with and without -ffp-contract=off.

// dequantizer decodes one block of src into dst (one block's elements).
type dequantizer func(dst []float32, src []byte)

var dequantizers = map[Type]dequantizer{
	TypeF32:  nil, // decoded in bulk by Dequantize
	TypeF16:  nil,
	TypeBF16: nil,
	TypeQ4_0: dequantQ4_0,
	TypeQ4_1: dequantQ4_1,
	TypeQ5_0: dequantQ5_0,
	TypeQ5_1: dequantQ5_1,
	TypeQ8_0: dequantQ8_0,
	TypeQ2_K: dequantQ2_K,
	TypeQ3_K: dequantQ3_K,
	TypeQ4_K: dequantQ4_K,
	TypeQ5_K: dequantQ5_K,
	TypeQ6_K: dequantQ6_K,
	TypeQ8_K: dequantQ8_K,
}

// CanDequantize reports whether [Dequantize] supports t: F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the k-quants Q2_K to Q8_K. The i-quants,
// ternary and MXFP4 types are not supported.
func CanDequantize(t Type) bool {
	_, ok := dequantizers[t]
	return ok
}

// Dequantize decodes the len(dst) elements that src encodes as type t into
// dst. len(dst) must be a multiple of t's block size and len(src) exactly the
// size of that many elements. The result matches ggml's dequantize_row_*.
func Dequantize(dst []float32, t Type, src []byte) error {
	deq, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("gguf: dequantize %v: %w", t, ErrUnsupportedType)
	}
	bs, bb := int(t.BlockSize()), int(t.BlockBytes())
	if len(dst)%bs != 0 {
		return fmt.Errorf("gguf: dequantize %v: %d elements are not a multiple of the block size %d", t, len(dst), bs)
	}
	if want := len(dst) / bs * bb; len(src) != want {
		return fmt.Errorf("gguf: dequantize %v: %d elements take %d bytes, got %d", t, len(dst), want, len(src))
	}
	switch t {
	// Plain types decode element by element without a call per element.
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case TypeF16:
		for i := range dst {
			dst[i] = half(src[2*i:])
		}
	case TypeBF16:
		for i := range dst {
			dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	default:
		for i := 0; i < len(dst)/bs; i++ {
			deq(dst[i*bs:(i+1)*bs], src[i*bb:(i+1)*bb])
		}
	}
	return nil
}

func half(b []byte) float32 { return Float16ToFloat32(binary.LittleEndian.Uint16(b)) }

// Q4_0: {d f16; qs [16]u8}, x = (q - 8) * d; low nibbles are elements 0–15,
// high nibbles 16–31.
func dequantQ4_0(y []float32, b []byte) {
	d := half(b[0:])
	qs := b[2:18]
	for j := range 16 {
		x0 := int(qs[j]&0x0F) - 8
		x1 := int(qs[j]>>4) - 8
		y[j] = float32(x0) * d
		y[j+16] = float32(x1) * d
	}
}

// Q4_1: {d, m f16; qs [16]u8}, x = q*d + m.
func dequantQ4_1(y []float32, b []byte) {
	d, m := half(b[0:]), half(b[2:])
	qs := b[4:20]
	for j := range 16 {
		x0 := int(qs[j] & 0x0F)
		x1 := int(qs[j] >> 4)
		y[j] = float32(float32(x0)*d) + m
		y[j+16] = float32(float32(x1)*d) + m
	}
}

// Q5_0: {d f16; qh u32; qs [16]u8}, x = (q - 16) * d with the fifth bit of
// element j in bit j of qh.
func dequantQ5_0(y []float32, b []byte) {
	d := half(b[0:])
	qh := binary.LittleEndian.Uint32(b[2:])
	qs := b[6:22]
	for j := range 16 {
		xh0 := uint8(((qh >> j) << 4) & 0x10)
		xh1 := uint8((qh >> (j + 12)) & 0x10)
		x0 := int32((qs[j]&0x0F)|xh0) - 16
		x1 := int32((qs[j]>>4)|xh1) - 16
		y[j] = float32(x0) * d
		y[j+16] = float32(x1) * d
	}
}

// Q5_1: {d, m f16; qh u32; qs [16]u8}, x = q*d + m.
func dequantQ5_1(y []float32, b []byte) {
	d, m := half(b[0:]), half(b[2:])
	qh := binary.LittleEndian.Uint32(b[4:])
	qs := b[8:24]
	for j := range 16 {
		xh0 := uint8(((qh >> j) << 4) & 0x10)
		xh1 := uint8((qh >> (j + 12)) & 0x10)
		x0 := int((qs[j] & 0x0F) | xh0)
		x1 := int((qs[j] >> 4) | xh1)
		y[j] = float32(float32(x0)*d) + m
		y[j+16] = float32(float32(x1)*d) + m
	}
}

// Q8_0: {d f16; qs [32]i8}, x = q * d.
func dequantQ8_0(y []float32, b []byte) {
	d := half(b[0:])
	for j := range 32 {
		y[j] = float32(int8(b[2+j])) * d
	}
}

// Q2_K: {scales [16]u8; qs [64]u8; d, dmin f16}. Each scale byte holds a
// 4-bit scale (low) and a 4-bit min (high) for 16 elements.
func dequantQ2_K(y []float32, b []byte) {
	scales, q := b[0:16], b[16:80]
	d, dmin := half(b[80:]), half(b[82:])
	is := 0
	for n := 0; n < qkK; n += 128 {
		shift := 0
		for range 4 {
			for part := 0; part < 2; part++ {
				sc := scales[is]
				is++
				dl := d * float32(sc&0xF)
				ml := dmin * float32(sc>>4)
				for l := range 16 {
					y[0] = float32(dl*float32(int8((q[l+16*part]>>shift)&3))) - ml
					y = y[1:]
				}
			}
			shift += 2
		}
		q = q[32:]
	}
}

// Q3_K: {hmask [32]u8; qs [64]u8; scales [12]u8; d f16}. Sixteen 6-bit
// signed scales are packed in 12 bytes; the third bit of each quant is in
// hmask, set meaning "do not subtract 4".
func dequantQ3_K(y []float32, b []byte) {
	const kmask1, kmask2 = 0x03030303, 0x0f0f0f0f
	hm, q := b[0:32], b[32:96]
	dAll := half(b[108:])

	var aux [4]uint32
	for i := range 3 {
		aux[i] = binary.LittleEndian.Uint32(b[96+4*i:])
	}
	tmp := aux[2]
	aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4)
	aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4)
	aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4)
	aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4)
	var scales [16]int8
	for i := range 16 {
		scales[i] = int8(aux[i/4] >> (8 * (i % 4)))
	}

	is := 0
	m := uint8(1)
	for n := 0; n < qkK; n += 128 {
		shift := 0
		for range 4 {
			for part := 0; part < 2; part++ {
				dl := dAll * float32(int(scales[is])-32)
				is++
				for l := range 16 {
					v := int(int8((q[l+16*part] >> shift) & 3))
					if hm[l+16*part]&m == 0 {
						v -= 4
					}
					y[0] = dl * float32(v)
					y = y[1:]
				}
			}
			shift += 2
			m <<= 1
		}
		q = q[32:]
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K block
// (get_scale_min_k4).
func scaleMinK4(j int, q []byte) (d, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

// Q4_K: {d, dmin f16; scales [12]u8; qs [128]u8}: 8 sub-blocks of 32, each
// x = d*sc*q - dmin*m.
func dequantQ4_K(y []float32, b []byte) {
	d, dmin := half(b[0:]), half(b[2:])
	scales, q := b[4:16], b[16:144]
	is := 0
	for j := 0; j < qkK; j += 64 {
		sc, m := scaleMinK4(is, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(is+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		for l := range 32 {
			y[l] = float32(d1*float32(q[l]&0xF)) - m1
		}
		for l := range 32 {
			y[32+l] = float32(d2*float32(q[l]>>4)) - m2
		}
		y, q = y[64:], q[32:]
		is += 2
	}
}

// Q5_K: {d, dmin f16; scales [12]u8; qh [32]u8; qs [128]u8}: Q4_K with a
// fifth bit per element in qh.
func dequantQ5_K(y []float32, b []byte) {
	d, dmin := half(b[0:]), half(b[2:])
	scales, qh, ql := b[4:16], b[16:48], b[48:176]
	is := 0
	u1, u2 := uint8(1), uint8(2)
	for j := 0; j < qkK; j += 64 {
		sc, m := scaleMinK4(is, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(is+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		for l := range 32 {
			v := int(ql[l] & 0xF)
			if qh[l]&u1 != 0 {
				v += 16
			}
			y[l] = float32(d1*float32(v)) - m1
		}
		for l := range 32 {
			v := int(ql[l] >> 4)
			if qh[l]&u2 != 0 {
				v += 16
			}
			y[32+l] = float32(d2*float32(v)) - m2
		}
		y, ql = y[64:], ql[32:]
		is += 2
		u1 <<= 2
		u2 <<= 2
	}
}

// Q6_K: {ql [128]u8; qh [64]u8; scales [16]i8; d f16}: 16 sub-blocks of 16,
// x = d * scale * (q - 32) with 6-bit q split in ql (low 4) and qh (high 2).
func dequantQ6_K(y []float32, b []byte) {
	ql, qh, sc := b[0:128], b[128:192], b[192:208]
	d := half(b[208:])
	for n := 0; n < qkK; n += 128 {
		for l := range 32 {
			is := l / 16
			q1 := int8((ql[l]&0xF)|((qh[l]>>0)&3)<<4) - 32
			q2 := int8((ql[l+32]&0xF)|((qh[l]>>2)&3)<<4) - 32
			q3 := int8((ql[l]>>4)|((qh[l]>>4)&3)<<4) - 32
			q4 := int8((ql[l+32]>>4)|((qh[l]>>6)&3)<<4) - 32
			y[l] = d * float32(int8(sc[is])) * float32(q1)
			y[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			y[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			y[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
		y, ql, qh, sc = y[128:], ql[64:], qh[32:], sc[8:]
	}
}

// Q8_K: {d f32; qs [256]i8; bsums [16]i16}, x = d * q.
func dequantQ8_K(y []float32, b []byte) {
	d := math.Float32frombits(binary.LittleEndian.Uint32(b))
	for j := range qkK {
		y[j] = d * float32(int8(b[4+j]))
	}
}
