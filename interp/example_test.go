package interp_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// exampleContext writes the default generated model (4 layers, n_embd 64,
// a byte-level vocabulary) and opens a context on it with flash attention
// off. close releases everything.
func exampleContext() (path string, c *llama.Context, close func()) {
	dir, err := os.MkdirTemp("", "interp-example")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "model.gguf")
	if err := llamatest.WriteModel(path, llamatest.DefaultConfig()); err != nil {
		log.Fatal(err)
	}
	m, err := llama.LoadModel(context.Background(), path)
	if err != nil {
		log.Fatal(err)
	}
	c, err = m.NewContext(llama.WithContextSize(512), llama.WithThreads(1, 1), llama.WithFlashAttention(llama.FlashAttentionOff))
	if err != nil {
		log.Fatal(err)
	}
	return path, c, func() {
		c.Close()
		m.Close()
		os.RemoveAll(dir)
	}
}

func ExampleActName() {
	fmt.Println(interp.ActName("resid_post", 5))
	fmt.Println(interp.ActName("pattern", 2))
	fmt.Println(interp.ActName("post", 0))
	fmt.Println(interp.ActName("normalized", -1))
	// Output:
	// blocks.5.hook_resid_post
	// blocks.2.attn.hook_pattern
	// blocks.0.mlp.hook_post
	// ln_final.hook_normalized
}

// Capture the residual stream after every block and the attention pattern
// of one layer.
func ExampleRunWithCache() {
	_, c, close := exampleContext()
	defer close()
	ctx := context.Background()
	prompts, err := interp.Tokenize(c.Model(), "Roll for initiative")
	if err != nil {
		log.Fatal(err)
	}
	names := interp.Names("blocks.*.hook_resid_post", "blocks.1.attn.hook_pattern")
	bytes, err := interp.EstimateMemory(ctx, c, prompts, names)
	if err != nil {
		log.Fatal(err)
	}
	cache, err := interp.RunWithCache(ctx, c, prompts, names, interp.WithMemoryLimit(1<<20))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cache.Names())
	r, w := cache.ResidPost(3, 0).Dims()
	fmt.Printf("resid_post of block 3: %d tokens × %d, %d bytes in all (estimated %d)\n", r, w, cache.Bytes(), bytes)
	p := cache.Pattern(1, 0, 0)
	fmt.Printf("head 0 of block 1: the last token attends %.2f in all\n", mat.Sum(p.RowView(r-1)))
	// Output:
	// [blocks.0.hook_resid_post blocks.1.hook_resid_post blocks.2.hook_resid_post blocks.3.hook_resid_post blocks.1.attn.hook_pattern]
	// resid_post of block 3: 19 tokens × 64, 51500 bytes in all (estimated 51500)
	// head 0 of block 1: the last token attends 1.00 in all
}

// Unknown hook names list what the model has.
func ExampleHooks_Resolve() {
	_, c, close := exampleContext()
	defer close()
	hooks, err := interp.LoadHooks(context.Background(), c)
	if err != nil {
		log.Fatal(err)
	}
	p, _ := hooks.Resolve("blocks.2.hook_attn_out")
	fmt.Printf("%s = %s − %s\n", p.Name, p.Node, p.Base)
	_, err = hooks.Resolve("blocks.2.attn.hook_v")
	fmt.Println(err != nil)
	// Output:
	// blocks.2.hook_attn_out = ffn_inp-2 − l_out-1
	// true
}

// Patch the clean run's residual stream into a corrupted run, one layer
// and position at a time.
func ExampleActivationPatching() {
	_, c, close := exampleContext()
	defer close()
	p, err := interp.Tokenize(c.Model(), "Grog rolls a 19", "Grog rolls a 02")
	if err != nil {
		log.Fatal(err)
	}
	table, err := interp.ActivationPatching(context.Background(), c, p[0], p[1], interp.LogitDiff('1', '0'), "resid_post")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(table.Rows), "patched runs")
	last := table.Rows[len(table.Rows)-1]
	fmt.Printf("block %d, position %d restores %.2f of the clean logit difference\n", last.Layer, last.Position, table.Normalized(last.Value))
	// Output:
	// 60 patched runs
	// block 3, position 14 restores 1.00 of the clean logit difference
}

// Steer with a vector built from a contrast pair, through a hook and
// through llama.cpp's control vectors.
func ExampleContrastVector() {
	_, c, close := exampleContext()
	defer close()
	ctx := context.Background()
	p, err := interp.Tokenize(c.Model(), "The dragon is friendly", "The dragon is hostile")
	if err != nil {
		log.Fatal(err)
	}
	v, err := interp.ContrastVector(ctx, c, p[:1], p[1:], interp.ActName("resid_post", 2))
	if err != nil {
		log.Fatal(err)
	}
	prompt := p[1:]
	hooked, err := interp.RunWithHooks(ctx, c, prompt, []interp.Patch{interp.Steer(2, v, 4)})
	if err != nil {
		log.Fatal(err)
	}
	if err := interp.SetSteering(c, map[int]mat.Vector{2: v}, 4); err != nil {
		log.Fatal(err)
	}
	defer c.ClearControlVector()
	controlled, err := interp.RunWithHooks(ctx, c, prompt, nil)
	if err != nil {
		log.Fatal(err)
	}
	var diff float64
	for i, x := range hooked.Logits(0) {
		diff = max(diff, float64(x-controlled.Logits(0)[i]), float64(controlled.Logits(0)[i]-x))
	}
	fmt.Println("hook and control vector agree:", diff < 1e-4)
	// Output:
	// hook and control vector agree: true
}

// The logit lens: what the residual stream predicts after each block.
func ExampleLogitLens() {
	path, c, close := exampleContext()
	defer close()
	u, err := interp.LoadUnembed(path)
	if err != nil {
		log.Fatal(err)
	}
	p, err := interp.Tokenize(c.Model(), "Hello")
	if err != nil {
		log.Fatal(err)
	}
	lens, err := interp.LogitLens(context.Background(), c, u, p[0], 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(lens.Top), "layers ×", len(lens.Top[0]), "positions × top", len(lens.Top[0][0]))
	fmt.Println(lens.Hooks[len(lens.Hooks)-1])
	// Output:
	// 4 layers × 5 positions × top 3
	// blocks.3.hook_resid_post
}

// A linear probe recovers a linear feature.
func ExampleFitLinear() {
	x := mat.NewDense(4, 2, []float64{
		1, 0,
		0, 1,
		1, 1,
		2, 1,
	})
	y := []float64{3, -1, 2, 5} // 3·x0 − 1·x1
	p, err := interp.FitLinear(x, y)
	if err != nil {
		log.Fatal(err)
	}
	bias := math.Round(p.Bias*100)/100 + 0 // + 0 turns -0 into 0
	fmt.Printf("weights %.2f, bias %.2f, R² %.2f\n", mat.Formatted(p.Weights.T()), bias, p.R2(x, y))
	// Output:
	// weights [ 3.00  -1.00], bias 0.00, R² 1.00
}
