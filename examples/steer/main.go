// Command steer steers a GGUF model with a vector built from contrast
// pairs: the mean difference of the residual stream after one block between
// positive and negative prompts. It adds that vector, scaled by each
// coefficient, in two ways — through a hook on the residual stream and
// through llama.cpp's control vectors — and records what changes.
//
//	go run ./examples/steer -model model.gguf -out DIR -layer 2 -positive 'I love it' -negative 'I hate it' -prompt 'The tavern is'
//
// It writes DIR/steer.csv (coefficient, method, the projection of the last
// block's residual stream at the prompt's last token on the steering
// direction, the top next token, the greedy continuation), DIR/steer.png
// (that projection against the coefficient, for both methods) and
// DIR/vector.csv (the steering vector). -positive and -negative may be
// repeated. On any error it prints a one-line reason to standard error and
// exits with status 1.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

// texts collects a repeated flag.
type texts []string

func (t *texts) String() string     { return strings.Join(*t, " | ") }
func (t *texts) Set(s string) error { *t = append(*t, s); return nil }

type config struct {
	model, out, prompt, coeffs string
	positive, negative         texts
	layer, n, threads, ngl     int
}

// result is one steered run.
type result struct {
	coeff      float64
	method     string
	projection float64
	top, text  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "steer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("steer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.model, "model", "", "GGUF model file (required)")
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.Var(&cfg.positive, "positive", "a positive prompt (repeatable; default: two examples)")
	fs.Var(&cfg.negative, "negative", "a negative prompt (repeatable; default: two examples)")
	fs.StringVar(&cfg.prompt, "prompt", "The innkeeper looks at the party and", "the prompt to steer")
	fs.IntVar(&cfg.layer, "layer", -1, "steer the residual stream after this block, at least 1 (default: the middle one)")
	fs.StringVar(&cfg.coeffs, "coeffs", "-8,-4,0,4,8", "steering coefficients, comma-separated")
	fs.IntVar(&cfg.n, "n", 24, "tokens to generate")
	fs.IntVar(&cfg.threads, "threads", runtime.NumCPU(), "CPU threads")
	fs.IntVar(&cfg.ngl, "ngl", 0, "layers to offload to the GPU")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fmt.Fprintln(os.Stderr, "usage: steer -model FILE.gguf -out DIR [flags]")
			fs.PrintDefaults()
		}
		return err
	}
	switch {
	case cfg.model == "":
		return errors.New("-model is required")
	case cfg.out == "":
		return errors.New("-out is required")
	case cfg.n <= 0:
		return fmt.Errorf("-n must be positive, got %d", cfg.n)
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(cfg.positive) == 0 {
		cfg.positive = texts{"I love this place. Everyone is kind and generous.", "What a wonderful day, we are delighted."}
	}
	if len(cfg.negative) == 0 {
		cfg.negative = texts{"I hate this place. Everyone is cruel and greedy.", "What a miserable day, we are furious."}
	}
	coeffs, err := parseCoeffs(cfg.coeffs)
	if err != nil {
		return err
	}
	return steer(ctx, cfg, coeffs, stdout)
}

func parseCoeffs(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("-coeffs: %q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func steer(ctx context.Context, cfg config, coeffs []float64, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	m, err := llama.LoadModel(ctx, cfg.model, llama.WithGPULayers(cfg.ngl))
	if err != nil {
		return err
	}
	defer m.Close()
	info, err := m.Info()
	if err != nil {
		return err
	}
	if cfg.layer < 0 {
		cfg.layer = info.Layers / 2
	}
	if cfg.layer < 1 || cfg.layer >= info.Layers {
		return fmt.Errorf("-layer %d outside [1, %d): llama.cpp's control vectors start after block 1", cfg.layer, info.Layers)
	}
	c, err := m.NewContext(llama.WithContextSize(1024), llama.WithThreads(cfg.threads, cfg.threads))
	if err != nil {
		return err
	}
	defer c.Close()
	pos, err := interp.Tokenize(m, cfg.positive...)
	if err != nil {
		return err
	}
	neg, err := interp.Tokenize(m, cfg.negative...)
	if err != nil {
		return err
	}
	prompt, err := interp.Tokenize(m, cfg.prompt)
	if err != nil {
		return err
	}
	v, err := interp.ContrastVector(ctx, c, pos, neg, interp.ActName("resid_post", cfg.layer))
	if err != nil {
		return err
	}
	var unit mat.VecDense
	unit.ScaleVec(1/mat.Norm(v, 2), v)

	var results []result
	for _, coeff := range coeffs {
		// Through a hook, attached for both the measurement and the
		// generation.
		remove, err := interp.Attach(ctx, c, interp.Steer(cfg.layer, v, coeff))
		if err != nil {
			return err
		}
		r, err := measure(ctx, c, cfg.prompt, prompt, &unit, cfg.n)
		remove()
		if err != nil {
			return err
		}
		r.coeff, r.method = coeff, "hook"
		results = append(results, r)

		// Through llama.cpp's control vector.
		if err := interp.SetSteering(c, map[int]mat.Vector{cfg.layer: v}, coeff); err != nil {
			return err
		}
		r, err = measure(ctx, c, cfg.prompt, prompt, &unit, cfg.n)
		if cerr := c.ClearControlVector(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		r.coeff, r.method = coeff, "control vector"
		results = append(results, r)
	}

	if err := writeResults(filepath.Join(cfg.out, "steer.csv"), results); err != nil {
		return err
	}
	if err := writeVector(filepath.Join(cfg.out, "vector.csv"), v); err != nil {
		return err
	}
	if err := plotResults(filepath.Join(cfg.out, "steer.png"), results, cfg.layer, info.Layers-1); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "steered block %d with a vector of norm %.4g at %d coefficients; written to %s\n", cfg.layer, mat.Norm(v, 2), len(coeffs), cfg.out)
	return nil
}

// measure runs the prompt under whatever steering c has: the projection of
// the last block's output at the last token on unit, the top next token,
// and a greedy continuation.
func measure(ctx context.Context, c *llama.Context, text string, prompt [][]llama.Token, unit mat.Vector, n int) (result, error) {
	m := c.Model()
	info, err := m.Info()
	if err != nil {
		return result{}, err
	}
	last := interp.ActName("resid_post", info.Layers-1)
	cache, err := interp.RunWithCache(ctx, c, prompt, interp.Names(last))
	if err != nil {
		return result{}, err
	}
	resid := cache.Get(last, 0)
	rows, _ := resid.Dims()
	var r result
	r.projection = mat.Dot(resid.RowView(rows-1), unit)
	logits := cache.Logits(0)
	best := 0
	for i, x := range logits {
		if x > logits[best] {
			best = i
		}
	}
	if r.top, err = m.TokenPiece(llama.Token(best), true); err != nil {
		return result{}, err
	}
	g, err := c.Generate(ctx, text, llama.WithMaxTokens(n))
	if err != nil {
		return result{}, err
	}
	r.text = g.Text
	return r, nil
}

func writeResults(path string, results []result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"coefficient", "method", "projection", "top_token", "continuation"})
	for _, r := range results {
		_ = w.Write([]string{strconv.FormatFloat(r.coeff, 'g', -1, 64), r.method,
			strconv.FormatFloat(r.projection, 'g', -1, 64), r.top, r.text})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeVector(path string, v mat.Vector) error {
	var b strings.Builder
	b.WriteString("index,value\n")
	for i := 0; i < v.Len(); i++ {
		fmt.Fprintf(&b, "%d,%s\n", i, strconv.FormatFloat(v.AtVec(i), 'g', -1, 64))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func plotResults(path string, results []result, layer, last int) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Steering after block %d", layer)
	p.X.Label.Text = "coefficient"
	p.Y.Label.Text = fmt.Sprintf("block %d output · steering direction", last)
	var lines []any
	for _, method := range []string{"hook", "control vector"} {
		var xys plotter.XYs
		for _, r := range results {
			if r.method == method {
				xys = append(xys, plotter.XY{X: r.coeff, Y: r.projection})
			}
		}
		lines = append(lines, method, xys)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
