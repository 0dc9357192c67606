package gguf_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// The blocks below are built by hand from the block layouts in ggml-common.h,
// with scales that make every expected value exact, and the expected values
// are written from the formulas in the comment of each test, not from the
// decoder.

func f16(x float32) []byte { return binary.LittleEndian.AppendUint16(nil, gguf.Float32ToFloat16(x)) }

func dequant(t *testing.T, typ gguf.Type, block []byte) []float32 {
	t.Helper()
	require.Len(t, block, int(typ.BlockBytes()))
	out := make([]float32, typ.BlockSize())
	require.NoError(t, gguf.Dequantize(out, typ, block))
	return out
}

// nibbles returns 16 bytes whose low nibbles are 0..15 and high nibbles 15..0.
func nibbles() []byte {
	qs := make([]byte, 16)
	for j := range qs {
		qs[j] = byte(j) | byte(15-j)<<4
	}
	return qs
}

// Q4_0: {d; qs[16]}, element j = (low nibble of qs[j] - 8)·d, element 16+j =
// (high nibble - 8)·d. With d = 0.5: elements 0..15 are -4, -3.5, ..., 3.5,
// elements 16..31 are 3.5, 3, ..., -4.
func TestDequantizeQ4_0(t *testing.T) {
	got := dequant(t, gguf.TypeQ4_0, append(f16(0.5), nibbles()...))
	assert.Equal(t, []float32{
		-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5,
		3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5, -3, -3.5, -4,
	}, got)
}

// Q4_1: {d; m; qs[16]}, element = nibble·d + m. With d = 0.5, m = -1.
func TestDequantizeQ4_1(t *testing.T) {
	block := append(append(f16(0.5), f16(-1)...), nibbles()...)
	got := dequant(t, gguf.TypeQ4_1, block)
	assert.Equal(t, []float32{
		-1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5,
		6.5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1,
	}, got)
}

// Q5_0: {d; qh u32; qs[16]}, element j = (nibble | bit j of qh << 4) - 16,
// times d; element 16+j takes bit 16+j. With d = 1 and qh = 0x5555AAAA: odd
// elements of the first half and even elements of the second get +16.
func TestDequantizeQ5_0(t *testing.T) {
	block := append(f16(1), binary.LittleEndian.AppendUint32(nil, 0x5555AAAA)...)
	got := dequant(t, gguf.TypeQ5_0, append(block, nibbles()...))
	assert.Equal(t, []float32{
		-16, 1, -14, 3, -12, 5, -10, 7, -8, 9, -6, 11, -4, 13, -2, 15,
		15, -2, 13, -4, 11, -6, 9, -8, 7, -10, 5, -12, 3, -14, 1, -16,
	}, got)
}

// Q5_1: {d; m; qh u32; qs[16]}, element = (nibble | fifth bit)·d + m. With
// d = 0.5, m = 2, qh = 0xFFFF0000 (the second half gets +16) and both nibbles
// of qs[j] equal to j: element j = j/2 + 2, element 16+j = (j+16)/2 + 2.
func TestDequantizeQ5_1(t *testing.T) {
	block := append(append(f16(0.5), f16(2)...), binary.LittleEndian.AppendUint32(nil, 0xFFFF0000)...)
	for j := range 16 {
		block = append(block, byte(j)|byte(j)<<4)
	}
	got := dequant(t, gguf.TypeQ5_1, block)
	for j := range 16 {
		assert.Equal(t, float32(j)/2+2, got[j], "element %d", j)
		assert.Equal(t, float32(j+16)/2+2, got[16+j], "element %d", 16+j)
	}
	assert.Equal(t, float32(2), got[0])
	assert.Equal(t, float32(17.5), got[31])
}

// Q8_0: {d; qs[32] int8}, element = q·d. With d = 0.25 and q_j = 8j - 128:
// element j = 2j - 32.
func TestDequantizeQ8_0(t *testing.T) {
	block := f16(0.25)
	for j := range 32 {
		block = append(block, byte(int8(8*j-128)))
	}
	got := dequant(t, gguf.TypeQ8_0, block)
	assert.Equal(t, []float32{
		-32, -30, -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2,
		0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
	}, got)
}

// Q8_K: {d f32; qs[256] int8; bsums[16] int16 (unused)}, element = d·q.
// With d = 0.125 and q_j = j - 128: element j = (j - 128)/8.
func TestDequantizeQ8_K(t *testing.T) {
	block := binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.125))
	for j := range 256 {
		block = append(block, byte(int8(j-128)))
	}
	block = append(block, make([]byte, 32)...)
	got := dequant(t, gguf.TypeQ8_K, block)
	assert.Equal(t, float32(-16), got[0])
	assert.Equal(t, float32(0), got[128])
	assert.Equal(t, float32(15.875), got[255])
	for j := range 256 {
		assert.Equal(t, float32(j-128)/8, got[j])
	}
}

// kScales packs eight 6-bit scales and mins the way get_scale_min_k4 unpacks
// them: sub-blocks 0–3 in the low 6 bits of bytes 0–3 (scales) and 4–7
// (mins); sub-blocks 4–7 in the nibbles of bytes 8–11, their top two bits in
// the top two bits of bytes 0–3 (scales) and 4–7 (mins).
func kScales(scales, mins [8]uint8) []byte {
	b := make([]byte, 12)
	for j := range 4 {
		b[j] = scales[j] | (scales[j+4]>>4)<<6
		b[j+4] = mins[j] | (mins[j+4]>>4)<<6
		b[j+8] = scales[j+4]&0xF | (mins[j+4]&0xF)<<4
	}
	return b
}

// kQuantSubBlocks are the scales and mins used for Q4_K and Q5_K: scale 56
// and min 46 of sub-block 7 exercise the two high bits.
var (
	kScale = [8]uint8{1, 2, 3, 4, 5, 6, 7, 56}
	kMin   = [8]uint8{0, 2, 4, 6, 8, 10, 12, 46}
)

// Q4_K: {d; dmin; scales[12]; qs[128]}. Sub-block s of 32 elements: 64-byte
// chunk c = s/2 of the output reads qs[32c..32c+32], low nibbles for
// s = 2c and high nibbles for s = 2c+1; element = d·scale_s·q - dmin·min_s.
// With d = 1, dmin = 0.5 and qs[32c+l] having low nibble l%16 and high
// nibble 15 - l%16.
func TestDequantizeQ4_K(t *testing.T) {
	block := append(append(f16(1), f16(0.5)...), kScales(kScale, kMin)...)
	for range 4 {
		for l := range 32 {
			block = append(block, byte(l%16)|byte(15-l%16)<<4)
		}
	}
	got := dequant(t, gguf.TypeQ4_K, block)
	for c := range 4 {
		for l := range 32 {
			lo, hi := float32(l%16), float32(15-l%16)
			assert.Equal(t, float32(kScale[2*c])*lo-0.5*float32(kMin[2*c]), got[64*c+l])
			assert.Equal(t, float32(kScale[2*c+1])*hi-0.5*float32(kMin[2*c+1]), got[64*c+32+l])
		}
	}
	assert.Equal(t, float32(0), got[0])
	assert.Equal(t, float32(2*14-1), got[33])
	assert.Equal(t, float32(-23), got[255]) // 56·0 - 0.5·46
	assert.Equal(t, float32(56*15-23), got[240])
}

// Q5_K: {d; dmin; scales[12]; qh[32]; qs[128]}: Q4_K plus a fifth bit, bit
// 2c of qh[l] for the low-nibble sub-block of chunk c and bit 2c+1 for the
// high one. With qh[l] = 37·l + 11 (mod 256), a pattern whose bits differ
// from chunk to chunk.
func TestDequantizeQ5_K(t *testing.T) {
	block := append(append(f16(1), f16(0.5)...), kScales(kScale, kMin)...)
	qh := make([]byte, 32)
	for l := range qh {
		qh[l] = byte(37*l + 11)
	}
	block = append(block, qh...)
	for range 4 {
		for l := range 32 {
			block = append(block, byte(l%16)|byte(15-l%16)<<4)
		}
	}
	got := dequant(t, gguf.TypeQ5_K, block)
	for c := range 4 {
		for l := range 32 {
			lo, hi := float32(l%16), float32(15-l%16)
			if qh[l]>>(2*c)&1 != 0 {
				lo += 16
			}
			if qh[l]>>(2*c+1)&1 != 0 {
				hi += 16
			}
			assert.Equal(t, float32(kScale[2*c])*lo-0.5*float32(kMin[2*c]), got[64*c+l])
			assert.Equal(t, float32(kScale[2*c+1])*hi-0.5*float32(kMin[2*c+1]), got[64*c+32+l])
		}
	}
	assert.Equal(t, float32(16), got[0])         // qh[0] = 0b00001011, bit 0 set: 1·(0+16) - 0
	assert.Equal(t, float32(56*16-23), got[255]) // qh[31] = 0b10000110, bit 7 set: 56·(0+16) - 0.5·46
}

// Q6_K: {ql[128]; qh[64]; scales[16] int8; d}. Element e uses scale e/16 and a
// 6-bit q, element = d·scale·(q - 32). In each half h of 128 elements, e' =
// e%128 = 32g + l: the low 4 bits of q are the low (g < 2) or high (g ≥ 2)
// nibble of ql[64h + l + 32·(g%2)], the high 2 bits are bits 2g, 2g+1 of
// qh[32h + l]. With q_e = e%64, scale_i = i - 8 and d = 0.5.
func TestDequantizeQ6_K(t *testing.T) {
	ql, qh, scales := make([]byte, 128), make([]byte, 64), make([]byte, 16)
	for e := range 256 {
		h, g, l := e/128, (e%128)/32, e%32
		q := byte(e % 64)
		i := 64*h + l + 32*(g%2)
		if g < 2 {
			ql[i] |= q & 0xF
		} else {
			ql[i] |= (q & 0xF) << 4
		}
		qh[32*h+l] |= (q >> 4) << (2 * g)
	}
	for i := range scales {
		scales[i] = byte(int8(i - 8))
	}
	block := append(append(append(ql, qh...), scales...), f16(0.5)...)
	got := dequant(t, gguf.TypeQ6_K, block)
	for e := range 256 {
		assert.Equal(t, 0.5*float32(e/16-8)*float32(e%64-32), got[e], "element %d", e)
	}
	assert.Equal(t, float32(128), got[0])     // 0.5·(-8)·(0-32)
	assert.Equal(t, float32(108.5), got[255]) // 0.5·7·(63-32)
}

// Q2_K: {scales[16]; qs[64]; d; dmin}. Element e belongs to group i = e/16,
// whose scale byte holds a 4-bit scale (low) and min (high): element =
// d·scale·q - dmin·min. Its 2-bit q is at shift 2j of qs[32h + 16p + l] where
// h = e/128, j = (e%128)/32, p = (e%32)/16, l = e%16. With q_e = e%4,
// scale_i = i%8 + 1, min_i = i%4, d = 0.5, dmin = 0.25.
func TestDequantizeQ2_K(t *testing.T) {
	scales, qs := make([]byte, 16), make([]byte, 64)
	for i := range scales {
		scales[i] = byte(i%8+1) | byte(i%4)<<4
	}
	for e := range 256 {
		h, j, p, l := e/128, (e%128)/32, (e%32)/16, e%16
		qs[32*h+16*p+l] |= byte(e%4) << (2 * j)
	}
	block := append(append(append(scales, qs...), f16(0.5)...), f16(0.25)...)
	got := dequant(t, gguf.TypeQ2_K, block)
	for e := range 256 {
		i := e / 16
		assert.Equal(t, 0.5*float32(i%8+1)*float32(e%4)-0.25*float32(i%4), got[e], "element %d", e)
	}
}

// Q3_K: {hmask[32]; qs[64]; scales[12]; d}. Sixteen 6-bit scales s_i, used as
// s_i - 32: the low 4 bits in the low (i < 8) or high nibble of byte i%8, the
// high 2 bits at bit 2·(i/4) of byte 8 + i%4. Element e: group i = e/16,
// 2-bit q at the same place as Q2_K's, minus 4 unless bit 4h + j of
// hmask[16p + l] is set. With s_i = 24 + i (so s_i - 32 = i - 8), q_e = e%4,
// the hmask bit set as keepsHighBit says, and d = 0.25.
func TestDequantizeQ3_K(t *testing.T) {
	hmask, qs, scales := make([]byte, 32), make([]byte, 64), make([]byte, 12)
	for i := range 16 {
		s := byte(24 + i)
		if i < 8 {
			scales[i%8] |= s & 0xF
		} else {
			scales[i%8] |= (s & 0xF) << 4
		}
		scales[8+i%4] |= (s >> 4) << (2 * (i / 4))
	}
	for e := range 256 {
		h, j, p, l := e/128, (e%128)/32, (e%32)/16, e%16
		qs[32*h+16*p+l] |= byte(e%4) << (2 * j)
		if keepsHighBit(e) {
			hmask[16*p+l] |= 1 << (4*h + j)
		}
	}
	block := append(append(append(hmask, qs...), scales...), f16(0.25)...)
	got := dequant(t, gguf.TypeQ3_K, block)
	for e := range 256 {
		q := e % 4
		if !keepsHighBit(e) {
			q -= 4
		}
		assert.Equal(t, 0.25*float32(e/16-8)*float32(q), got[e], "element %d", e)
	}
}

// keepsHighBit picks the Q3_K elements whose hmask bit is set: a pattern that
// differs between the eight bits of one hmask byte.
func keepsHighBit(e int) bool { return (e%16+e/32)%2 == 0 }

func TestDequantizePlainTypes(t *testing.T) {
	f32 := binary.LittleEndian.AppendUint32(nil, math.Float32bits(-1.25))
	got := make([]float32, 1)
	require.NoError(t, gguf.Dequantize(got, gguf.TypeF32, f32))
	assert.Equal(t, []float32{-1.25}, got)
	require.NoError(t, gguf.Dequantize(got, gguf.TypeF16, []byte{0x00, 0x3C}))
	assert.Equal(t, []float32{1}, got)
	require.NoError(t, gguf.Dequantize(got, gguf.TypeBF16, []byte{0x00, 0xBF}))
	assert.Equal(t, []float32{-0.5}, got)
}

func TestDequantizeErrors(t *testing.T) {
	assert.ErrorIs(t, gguf.Dequantize(make([]float32, 256), gguf.TypeIQ2_XXS, make([]byte, 66)), gguf.ErrUnsupportedType)
	assert.ErrorContains(t, gguf.Dequantize(make([]float32, 31), gguf.TypeQ8_0, make([]byte, 34)), "not a multiple of the block size 32")
	assert.ErrorContains(t, gguf.Dequantize(make([]float32, 32), gguf.TypeQ8_0, make([]byte, 33)), "take 34 bytes, got 33")
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		assert.True(t, gguf.CanDequantize(typ))
	}
	assert.False(t, gguf.CanDequantize(gguf.TypeMXFP4))
}

// TestEncodeExact quantizes blocks whose values the quantizers represent
// exactly and checks they come back unchanged.
func TestEncodeExact(t *testing.T) {
	// Q8_0: the largest magnitude 63.5 gives d = 0.5; multiples of 0.5 are
	// q·d exactly.
	q8 := make([]float32, 32)
	for j := range q8 {
		q8[j] = float32(j*4-63) / 2
	}
	q8[0] = -63.5
	// Q4_0: the value of largest magnitude, -2, gives d = -2/-8 = 0.25 and
	// maps to 0; multiples of 0.25 in [-2, 1.75] are (q-8)·d exactly.
	q4 := make([]float32, 32)
	for j := range q4 {
		q4[j] = float32(j%16-8) / 4
	}
	for _, tt := range []struct {
		typ    gguf.Type
		values []float32
	}{{gguf.TypeQ8_0, q8}, {gguf.TypeQ4_0, q4}} {
		data, err := gguf.EncodeFloat32(tt.typ, tt.values)
		require.NoError(t, err)
		got := make([]float32, len(tt.values))
		require.NoError(t, gguf.Dequantize(got, tt.typ, data))
		assert.Equal(t, tt.values, got, tt.typ.String())
	}
}

// TestEncodeRoundTrip quantizes pseudo-random blocks and bounds the error by
// the quantization step.
func TestEncodeRoundTrip(t *testing.T) {
	values := make([]float32, 32*64)
	state := uint32(1)
	for i := range values {
		state = state*1664525 + 1013904223
		values[i] = (float32(state>>8)/float32(1<<24) - 0.5) * float32(1+i%7)
	}
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0} {
		data, err := gguf.EncodeFloat32(typ, values)
		require.NoError(t, err)
		got := make([]float32, len(values))
		require.NoError(t, gguf.Dequantize(got, typ, data))
		for b := 0; b < len(values); b += 32 {
			var amax float32
			for _, v := range values[b : b+32] {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			// Q8_0 rounds to the nearest of 255 steps of amax/127; Q4_0 to 16
			// steps of amax/8, clamping the top one (up to a full step).
			step := amax / 127 / 2
			if typ == gguf.TypeQ4_0 {
				step = amax / 8
			}
			for i := b; i < b+32; i++ {
				assert.InDelta(t, values[i], got[i], float64(step)*1.01+float64(amax)*0x1p-10, "%v element %d", typ, i)
			}
		}
	}
	_, err := gguf.EncodeFloat32(gguf.TypeQ4_K, make([]float32, 256))
	assert.ErrorIs(t, err, gguf.ErrUnsupportedType)
	_, err = gguf.EncodeFloat32(gguf.TypeQ8_0, make([]float32, 31))
	assert.ErrorContains(t, err, "not a multiple of the block size")
}
