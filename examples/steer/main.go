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
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

type config struct {
	model               cli.ModelFlags
	out, prompt, coeffs string
	positive, negative  cli.Strings
	layer, n            int
}

// result is one steered run.
type result struct {
	coeff      float64
	method     string
	projection float64
	top, text  string
}

func main() { cli.Main("steer", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("steer", flag.ContinueOnError)
	cfg.model.Register(fs)
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.Var(&cfg.positive, "positive", "a positive prompt (repeatable; default: two examples)")
	fs.Var(&cfg.negative, "negative", "a negative prompt (repeatable; default: two examples)")
	fs.StringVar(&cfg.prompt, "prompt", "The innkeeper looks at the party and", "the prompt to steer")
	fs.IntVar(&cfg.layer, "layer", -1, "steer the residual stream after this block, at least 1 (default: the middle one)")
	fs.StringVar(&cfg.coeffs, "coeffs", "-8,-4,0,4,8", "steering coefficients, comma-separated")
	fs.IntVar(&cfg.n, "n", 24, "tokens to generate")
	if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model", "out"); err != nil {
		return err
	}
	if cfg.n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", cfg.n)
	}
	if len(cfg.positive) == 0 {
		cfg.positive = cli.Strings{"I love this place. Everyone is kind and generous.", "What a wonderful day, we are delighted."}
	}
	if len(cfg.negative) == 0 {
		cfg.negative = cli.Strings{"I hate this place. Everyone is cruel and greedy.", "What a miserable day, we are furious."}
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
	m, err := cfg.model.Load(ctx)
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
	c, err := cfg.model.NewContext(m, llama.WithContextSize(1024))
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
		r, err := measure(ctx, c, prompt, &unit, cfg.n)
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
		r, err = measure(ctx, c, prompt, &unit, cfg.n)
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
func measure(ctx context.Context, c *llama.Context, prompt [][]llama.Token, unit mat.Vector, n int) (result, error) {
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
	g, err := c.Generate(ctx, llama.Tokens(prompt[0]), llama.WithMaxTokens(n))
	if err != nil {
		return result{}, err
	}
	r.text = g.Text
	return r, nil
}

func writeResults(path string, results []result) error {
	records := [][]string{{"coefficient", "method", "projection", "top_token", "continuation"}}
	for _, r := range results {
		records = append(records, []string{strconv.FormatFloat(r.coeff, 'g', -1, 64), r.method,
			strconv.FormatFloat(r.projection, 'g', -1, 64), r.top, r.text})
	}
	return cli.WriteCSV(path, records)
}

func writeVector(path string, v mat.Vector) error {
	records := [][]string{{"index", "value"}}
	for i := 0; i < v.Len(); i++ {
		records = append(records, []string{strconv.Itoa(i), strconv.FormatFloat(v.AtVec(i), 'g', -1, 64)})
	}
	return cli.WriteCSV(path, records)
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
