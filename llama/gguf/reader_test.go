package gguf_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// TestOpenBadFiles opens the twelve kinds of bad file and checks each gives
// its sentinel and a message that names the file.
func TestOpenBadFiles(t *testing.T) {
	valid := sampleBytes(t)
	f, err := gguf.Read(bytes.NewReader(valid), int64(len(valid)))
	require.NoError(t, err)
	tensors := f.Tensors()
	last := tensors[len(tensors)-1]

	withVersion := func(v uint32) []byte {
		b := bytes.Clone(valid)
		b[4], b[5], b[6], b[7] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b
	}
	// oneKiB pads a header out to a 1 KiB file.
	oneKiB := func(r *raw) []byte { return append(r.Bytes(), make([]byte, 1024-r.Len())...) }

	tests := []struct {
		name    string
		path    func(t *testing.T) string
		want    error
		message string // a part of the message after the path
	}{
		{"empty", func(t *testing.T) string { return writeFile(t, "empty.gguf", nil) },
			gguf.ErrNotGGUF, "empty file"},
		{"magic only", func(t *testing.T) string { return writeFile(t, "magic.gguf", []byte("GGUF")) },
			gguf.ErrTruncated, "offset 4: file ends in the version"},
		{"truncated in header", func(t *testing.T) string { return writeFile(t, "header.gguf", valid[:12]) },
			gguf.ErrTruncated, "offset 8: file ends in the tensor count"},
		{"truncated halfway", func(t *testing.T) string { return writeFile(t, "half.gguf", valid[:len(valid)/2]) },
			gguf.ErrTruncated, ""},
		{"truncated at the end", func(t *testing.T) string {
			return writeFile(t, "end.gguf", valid[:last.Offset+last.Size-1])
		}, gguf.ErrTruncated, `tensor "c.weight": data`},
		{"wrong magic", func(t *testing.T) string {
			return writeFile(t, "magic.gguf", append([]byte("GGML"), valid[4:]...))
		}, gguf.ErrNotGGUF, `offset 0: magic "GGML" is not "GGUF"`},
		{"version 1", func(t *testing.T) string { return writeFile(t, "v1.gguf", withVersion(1)) },
			gguf.ErrVersion, "offset 4: version 1 is obsolete"},
		{"version 4", func(t *testing.T) string { return writeFile(t, "v4.gguf", withVersion(4)) },
			gguf.ErrVersion, "version 4 is not 2 or 3"},
		{"big-endian version", func(t *testing.T) string { return writeFile(t, "be.gguf", withVersion(3<<24)) },
			gguf.ErrVersion, "byte-swapped"},
		{"absurd tensor count", func(t *testing.T) string {
			return writeFile(t, "tensors.gguf", oneKiB(new(raw).header(math.MaxInt64, 0)))
		}, gguf.ErrCorrupt, "offset 8: tensor count 9223372036854775807 exceeds what a 1 KiB file can hold: file is corrupt"},
		{"absurd key/value count", func(t *testing.T) string {
			return writeFile(t, "kvs.gguf", oneKiB(new(raw).header(0, 1<<62)))
		}, gguf.ErrCorrupt, "offset 16: key/value count 4611686018427387904 exceeds what a 1 KiB file can hold"},
		{"absurd key length", func(t *testing.T) string {
			return writeFile(t, "key.gguf", oneKiB(new(raw).header(0, 1).u64(math.MaxUint64)))
		}, gguf.ErrCorrupt, "offset 24: key length 18446744073709551615 exceeds what a 1 KiB file can hold"},
		{"a directory", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "model.gguf")
			require.NoError(t, mkdir(dir))
			return dir
		}, gguf.ErrNotGGUF, "is a directory"},
		{"a missing path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing.gguf") },
			fs.ErrNotExist, "open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			f, err := gguf.Open(path)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "gguf: "+path+": ")
			assert.Contains(t, err.Error(), tt.message)
			if !errors.Is(err, fs.ErrNotExist) {
				var e *gguf.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, path, e.Path)
			}
		})
	}
}

// TestOpenEveryTruncation cuts a valid file at every length and checks that
// each prefix is refused as truncated (or, when the cut only drops the
// padding after the last tensor, still read).
func TestOpenEveryTruncation(t *testing.T) {
	valid := sampleBytes(t)
	f, err := gguf.Read(bytes.NewReader(valid), int64(len(valid)))
	require.NoError(t, err)
	tensors := f.Tensors()
	end := tensors[len(tensors)-1].Offset + tensors[len(tensors)-1].Size
	for n := 1; n < len(valid); n++ {
		_, err := gguf.Read(bytes.NewReader(valid[:n]), int64(n))
		switch {
		case n < 4:
			assert.ErrorIs(t, err, gguf.ErrNotGGUF, "length %d", n)
		case int64(n) < end:
			assert.ErrorIs(t, err, gguf.ErrTruncated, "length %d", n)
		default:
			assert.NoError(t, err, "length %d", n)
		}
	}
}

// TestOpenCorrupt feeds hand-built files that are complete but invalid.
func TestOpenCorrupt(t *testing.T) {
	// oneTensor builds a file with a single tensor info and 4 KiB of data.
	oneTensor := func(name string, shape []uint64, typ gguf.Type, offset uint64) []byte {
		r := new(raw).header(1, 0).tensor(name, shape, typ, offset)
		return r.pad(32, 4096).Bytes()
	}
	twoTensors := func(secondOffset uint64) []byte {
		r := new(raw).header(2, 0).
			tensor("a", []uint64{8}, gguf.TypeF32, 0).
			tensor("b", []uint64{8}, gguf.TypeF32, secondOffset)
		return r.pad(32, 128).Bytes()
	}
	tokens := func(list ...string) *raw {
		r := new(raw).str("tokenizer.ggml.tokens").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueString)).u64(uint64(len(list)))
		for _, s := range list {
			r.str(s)
		}
		return r
	}
	tests := []struct {
		name    string
		data    []byte
		message string
	}{
		{"empty key", new(raw).header(0, 1).str("").u32(uint32(gguf.ValueUint8)).pad(1, 1).Bytes(), "key 0 is empty"},
		{"duplicate key", new(raw).header(0, 2).kvU32("a", 1).kvU32("a", 2).Bytes(), `duplicate key "a"`},
		{"unknown value type", new(raw).header(0, 1).str("a").u32(13).u32(0).Bytes(), `key "a": value type ValueType(13) is unknown`},
		{"nested array", new(raw).header(0, 1).str("a").u32(9).u32(9).u64(0).Bytes(), "array element type arr is not a scalar type"},
		{"unknown element type", new(raw).header(0, 1).str("a").u32(9).u32(77).u64(0).Bytes(), "array element type ValueType(77)"},
		{"absurd array length", new(raw).header(0, 1).str("a").u32(9).u32(uint32(gguf.ValueUint8)).u64(1 << 60).Bytes(), `key "a": array length 1152921504606846976 exceeds what a`},
		{"alignment not a power of two", new(raw).header(0, 1).kvU32("general.alignment", 48).Bytes(), `key "general.alignment" 48 is not a power of two`},
		{"alignment zero", new(raw).header(0, 1).kvU32("general.alignment", 0).Bytes(), "0 is not a power of two"},
		{"alignment not u32", new(raw).header(0, 1).str("general.alignment").u32(uint32(gguf.ValueUint64)).u64(32).Bytes(), "is u64, not u32"},
		{"tensor name too long", oneTensor(string(bytes.Repeat([]byte("n"), 64)), []uint64{8}, gguf.TypeF32, 0), "name length 64 exceeds ggml's limit of 63"},
		{"tensor name with NUL", oneTensor("a\x00b", []uint64{8}, gguf.TypeF32, 0), "contains a NUL byte"},
		{"no dimensions", oneTensor("t", nil, gguf.TypeF32, 0), `tensor "t": 0 dimensions, want 1 to 4`},
		{"five dimensions", oneTensor("t", []uint64{1, 1, 1, 1, 1}, gguf.TypeF32, 0), "5 dimensions"},
		{"zero dimension", oneTensor("t", []uint64{8, 0}, gguf.TypeF32, 0), "dimension 1 is 0, want > 0"},
		{"negative dimension", oneTensor("t", []uint64{math.MaxUint64}, gguf.TypeF32, 0), "dimension 0 is -1"},
		{"element count overflow", oneTensor("t", []uint64{1 << 32, 1 << 32}, gguf.TypeF32, 0), "element count overflows"},
		{"removed type", oneTensor("t", []uint64{32}, gguf.Type(4), 0), "type 4 is not a ggml type"},
		{"unknown type", oneTensor("t", []uint64{32}, gguf.Type(40), 0), "type 40 is not a ggml type"},
		{"row not a multiple of the block", oneTensor("t", []uint64{100}, gguf.TypeQ4_K, 0), "row length 100 is not a multiple of Q4_K's block size 256"},
		{"misaligned offset", oneTensor("t", []uint64{8}, gguf.TypeF32, 16), "data offset 16 is not a multiple of the alignment 32"},
		{"gap before the first tensor", oneTensor("t", []uint64{8}, gguf.TypeF32, 64), "leaves a gap"},
		{"overlapping tensors", twoTensors(0), `data offset 0 overlaps tensor "a", whose data ends at 32`},
		{"duplicate tensor name", new(raw).header(2, 0).tensor("a", []uint64{8}, gguf.TypeF32, 0).tensor("a", []uint64{8}, gguf.TypeF32, 32).pad(32, 64).Bytes(), `duplicate tensor name "a"`},
		{"split.no not u16", new(raw).header(0, 1).kvU32("split.no", 0).Bytes(), `key "split.no" is u32, not u16`},
		{"duplicate tokens", new(raw).header(0, 1).add(tokens("a", "b", "a")).Bytes(), `has token 2 "a" twice`},
		{"empty tokens collide with their replacement", new(raw).header(0, 1).add(tokens("", "[EMPTY_0]")).Bytes(), "twice"},
		{"tokens not strings", new(raw).header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(uint32(gguf.ValueUint32)).u64(1).u32(5).Bytes(), "not an array of str"},
		{"too few scores", new(raw).header(0, 2).add(tokens("a", "b")).str("tokenizer.ggml.scores").u32(9).u32(uint32(gguf.ValueFloat32)).u64(1).u32(0).Bytes(), "one score per token (2)"},
		{"token types of the wrong type", new(raw).header(0, 2).add(tokens("a")).str("tokenizer.ggml.token_type").u32(9).u32(uint32(gguf.ValueUint8)).u64(1).pad(1, 1).Bytes(), "one type per token"},
		{"merges not strings", new(raw).header(0, 1).kvU32("tokenizer.ggml.merges", 1).Bytes(), `key "tokenizer.ggml.merges" is u32`},
		{"unknown rope scaling", new(raw).header(0, 2).str("general.architecture").u32(8).str("llama").str("llama.rope.scaling.type").u32(8).str("cubic").Bytes(), `"cubic" is not none, linear, yarn or longrope`},
		{"head counts as floats", new(raw).header(0, 2).str("general.architecture").u32(8).str("llama").str("llama.attention.head_count").u32(9).u32(uint32(gguf.ValueFloat32)).u64(1).u32(0).Bytes(), "not an array of u32 or i32"},
		{"too many experts", new(raw).header(0, 2).str("general.architecture").u32(8).str("llama").kvU32("llama.expert_count", 513).Bytes(), "expert_count 513 exceeds 512"},
		{"experts without used count", new(raw).header(0, 2).str("general.architecture").u32(8).str("llama").kvU32("llama.expert_count", 8).Bytes(), "expert_used_count is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "corrupt.gguf", tt.data)
			_, err := gguf.Open(path)
			require.Error(t, err)
			assert.ErrorIs(t, err, gguf.ErrCorrupt)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

// TestOpenAcceptsVersion2 reads a version 2 file, which has the same layout.
func TestOpenAcceptsVersion2(t *testing.T) {
	data := sampleBytes(t)
	data[4] = 2
	f, err := gguf.Open(writeFile(t, "v2.gguf", data))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, uint32(2), f.Version())
}

// TestOpenTensorPastEnd checks a tensor whose data lies past the end of the
// file is reported as truncation at the tensor's offset field.
func TestOpenTensorPastEnd(t *testing.T) {
	data := new(raw).header(1, 0).tensor("t", []uint64{1024}, gguf.TypeF32, 0).pad(32, 100).Bytes()
	_, err := gguf.Read(bytes.NewReader(data), int64(len(data)))
	require.ErrorIs(t, err, gguf.ErrTruncated)
	assert.Contains(t, err.Error(), `tensor "t": data [64, +4096) runs past the end`)
}
