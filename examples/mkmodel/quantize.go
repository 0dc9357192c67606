package main

import (
	"fmt"

	"github.com/go-rlm/rlm/llama"
)

// quantize writes the model at src to dst quantized to typ (q8_0, q4_0 or
// q4_k_m) with llama.cpp's quantizer.
func quantize(src, dst, typ string) error {
	fileType, ok := map[string]llama.FileType{
		"q8_0":   llama.FileTypeQ8_0,
		"q4_0":   llama.FileTypeQ4_0,
		"q4_k_m": llama.FileTypeQ4_K_M,
	}[typ]
	if !ok {
		return fmt.Errorf("-type %s: not a quantized type", typ)
	}
	return llama.Quantize(src, dst, fileType)
}
