// Command capture runs prompts through a GGUF model and writes the
// activations of chosen hook points to a Parquet file, one row per hook
// point, prompt and token position:
//
//	go run ./examples/capture -model model.gguf -out DIR -hooks 'blocks.*.hook_resid_post' -prompt 'Roll for initiative'
//
// It writes DIR/activations.parquet (package export's schema: run, hook,
// layer, sequence, position, token_id, token_text, values) and
// DIR/hook_points.csv, every hook point the model has with its llama.cpp
// node. Each -prompt is one sequence; -hooks takes TransformerLens names,
// raw node names and patterns, separated by commas. -limit refuses runs
// that would capture more than that many MiB. On any error it prints a
// one-line reason to standard error and exits with status 1.
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

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

type config struct {
	model           cli.ModelFlags
	out, hooks, run string
	prompts         cli.Strings
	limitMiB        int64
}

func main() { cli.Main("capture", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	cfg.model.Register(fs)
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.StringVar(&cfg.hooks, "hooks", "blocks.*.hook_resid_post", "hook points to capture: names or patterns, comma-separated")
	fs.Var(&cfg.prompts, "prompt", "a prompt (repeat for several; default: one example prompt)")
	fs.StringVar(&cfg.run, "run", "capture", "value of the run column")
	fs.Int64Var(&cfg.limitMiB, "limit", 1024, "refuse to capture more than this many MiB (0: no limit)")
	if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model", "out"); err != nil {
		return err
	}
	if len(cfg.prompts) == 0 {
		cfg.prompts = cli.Strings{"Travis rolls a d20 for perception and gets a 17."}
	}
	return capture(ctx, cfg, stdout)
}

func capture(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	m, err := cfg.model.Load(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	longest := 0
	toks, err := interp.Tokenize(m, cfg.prompts...)
	if err != nil {
		return err
	}
	for _, t := range toks {
		longest = max(longest, len(t))
	}
	// Flash attention off, so that attention patterns can be captured.
	c, err := cfg.model.NewContext(m, llama.WithContextSize(max(512, longest)), llama.WithFlashAttention(llama.FlashAttentionOff))
	if err != nil {
		return err
	}
	defer c.Close()

	points, err := interp.HookPoints(ctx, c)
	if err != nil {
		return err
	}
	if err := cli.WriteCSV(filepath.Join(cfg.out, "hook_points.csv"), hookPointRecords(points)); err != nil {
		return err
	}
	var opts []interp.RunOption
	if cfg.limitMiB > 0 {
		opts = append(opts, interp.WithMemoryLimit(cfg.limitMiB<<20))
	}
	cache, err := interp.RunWithCache(ctx, c, toks, interp.Names(strings.Split(cfg.hooks, ",")...), opts...)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.out, "activations.parquet")
	if err := cli.WriteFile(path, func(w io.Writer) error { return cache.WriteParquet(w, cfg.run) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "captured %d hook points of %d prompts (%d bytes) into %s\n", len(cache.Names()), cache.Prompts(), cache.Bytes(), path)
	return nil
}

// hookPointRecords lists the model's hook points as CSV records: name,
// node, base, layer.
func hookPointRecords(points []interp.HookPoint) [][]string {
	records := [][]string{{"name", "node", "base", "layer"}}
	for _, p := range points {
		records = append(records, []string{p.Name, p.Node, p.Base, strconv.Itoa(p.Layer)})
	}
	return records
}
