// Command generate continues a prompt with a GGUF model and prints the
// continuation to standard output.
//
//	go run ./examples/generate -model model.gguf -prompt "Once upon a time" -n 64
//
// With -temp 0 (the default) decoding is greedy and the output is
// deterministic. The prompt is plain text: "<|im_start|>" in it is read as
// those characters unless -control-tokens asks for control tokens written
// as text to become tokens. On any error it prints a one-line reason to standard error
// and exits with status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
)

func main() { cli.Main("generate", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var (
		model    cli.ModelFlags
		prompt   string
		n        int
		temp     float64
		seed     uint
		controls bool
	)
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	model.Register(fs)
	fs.StringVar(&prompt, "prompt", "Once upon a time", "text to continue")
	fs.IntVar(&n, "n", 64, "tokens to generate")
	fs.Float64Var(&temp, "temp", 0, "sampling temperature; 0 is greedy")
	fs.UintVar(&seed, "seed", 1, "random seed for sampling with -temp > 0")
	fs.BoolVar(&controls, "control-tokens", false, "parse control tokens written in -prompt, such as <|im_start|>")
	if err := cli.Parse(fs, "-model FILE.gguf [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model"); err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", n)
	}
	m, err := model.Load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	c, err := model.NewContext(m)
	if err != nil {
		return err
	}
	defer c.Close()
	p := llama.Text(prompt)
	if controls {
		p = llama.TextWithControlTokens(prompt)
	}
	_, err = c.GenerateStream(ctx, p, func(piece string) error {
		_, err := io.WriteString(stdout, piece)
		return err
	}, llama.WithMaxTokens(n), llama.WithSampling(llama.Sampling{Temperature: float32(temp), Seed: uint32(seed)}))
	fmt.Fprintln(stdout)
	return err
}
