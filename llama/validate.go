package llama

import (
	"fmt"
	"os"

	"github.com/go-rlm/rlm/llama/gguf"
)

// FileType is a model file's storage type (llama.cpp's llama_ftype), as in
// the general.file_type metadata and the target of [Quantize].
type FileType = gguf.FileType

// The file types Quantize is tested with; gguf lists the others.
const (
	FileTypeF32    = gguf.FileTypeAllF32
	FileTypeF16    = gguf.FileTypeMostlyF16
	FileTypeQ8_0   = gguf.FileTypeMostlyQ8_0
	FileTypeQ4_0   = gguf.FileTypeMostlyQ4_0
	FileTypeQ4_K_M = gguf.FileTypeMostlyQ4_K_M
)

// validateModelFile checks path, and every part of a split model, with the
// pure-Go GGUF reader before llama.cpp opens it: llama.cpp aborts the
// process on some malformed files instead of returning an error.
func validateModelFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory, not a GGUF file: %w", path, gguf.ErrNotGGUF)
	}
	return gguf.Validate(path)
}

// fileTypeName renders general.file_type as llama.cpp stores it (a number
// in text) by its name.
func fileTypeName(v string) string {
	var n uint32
	if _, err := fmt.Sscan(v, &n); err != nil {
		return v
	}
	return FileType(n).String()
}
