package llamatest_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// Write the default model and look at what llama.cpp will load.
func ExampleWriteModel() {
	dir, err := os.MkdirTemp("", "llamatest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.gguf")
	if err := llamatest.WriteModel(path, llamatest.DefaultConfig()); err != nil {
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
	fmt.Println(arch, layers, "layers,", len(f.Tensors()), "tensors,", len(tokens), "tokens")
	k, _ := f.Tensor("blk.0.attn_k.weight")
	fmt.Println(k.Name, k.Shape, k.Type)
	fmt.Printf("%q %q %q\n", tokens['H'], tokens[' '], tokens[llamatest.TokenIMEnd])
	// Output:
	// qwen2 4 layers, 51 tensors, 259 tokens
	// blk.0.attn_k.weight [64 32] F32
	// "H" "Ġ" "<|im_end|>"
}
