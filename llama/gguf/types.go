package gguf

import "strconv"

// Type is a ggml tensor type (enum ggml_type), as stored in a GGUF tensor
// info. Its values are the on-disk numbers, so a Type converts to and from
// ggml_type unchanged.
type Type uint32

// The ggml tensor types at the pinned ggml version. Numbers 4, 5 and 31–33,
// 36–38 belong to types ggml has removed; files using them are refused.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39

	typeCount = 40 // GGML_TYPE_COUNT
)

// typeTraits mirrors ggml's type_traits table: how many elements one block
// holds and how many bytes it takes (ggml-common.h block structs).
type typeTraits struct {
	name       string
	blockSize  int64
	blockBytes int64
}

// qkK is QK_K, the number of elements in a k-quant super-block.
const qkK = 256

var traits = [typeCount]typeTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 2 + 16},
	TypeQ4_1:    {"Q4_1", 32, 2*2 + 16},
	TypeQ5_0:    {"Q5_0", 32, 2 + 4 + 16},
	TypeQ5_1:    {"Q5_1", 32, 2*2 + 4 + 16},
	TypeQ8_0:    {"Q8_0", 32, 2 + 32},
	TypeQ8_1:    {"Q8_1", 32, 2*2 + 32},
	TypeQ2_K:    {"Q2_K", qkK, 2*2 + qkK/16 + qkK/4},
	TypeQ3_K:    {"Q3_K", qkK, 2 + qkK/4 + qkK/8 + 12},
	TypeQ4_K:    {"Q4_K", qkK, 2*2 + 12 + qkK/2},
	TypeQ5_K:    {"Q5_K", qkK, 2*2 + 12 + qkK/2 + qkK/8},
	TypeQ6_K:    {"Q6_K", qkK, 2 + qkK/16 + 3*qkK/4},
	TypeQ8_K:    {"Q8_K", qkK, 4 + qkK + qkK/16*2},
	TypeIQ2_XXS: {"IQ2_XXS", qkK, 2 + qkK/8*2},
	TypeIQ2_XS:  {"IQ2_XS", qkK, 2 + qkK/8*2 + qkK/32},
	TypeIQ3_XXS: {"IQ3_XXS", qkK, 2 + 3*(qkK/8)},
	TypeIQ1_S:   {"IQ1_S", qkK, 2 + qkK/8 + qkK/16},
	TypeIQ4_NL:  {"IQ4_NL", 32, 2 + 16},
	TypeIQ3_S:   {"IQ3_S", qkK, 2 + 13*(qkK/32) + qkK/64},
	TypeIQ2_S:   {"IQ2_S", qkK, 2 + qkK/4 + qkK/16},
	TypeIQ4_XS:  {"IQ4_XS", qkK, 2 + 2 + qkK/64 + qkK/2},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", qkK, qkK/8 + qkK/16 + qkK/32},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", qkK, 2 + qkK/64 + (qkK-4*qkK/64)/5},
	TypeTQ2_0:   {"TQ2_0", qkK, 2 + qkK/4},
	TypeMXFP4:   {"MXFP4", 32, 1 + 16},
}

// Valid reports whether ggml at the pinned version knows t (removed types
// are not valid).
func (t Type) Valid() bool { return t < typeCount && traits[t].blockSize > 0 }

// String returns the type's name as llama.cpp prints it in upper case
// ("F32", "Q4_K", "IQ2_XXS"), or "Type(N)" for an unknown number.
func (t Type) String() string {
	if !t.Valid() {
		return "Type(" + strconv.FormatUint(uint64(t), 10) + ")"
	}
	return traits[t].name
}

// BlockSize returns how many elements one block of t holds (1 for plain
// types, 32 for Q4_0/Q8_0, 256 for k-quants), or 0 for an unknown type.
func (t Type) BlockSize() int64 {
	if !t.Valid() {
		return 0
	}
	return traits[t].blockSize
}

// BlockBytes returns how many bytes one block of t takes, or 0 for an
// unknown type.
func (t Type) BlockBytes() int64 {
	if !t.Valid() {
		return 0
	}
	return traits[t].blockBytes
}

// Quantized reports whether t stores elements in blocks with scales.
func (t Type) Quantized() bool { return t.BlockSize() > 1 }

// FileType is llama.cpp's llama_ftype, the general.file_type metadata value:
// the type most of a model's weights are stored in.
type FileType uint32

// The llama_ftype values at the pinned llama.cpp version.
const (
	FileTypeAllF32         FileType = 0
	FileTypeMostlyF16      FileType = 1
	FileTypeMostlyQ4_0     FileType = 2
	FileTypeMostlyQ4_1     FileType = 3
	FileTypeMostlyQ8_0     FileType = 7
	FileTypeMostlyQ5_0     FileType = 8
	FileTypeMostlyQ5_1     FileType = 9
	FileTypeMostlyQ2_K     FileType = 10
	FileTypeMostlyQ3_K_S   FileType = 11
	FileTypeMostlyQ3_K_M   FileType = 12
	FileTypeMostlyQ3_K_L   FileType = 13
	FileTypeMostlyQ4_K_S   FileType = 14
	FileTypeMostlyQ4_K_M   FileType = 15
	FileTypeMostlyQ5_K_S   FileType = 16
	FileTypeMostlyQ5_K_M   FileType = 17
	FileTypeMostlyQ6_K     FileType = 18
	FileTypeMostlyIQ2_XXS  FileType = 19
	FileTypeMostlyIQ2_XS   FileType = 20
	FileTypeMostlyQ2_K_S   FileType = 21
	FileTypeMostlyIQ3_XS   FileType = 22
	FileTypeMostlyIQ3_XXS  FileType = 23
	FileTypeMostlyIQ1_S    FileType = 24
	FileTypeMostlyIQ4_NL   FileType = 25
	FileTypeMostlyIQ3_S    FileType = 26
	FileTypeMostlyIQ3_M    FileType = 27
	FileTypeMostlyIQ2_S    FileType = 28
	FileTypeMostlyIQ2_M    FileType = 29
	FileTypeMostlyIQ4_XS   FileType = 30
	FileTypeMostlyIQ1_M    FileType = 31
	FileTypeMostlyBF16     FileType = 32
	FileTypeMostlyTQ1_0    FileType = 36
	FileTypeMostlyTQ2_0    FileType = 37
	FileTypeMostlyMXFP4MoE FileType = 38

	// FileTypeGuessed is or-ed into a file type that llama.cpp guessed from
	// the tensors because general.file_type was absent.
	FileTypeGuessed FileType = 1024
)

var fileTypeNames = map[FileType]string{
	FileTypeAllF32:         "ALL_F32",
	FileTypeMostlyF16:      "MOSTLY_F16",
	FileTypeMostlyQ4_0:     "MOSTLY_Q4_0",
	FileTypeMostlyQ4_1:     "MOSTLY_Q4_1",
	FileTypeMostlyQ8_0:     "MOSTLY_Q8_0",
	FileTypeMostlyQ5_0:     "MOSTLY_Q5_0",
	FileTypeMostlyQ5_1:     "MOSTLY_Q5_1",
	FileTypeMostlyQ2_K:     "MOSTLY_Q2_K",
	FileTypeMostlyQ3_K_S:   "MOSTLY_Q3_K_S",
	FileTypeMostlyQ3_K_M:   "MOSTLY_Q3_K_M",
	FileTypeMostlyQ3_K_L:   "MOSTLY_Q3_K_L",
	FileTypeMostlyQ4_K_S:   "MOSTLY_Q4_K_S",
	FileTypeMostlyQ4_K_M:   "MOSTLY_Q4_K_M",
	FileTypeMostlyQ5_K_S:   "MOSTLY_Q5_K_S",
	FileTypeMostlyQ5_K_M:   "MOSTLY_Q5_K_M",
	FileTypeMostlyQ6_K:     "MOSTLY_Q6_K",
	FileTypeMostlyIQ2_XXS:  "MOSTLY_IQ2_XXS",
	FileTypeMostlyIQ2_XS:   "MOSTLY_IQ2_XS",
	FileTypeMostlyQ2_K_S:   "MOSTLY_Q2_K_S",
	FileTypeMostlyIQ3_XS:   "MOSTLY_IQ3_XS",
	FileTypeMostlyIQ3_XXS:  "MOSTLY_IQ3_XXS",
	FileTypeMostlyIQ1_S:    "MOSTLY_IQ1_S",
	FileTypeMostlyIQ4_NL:   "MOSTLY_IQ4_NL",
	FileTypeMostlyIQ3_S:    "MOSTLY_IQ3_S",
	FileTypeMostlyIQ3_M:    "MOSTLY_IQ3_M",
	FileTypeMostlyIQ2_S:    "MOSTLY_IQ2_S",
	FileTypeMostlyIQ2_M:    "MOSTLY_IQ2_M",
	FileTypeMostlyIQ4_XS:   "MOSTLY_IQ4_XS",
	FileTypeMostlyIQ1_M:    "MOSTLY_IQ1_M",
	FileTypeMostlyBF16:     "MOSTLY_BF16",
	FileTypeMostlyTQ1_0:    "MOSTLY_TQ1_0",
	FileTypeMostlyTQ2_0:    "MOSTLY_TQ2_0",
	FileTypeMostlyMXFP4MoE: "MOSTLY_MXFP4_MOE",
}

// String returns the llama_ftype name without its LLAMA_FTYPE_ prefix
// ("MOSTLY_Q4_K_M"), with " (guessed)" appended when [FileTypeGuessed] is
// set, or "FileType(N)" for an unknown number.
func (ft FileType) String() string {
	if ft&FileTypeGuessed != 0 {
		return (ft &^ FileTypeGuessed).String() + " (guessed)"
	}
	if name, ok := fileTypeNames[ft]; ok {
		return name
	}
	return "FileType(" + strconv.FormatUint(uint64(ft), 10) + ")"
}
