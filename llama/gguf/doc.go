// Package gguf reads, validates and writes GGUF files, the model format of
// llama.cpp and ggml, in pure Go.
//
// llama.cpp aborts the whole process on some malformed files (a zero tensor
// dimension, an empty metadata key, general.alignment of the wrong type, two
// tokens with the same text, ...). [Open] checks a file before llama.cpp
// sees it, against the real file size and before allocating anything large,
// and returns an error instead.
//
// # Reading
//
// [Open] parses a file's header: the metadata, in file order, and the tensor
// infos stay in memory, the tensor data on disk, read on demand with
// [File.TensorData] or, as float32, with [File.TensorFloat32]. [Read] does
// the same from any [io.ReaderAt]. Metadata values are of type [Value]; the typed
// accessors [File.String], [File.Uint], [File.Int], [File.Float],
// [File.Bool], [File.Strings] and [File.Array] return an error wrapping
// [ErrKeyNotFound] or [ErrKeyType] when a key is absent or of another type.
//
// # Validation
//
// Open refuses, among others: a wrong magic, versions other than 2 and 3,
// counts and lengths the file cannot hold, unknown value types and nested
// arrays, empty or duplicate keys, duplicate or overlong tensor names, 0 or
// more than 4 dimensions, zero dimensions or element counts that overflow,
// tensor types ggml does not know (or has removed), rows that are not a
// whole number of blocks, general.alignment that is not a u32 power of two,
// tensor data that is misaligned, overlapping, out of order or past the end
// of the file, and the metadata that makes llama.cpp abort while loading a
// model: split.no that is not a u16, tokenizer tokens or merges that are not
// strings, scores or token types of the wrong type or too few, two tokens
// with the same text, per-layer arrays that are not integers, an unknown
// rope scaling type, inconsistent expert counts. [Validate] also checks
// every part of a split model.
//
// # Errors
//
// Every error about a file is an [*Error] naming the file and the offset of
// the problem, wrapping one of [ErrNotGGUF], [ErrVersion], [ErrTruncated],
// [ErrCorrupt] or [ErrSplit]:
//
//	gguf: /models/m.gguf: offset 8: tensor count 9223372036854775807 exceeds what a 1 KiB file can hold: file is corrupt
//
// A path that does not exist gives an error wrapping [fs.ErrNotExist].
//
// # Tensors
//
// Shapes are in ggml order: Shape[0] (ne0) is the length of a row, the
// dimension that varies fastest. [Type] is ggml's tensor type with its block
// size and bytes per block; [FileType] is llama.cpp's general.file_type.
// [Dequantize] decodes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the
// k-quants Q2_K to Q8_K exactly as ggml's dequantize_row_* functions do, bit
// for bit. [Float16ToFloat32] and the other half-precision helpers round as
// ggml does.
//
// # Writing
//
// [Create] and [NewWriter] return a [Writer] that writes a version 3 file
// from metadata set in order ([Writer.Set], with [ValueOf] and [ArrayOf])
// and tensors ([Writer.AddTensor] with raw data, [Writer.AddFloat32] with
// float32 data encoded as F32, F16, BF16, Q8_0 or Q4_0 by [EncodeFloat32]).
// [WriteSplit] writes a model as the parts of a split model, named as
// llama.cpp's gguf-split names them, and [SplitPaths] finds the parts from
// the first one.
//
// # Concurrency
//
// A [File] is safe for concurrent use, [File.Close] included. A [Writer] is
// not. A [Value] is immutable.
package gguf
