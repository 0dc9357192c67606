// Command trace answers a question about a document with a Recursive
// Language Model whose worker's activations are traced across its sub-calls,
// then patches a few of the recorded sub-calls to see how their answers
// move.
//
//	go run ./examples/trace -model worker-f16.gguf -out DIR [-doc transcript.txt] [-controller coder.gguf]
//
// Without -controller the controller is scripted: it runs the seed's loop,
// sub_call over every chunk of the document with the question, summing the
// answers (models with random weights, such as examples/mkmodel's, cannot
// write code). With -controller a real controller model writes the code.
// The worker's answers are held to a one- or two-digit integer by a grammar
// (an empty -grammar lifts it). Without -doc the document is a generated
// transcript; -doc takes one, such as a Critical Role episode.
//
// It writes into DIR:
//
//	trace/run-001.parquet  the trace: the residual stream after every layer (-hooks) at each
//	                       sub-call's last prompt token and answer tokens, with the sub-call's
//	                       depth, chunk offset, query and answer (see package interp/trace)
//	trajectory.jsonl       the run, event by event
//	trajectory.html        the same as a page
//	layers.csv             per layer: the mean norm of the last prompt token's residual stream
//	                       and the mean cosine similarity between sub-calls, which says how much
//	                       the chunks set the sub-calls' states apart, layer by layer
//	layers.png             the same as a plot
//	patches.csv            -patch sub-calls re-run with the residual stream after layer -layer
//	                       zeroed at the last prompt token: the answer before and after, and the
//	                       log-probability of the original answer under each
//	summary.txt            what the run and the patches showed, also printed
//
// On any error it prints a one-line reason to standard error and exits with
// status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

type config struct {
	model, controller, doc, question, out, hooks, grammar string
	chunk, maxChunks, maxTokens, layer, patch             int
	threads, sequences, ctxSize, iterations               int
}

func main() { cli.Main("trace", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.StringVar(&cfg.model, "model", "", "the worker's GGUF model (required)")
	fs.StringVar(&cfg.out, "out", "", "output directory (required; created if missing)")
	fs.StringVar(&cfg.doc, "doc", "", "the document, such as a transcript (default: a generated transcript)")
	fs.StringVar(&cfg.controller, "controller", "", "a controller GGUF model that writes the code (default: a scripted controller)")
	fs.StringVar(&cfg.question, "q", "How many dice rolls are there?", "the question")
	fs.StringVar(&cfg.hooks, "hooks", "blocks.*.hook_resid_post", "hook points to trace, comma-separated")
	fs.StringVar(&cfg.grammar, "grammar", `root ::= [0-9] [0-9]?`, "GBNF grammar of the worker's answers ('' for none)")
	fs.IntVar(&cfg.chunk, "chunk", 2000, "bytes per chunk (scripted controller)")
	fs.IntVar(&cfg.maxChunks, "max-chunks", 16, "most chunks sent to the worker (scripted controller)")
	fs.IntVar(&cfg.maxTokens, "max-tokens", 4, "most tokens per worker answer")
	fs.IntVar(&cfg.layer, "layer", -1, "layer whose residual stream the patches zero (default: the middle one)")
	fs.IntVar(&cfg.patch, "patch", 3, "sub-calls to patch")
	fs.IntVar(&cfg.threads, "threads", runtime.NumCPU(), "CPU threads")
	fs.IntVar(&cfg.sequences, "sequences", 4, "sub-calls the worker decodes at once")
	fs.IntVar(&cfg.ctxSize, "ctx", 4096, "tokens per worker conversation")
	fs.IntVar(&cfg.iterations, "iterations", 10, "most controller turns (real controller)")
	if err := cli.Parse(fs, "-model FILE.gguf -out DIR [flags]", args); err != nil {
		return err
	}
	if err := cli.Required(fs, "model", "out"); err != nil {
		return err
	}
	if cfg.chunk <= 0 || cfg.maxChunks <= 0 || cfg.maxTokens <= 0 || cfg.sequences <= 0 || cfg.ctxSize <= 0 {
		return errors.New("-chunk, -max-chunks, -max-tokens, -sequences and -ctx must be positive")
	}
	doc, err := document(cfg.doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}

	workerModel, err := llama.LoadModel(ctx, cfg.model)
	if err != nil {
		return err
	}
	defer workerModel.Close()
	info, err := workerModel.Info()
	if err != nil {
		return err
	}
	if cfg.layer < 0 {
		cfg.layer = info.Layers / 2
	}
	if cfg.layer >= info.Layers {
		return fmt.Errorf("-layer %d: the model has %d layers", cfg.layer, info.Layers)
	}

	quiet := slog.New(slog.DiscardHandler)
	tr, err := trace.New(filepath.Join(cfg.out, "trace"), trace.WithHooks(strings.Split(cfg.hooks, ",")...), trace.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer tr.Close()
	sampling := llama.Sampling{Grammar: cfg.grammar}
	worker, err := local.New(workerModel, local.WithSequences(cfg.sequences), local.WithSequenceSize(cfg.ctxSize),
		local.WithMaxTokens(cfg.maxTokens), local.WithSampling(sampling), local.WithThreads(cfg.threads),
		local.WithLogger(quiet), local.WithGenerationHook(tr.GenerationHook()))
	if err != nil {
		return err
	}
	defer worker.Close()

	controller, closeController, err := newController(ctx, cfg, quiet)
	if err != nil {
		return err
	}
	defer closeController()
	var trajectory rlm.Trajectory
	engine, err := rlm.New(controller, worker, rlm.WithObserver(tr.Observer()), rlm.WithObserver(trajectory.Observer()),
		rlm.WithMaxIterations(cfg.iterations), rlm.WithLogger(quiet))
	if err != nil {
		return err
	}
	res, err := engine.Run(ctx, doc, cfg.question)
	if err != nil {
		return err
	}
	if err := tr.Close(); err != nil {
		return err
	}
	if err := writeTrajectory(&trajectory, cfg.out); err != nil {
		return err
	}

	traceFile := tr.Files()[0]
	layers, err := layerStats(ctx, traceFile)
	if err != nil {
		return err
	}
	if err := writeLayers(layers, cfg.out); err != nil {
		return err
	}
	subCalls, err := trace.ReadSubCalls(ctx, traceFile)
	if err != nil {
		return err
	}
	patches, err := patchSubCalls(ctx, workerModel, subCalls, cfg, sampling)
	if err != nil {
		return err
	}
	if err := writePatches(patches, filepath.Join(cfg.out, "patches.csv")); err != nil {
		return err
	}
	return writeSummary(stdout, cfg, res, traceFile, subCalls, layers, patches)
}

// document reads the document, or generates a transcript when path is
// empty.
func document(path string) (string, error) {
	if path == "" {
		return generatedTranscript(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}

// generatedTranscript is a short session in OOLONG-real's transcript
// format, with dice rolls to count.
func generatedTranscript() string {
	lines := []string{
		"Matt: Roll for initiative.",
		"Laura: 17.",
		"Travis: Natural 20!",
		"Marisha: I attack the goblin. That's a 14 to hit.",
		"Matt: It hits. Roll damage.",
		"Marisha: 9 points of damage.",
		"Sam: I cast Healing Word on Travis.",
		"Liam: I roll stealth. 22.",
		"Taliesin: Perception check, 8.",
		"Matt: The goblin flees into the cave.",
	}
	var b strings.Builder
	for i := range 6 {
		for _, l := range lines {
			b.WriteString(strings.Replace(l, "goblin", []string{"goblin", "orc", "troll", "wolf", "bandit", "drake"}[i], 1))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// newController returns the scripted controller, or a local one on the
// -controller model, and a function that frees it.
func newController(ctx context.Context, cfg config, logger *slog.Logger) (rlm.LM, func(), error) {
	if cfg.controller == "" {
		return rlmtest.Replies([]string{rlmtest.Code(seedLoop(cfg)), rlmtest.Code("FINAL(total)")}), func() {}, nil
	}
	m, err := llama.LoadModel(ctx, cfg.controller)
	if err != nil {
		return nil, nil, err
	}
	lm, err := local.New(m, local.WithSequences(1), local.WithSequenceSize(cfg.ctxSize), local.WithMaxTokens(1024),
		local.WithThreads(cfg.threads), local.WithLogger(logger))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return lm, func() { lm.Close(); m.Close() }, nil
}

// seedLoop is the code of the scripted controller: the seed's loop over
// chunks, as one batch of sub-calls, summing the answers that are integers.
func seedLoop(cfg config) string {
	return fmt.Sprintf(`
chunk_size = %d
chunks = [prompt[i:i+chunk_size] for i in range(0, len(prompt), chunk_size)][:%d]
answers = sub_call(chunks, %q)
total = 0
for a in answers:
    try:
        total += int(a)
    except ValueError:
        pass
print(f"{len(chunks)} chunks, total {total}")
`, cfg.chunk, cfg.maxChunks, cfg.question)
}

func writeTrajectory(t *rlm.Trajectory, dir string) error {
	if err := cli.WriteFile(filepath.Join(dir, "trajectory.jsonl"), t.WriteJSONL); err != nil {
		return err
	}
	return cli.WriteFile(filepath.Join(dir, "trajectory.html"), t.WriteHTML)
}
