// Command logitlens shows what a GGUF model's residual stream predicts
// after each block: the logit lens. It runs a prompt once, projects the
// residual stream after every block through the model's final norm and
// unembedding (read from the GGUF file, dequantized in Go), and keeps the
// top -k tokens at each layer and position.
//
//	go run ./examples/logitlens -model model.gguf -out DIR -prompt 'The dragon breathes'
//
// It writes DIR/logitlens.png, a grid of layer × position colored by the
// top token's probability and labelled with it, and DIR/logitlens.csv, the
// table (layer, hook, position, input, rank, token, piece, logit, prob).
// On any error it prints a one-line reason to standard error and exits with
// status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

type config struct {
	model       cli.ModelFlags
	out, prompt string
	k           int
}

func main() { cli.Main("logitlens", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("logitlens", flag.ContinueOnError)
	cfg.model.Register(fs)
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.StringVar(&cfg.prompt, "prompt", "Matt says: roll for initiative", "the prompt")
	fs.IntVar(&cfg.k, "k", 5, "tokens kept per layer and position")
	if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model", "out"); err != nil {
		return err
	}
	if cfg.k <= 0 {
		return fmt.Errorf("-k must be positive, got %d", cfg.k)
	}
	return lens(ctx, cfg, stdout)
}

func lens(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	m, err := cfg.model.Load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	u, err := interp.LoadUnembed(cfg.model.Path)
	if err != nil {
		return err
	}
	p, err := interp.Tokenize(m, cfg.prompt)
	if err != nil {
		return err
	}
	c, err := cfg.model.NewContext(m, llama.WithContextSize(max(512, len(p[0]))))
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := interp.LogitLens(ctx, c, u, p[0], cfg.k)
	if err != nil {
		return err
	}

	if err := cli.WriteFile(filepath.Join(cfg.out, "logitlens.csv"), l.WriteCSV); err != nil {
		return err
	}
	fig, err := l.Figure()
	if err != nil {
		return err
	}
	width := vg.Length(max(6, min(24, len(p[0])*2/3+2))) * vg.Inch
	height := vg.Length(max(3, min(16, len(l.Top)/3+2))) * vg.Inch
	if err := fig.SavePNG(filepath.Join(cfg.out, "logitlens.png"), width, height); err != nil {
		return err
	}
	last := l.Top[len(l.Top)-1][len(p[0])-1][0]
	fmt.Fprintf(stdout, "%d layers × %d positions; the model predicts %q (p = %.3f) after the prompt; written to %s\n",
		len(l.Top), len(p[0]), last.Piece, last.Prob, cfg.out)
	return nil
}
