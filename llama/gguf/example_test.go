package gguf_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Write a small file, then read its metadata and a tensor back.
func ExampleCreate() {
	dir, err := os.MkdirTemp("", "gguf-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")

	w, err := gguf.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	// Errors stick: Close reports the first one, so the calls below need no
	// checks of their own.
	w.Set(gguf.KeyArchitecture, gguf.ValueOf("qwen2"))
	w.Set("qwen2.block_count", gguf.ValueOf(uint32(4)))
	w.Set("tokenizer.ggml.tokens", gguf.ArrayOf([]string{"a", "b", "c"}))
	// A 2×3 matrix: rows of 3 elements (ne0 = 3), 2 rows.
	w.AddFloat32("w", []int64{3, 2}, gguf.TypeF16, []float32{1, 2, 3, 4, 5, 6.5})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	arch, _ := f.Architecture()
	layers, _ := f.Uint(arch + ".block_count")
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	fmt.Println(arch, layers, tokens)
	info, _ := f.Tensor("w")
	values, _ := f.TensorFloat32("w")
	fmt.Println(info.Name, info.Shape, info.Type, info.Size, values)
	// Output:
	// qwen2 4 [a b c]
	// w [3 2] F16 12 [1 2 3 4 5 6.5]
}

// A malformed file gives an error that says what and where, and whose kind
// errors.Is tells.
func ExampleOpen_errors() {
	dir, err := os.MkdirTemp("", "gguf-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cut.gguf")
	os.WriteFile(path, []byte("GGUF\x03\x00\x00\x00\x01"), 0o644)

	_, err = gguf.Open(path)
	fmt.Println(errors.Is(err, gguf.ErrTruncated))
	fmt.Println(strings.TrimPrefix(err.Error(), "gguf: "+path+": "))
	// Output:
	// true
	// offset 8: file ends in the tensor count: file is truncated
}

// Dequantize one Q8_0 block: a half-precision scale, then 32 signed bytes.
func ExampleDequantize() {
	block := []byte{0x00, 0x38} // scale 0.5 as F16
	for q := range 32 {
		block = append(block, byte(int8(q-16)))
	}
	values := make([]float32, 32)
	if err := gguf.Dequantize(values, gguf.TypeQ8_0, block); err != nil {
		log.Fatal(err)
	}
	fmt.Println(values[:4], values[31])
	// Output:
	// [-8 -7.5 -7 -6.5] 7.5
}

// Write a model in three parts and find them again from the first.
func ExampleWriteSplit() {
	dir, err := os.MkdirTemp("", "gguf-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	kvs := []gguf.KeyValue{{Key: gguf.KeyArchitecture, Value: gguf.ValueOf("qwen2")}}
	var tensors []gguf.Tensor
	for i := range 3 {
		data, _ := gguf.EncodeFloat32(gguf.TypeF32, []float32{float32(i)})
		tensors = append(tensors, gguf.Tensor{Name: fmt.Sprint("t", i), Shape: []int64{1}, Type: gguf.TypeF32, Data: data})
	}
	paths, err := gguf.WriteSplit(filepath.Join(dir, "model"), 3, kvs, tensors)
	if err != nil {
		log.Fatal(err)
	}
	found, err := gguf.SplitPaths(paths[0])
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range found {
		fmt.Println(filepath.Base(p))
	}
	fmt.Println(gguf.Validate(paths[0]))
	// Output:
	// model-00001-of-00003.gguf
	// model-00002-of-00003.gguf
	// model-00003-of-00003.gguf
	// <nil>
}
