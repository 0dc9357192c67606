package reference_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-rlm/rlm/interp/reference"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// Run a generated model's forward pass and look at its residual stream.
func ExampleModel_Forward() {
	dir, err := os.MkdirTemp("", "reference-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.gguf")
	if err := llamatest.WriteModel(path, llamatest.DefaultConfig()); err != nil {
		log.Fatal(err)
	}

	m, err := reference.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	cfg := m.Config()
	fmt.Printf("%d layers, %d heads (%d key/value heads) of %d dimensions\n", cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.HeadDim)

	res, err := m.Forward(context.Background(), []int{'H', 'i', '!'}) // one token per byte
	if err != nil {
		log.Fatal(err)
	}
	r, c := res.ResidPost[3].Dims()
	fmt.Printf("resid_post of layer 3: %d tokens × %d\n", r, c)
	r, c = res.Logits.Dims()
	fmt.Printf("logits: %d tokens × %d\n", r, c)
	// The first token attends only to itself.
	fmt.Println("pattern of head 0, token 0:", res.Pattern[0][0].RawRowView(0))
	// Output:
	// 4 layers, 4 heads (2 key/value heads) of 16 dimensions
	// resid_post of layer 3: 3 tokens × 64
	// logits: 3 tokens × 259
	// pattern of head 0, token 0: [1 0 0]
}
