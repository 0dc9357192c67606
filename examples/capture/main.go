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

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

// prompts collects repeated -prompt flags.
type prompts []string

func (p *prompts) String() string     { return strings.Join(*p, " | ") }
func (p *prompts) Set(s string) error { *p = append(*p, s); return nil }

type config struct {
	model, out, hooks, run string
	prompts                prompts
	threads, ngl           int
	limitMiB               int64
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "capture:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("capture", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.model, "model", "", "GGUF model file (required)")
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.StringVar(&cfg.hooks, "hooks", "blocks.*.hook_resid_post", "hook points to capture: names or patterns, comma-separated")
	fs.Var(&cfg.prompts, "prompt", "a prompt (repeat for several; default: one example prompt)")
	fs.StringVar(&cfg.run, "run", "capture", "value of the run column")
	fs.IntVar(&cfg.threads, "threads", runtime.NumCPU(), "CPU threads")
	fs.IntVar(&cfg.ngl, "ngl", 0, "layers to offload to the GPU")
	fs.Int64Var(&cfg.limitMiB, "limit", 1024, "refuse to capture more than this many MiB (0: no limit)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fmt.Fprintln(os.Stderr, "usage: capture -model FILE.gguf -out DIR [flags]")
			fs.PrintDefaults()
		}
		return err
	}
	switch {
	case cfg.model == "":
		return errors.New("-model is required")
	case cfg.out == "":
		return errors.New("-out is required")
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(cfg.prompts) == 0 {
		cfg.prompts = prompts{"Travis rolls a d20 for perception and gets a 17."}
	}
	return capture(ctx, cfg, stdout)
}

func capture(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	m, err := llama.LoadModel(ctx, cfg.model, llama.WithGPULayers(cfg.ngl))
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
	c, err := m.NewContext(llama.WithContextSize(max(512, longest)), llama.WithThreads(cfg.threads, cfg.threads),
		llama.WithFlashAttention(llama.FlashAttentionOff))
	if err != nil {
		return err
	}
	defer c.Close()

	points, err := interp.HookPoints(ctx, c)
	if err != nil {
		return err
	}
	if err := writeHookPoints(filepath.Join(cfg.out, "hook_points.csv"), points); err != nil {
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
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := cache.WriteParquet(f, cfg.run); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "captured %d hook points of %d prompts (%d bytes) into %s\n", len(cache.Names()), cache.Prompts(), cache.Bytes(), path)
	return nil
}

// writeHookPoints writes the model's hook points: name, node, base, layer.
func writeHookPoints(path string, points []interp.HookPoint) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"name", "node", "base", "layer"})
	for _, p := range points {
		_ = w.Write([]string{p.Name, p.Node, p.Base, strconv.Itoa(p.Layer)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
