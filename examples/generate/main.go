// Command generate continues a prompt with a GGUF model and prints the
// continuation to standard output.
//
//	go run ./examples/generate -model model.gguf -prompt "Once upon a time" -n 64
//
// With -temp 0 (the default) decoding is greedy and the output is
// deterministic. On any error it prints a one-line reason to standard error
// and exits with status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"

	"github.com/go-rlm/rlm/llama"
)

func main() {
	var (
		modelPath = flag.String("model", "", "GGUF model file (required)")
		prompt    = flag.String("prompt", "Once upon a time", "text to continue")
		n         = flag.Int("n", 64, "tokens to generate")
		temp      = flag.Float64("temp", 0, "sampling temperature; 0 is greedy")
		seed      = flag.Uint("seed", 1, "random seed for sampling with -temp > 0")
		threads   = flag.Int("threads", runtime.NumCPU(), "CPU threads")
		ngl       = flag.Int("ngl", 0, "layers to offload to the GPU")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *modelPath, *prompt, *n, float32(*temp), uint32(*seed), *threads, *ngl); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, modelPath, prompt string, n int, temp float32, seed uint32, threads, ngl int) error {
	if modelPath == "" {
		return errors.New("-model is required")
	}
	if n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", n)
	}
	m, err := llama.LoadModel(ctx, modelPath, llama.WithGPULayers(ngl))
	if err != nil {
		return err
	}
	defer m.Close()
	c, err := m.NewContext(llama.WithThreads(threads, threads))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.GenerateStream(ctx, prompt, func(piece string) error {
		_, err := os.Stdout.WriteString(piece)
		return err
	}, llama.WithMaxTokens(n), llama.WithSampling(llama.Sampling{Temperature: temp, Seed: seed}))
	fmt.Println()
	return err
}
