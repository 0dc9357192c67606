// Command patching runs an activation-patching experiment on a GGUF model:
// a clean and a corrupted prompt of the same length, and a sweep over layer
// × position that patches one clean activation into the corrupted run at a
// time, scored by the logit difference of two answer tokens.
//
//	go run ./examples/patching -model model.gguf -out DIR -clean 'Vax rolls a 17' -corrupted 'Vax rolls a 03' -kind resid_pre
//
// It writes DIR/patching.png, a heat map of the fraction of the logit
// difference each patch restores, and DIR/patching.parquet, the tidy table
// (kind, layer, position, head, label, value, normalized). -correct and
// -wrong are the answer tokens (text of one token each); by default the
// clean and the corrupted run's most likely next tokens. -by-head patches
// each attention head alone (for -kind z, q, k or pattern). On any error it
// prints a one-line reason to standard error and exits with status 1.
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
	model                                       cli.ModelFlags
	out, clean, corrupted, correct, wrong, kind string
	byHead                                      bool
	sequences                                   int
}

func main() { cli.Main("patching", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("patching", flag.ContinueOnError)
	cfg.model.Register(fs)
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.StringVar(&cfg.clean, "clean", "Vax rolls a 17", "the clean prompt")
	fs.StringVar(&cfg.corrupted, "corrupted", "Vax rolls a 03", "the corrupted prompt, as many tokens as the clean one")
	fs.StringVar(&cfg.correct, "correct", "", "the clean answer token (default: the clean run's top token)")
	fs.StringVar(&cfg.wrong, "wrong", "", "the corrupted answer token (default: the corrupted run's top token)")
	fs.StringVar(&cfg.kind, "kind", "resid_pre", "hook kind to patch: resid_pre, resid_mid, resid_post, attn_out, mlp_out, z, ...")
	fs.BoolVar(&cfg.byHead, "by-head", false, "patch each attention head alone")
	fs.IntVar(&cfg.sequences, "sequences", 8, "patched runs decoded at once")
	if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model", "out"); err != nil {
		return err
	}
	if cfg.sequences <= 0 {
		return fmt.Errorf("-sequences must be positive, got %d", cfg.sequences)
	}
	return patch(ctx, cfg, stdout)
}

func patch(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	m, err := cfg.model.Load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	p, err := interp.Tokenize(m, cfg.clean, cfg.corrupted)
	if err != nil {
		return err
	}
	clean, corrupted := p[0], p[1]
	if len(clean) != len(corrupted) {
		return fmt.Errorf("the clean prompt has %d tokens, the corrupted one %d: they must be as long", len(clean), len(corrupted))
	}
	// Each sequence holds one prompt; flash attention off, so that
	// patterns can be patched too.
	c, err := cfg.model.NewContext(m, llama.WithContextSize(cfg.sequences*max(64, len(clean))), llama.WithSequences(cfg.sequences),
		llama.WithFlashAttention(llama.FlashAttentionOff))
	if err != nil {
		return err
	}
	defer c.Close()

	correct, wrong, err := answers(ctx, c, cfg, clean, corrupted)
	if err != nil {
		return err
	}
	var opts []interp.SweepOption
	if cfg.byHead {
		opts = append(opts, interp.ByHead())
	}
	table, err := interp.ActivationPatching(ctx, c, clean, corrupted, interp.LogitDiff(correct, wrong), cfg.kind, opts...)
	if err != nil {
		return err
	}

	fig, err := table.Figure()
	if err != nil {
		return err
	}
	rows := len(table.Rows) / len(clean)
	height := vg.Length(max(4, min(16, rows/3+2))) * vg.Inch
	width := vg.Length(max(6, min(20, len(clean)/3+3))) * vg.Inch
	if err := fig.SavePNG(filepath.Join(cfg.out, "patching.png"), width, height); err != nil {
		return err
	}
	if err := cli.WriteFile(filepath.Join(cfg.out, "patching.parquet"), table.WriteParquet); err != nil {
		return err
	}
	cp, _ := m.TokenPiece(correct, true)
	wp, _ := m.TokenPiece(wrong, true)
	fmt.Fprintf(stdout, "logit(%q) − logit(%q): clean %.4g, corrupted %.4g; %d patched runs of %s written to %s\n",
		cp, wp, table.Clean, table.Corrupted, len(table.Rows), cfg.kind, cfg.out)
	return nil
}

// answers returns the answer tokens: -correct and -wrong, or the clean
// and corrupted runs' top tokens (the corrupted run's second best when they
// agree).
func answers(ctx context.Context, c *llama.Context, cfg config, clean, corrupted []llama.Token) (correct, wrong llama.Token, err error) {
	m := c.Model()
	one := func(text, flag string) (llama.Token, error) {
		toks, err := m.Tokenize(text, false, false)
		if err != nil {
			return 0, err
		}
		if len(toks) != 1 {
			return 0, fmt.Errorf("%s %q is %d tokens, want one", flag, text, len(toks))
		}
		return toks[0], nil
	}
	if cfg.correct != "" && cfg.wrong != "" {
		if correct, err = one(cfg.correct, "-correct"); err != nil {
			return 0, 0, err
		}
		wrong, err = one(cfg.wrong, "-wrong")
		return correct, wrong, err
	}
	base, err := interp.RunWithHooks(ctx, c, [][]llama.Token{clean, corrupted}, nil)
	if err != nil {
		return 0, 0, err
	}
	correct, _ = top2(base.Logits(0))
	first, second := top2(base.Logits(1))
	wrong = first
	if wrong == correct {
		wrong = second
	}
	if cfg.correct != "" {
		correct, err = one(cfg.correct, "-correct")
	} else if cfg.wrong != "" {
		wrong, err = one(cfg.wrong, "-wrong")
	}
	return correct, wrong, err
}

// top2 returns the two tokens with the largest logits.
func top2(logits []float32) (first, second llama.Token) {
	first, second = 0, 1
	if logits[1] > logits[0] {
		first, second = 1, 0
	}
	for i := 2; i < len(logits); i++ {
		switch {
		case logits[i] > logits[first]:
			first, second = llama.Token(i), first
		case logits[i] > logits[second]:
			second = llama.Token(i)
		}
	}
	return first, second
}
