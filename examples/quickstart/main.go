// Command quickstart answers a question about a document with a Recursive
// Language Model: a controller model writes Python that reads the document
// in a REPL and asks a worker model about chunks of it. Both GGUF models run
// in this process through llama.cpp.
//
//	go run ./examples/quickstart -controller coder-q4_k_m.gguf -worker instruct-f16.gguf \
//		-doc transcript.txt -q "How many times does Travis roll for initiative?"
//
// Give -q several times to ask the questions in one session: the document is
// bound once in one REPL, and each question sees the variables and the
// history of those before it. -extra-worker NAME=FILE.gguf adds workers that
// the controller's code chooses with model="NAME" (a small model for easy
// chunks, a larger one for hard ones); -protocol chooses how the system
// prompt teaches the controller to submit its answer: "answer" (the answer
// dict, as the reference implementation does since 2026; the default) or
// "final" (FINAL and FINAL_VAR, as in the RLM paper). Both are accepted
// whichever is taught.
//
// With two GPUs the controller goes on the first and the worker on the
// second (-ngl sets the layers offloaded); with one GPU both share it; on a
// CPU-only machine both run on the CPU. It prints the answer and the run's
// statistics, and writes the trajectory as JSONL and HTML when asked.
//
// Models with random weights (from examples/mkmodel) cannot write code: the
// run then ends after the last iteration and says that no final answer came.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
)

type options struct {
	controller, worker, doc       string
	questions, extraWorkers       cli.Strings
	protocol                      rlm.Protocol
	ngl, iterations, threads      int
	ctxSize, workerSeqs, maxReply int
	trajectory, html, backend     string
	verbose                       bool
}

func main() { cli.Main("quickstart", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o := options{protocol: rlm.ProtocolAnswer}
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.StringVar(&o.controller, "controller", "", "controller GGUF model (required)")
	fs.StringVar(&o.worker, "worker", "", "worker GGUF model (required)")
	fs.StringVar(&o.doc, "doc", "", "document file (required)")
	fs.Var(&o.questions, "q", "question about the document (required); several -q are asked in one session")
	fs.Var(&o.extraWorkers, "extra-worker", "another worker, as NAME=FILE.gguf, that code chooses with model=\"NAME\" (repeatable)")
	fs.Var(&o.protocol, "protocol", "how the controller is taught to submit its answer: answer or final")
	fs.IntVar(&o.ngl, "ngl", 999, "layers to offload to a GPU, when there is one")
	fs.IntVar(&o.iterations, "iterations", 30, "most controller turns")
	fs.IntVar(&o.threads, "threads", runtime.NumCPU(), "CPU threads per model")
	fs.IntVar(&o.ctxSize, "ctx", 16384, "tokens of context per conversation, for either model")
	fs.IntVar(&o.workerSeqs, "worker-sequences", 4, "sub-calls the worker decodes at once")
	fs.IntVar(&o.maxReply, "max-reply", 1024, "most tokens per model reply")
	fs.StringVar(&o.trajectory, "trajectory", "", "write the trajectory as JSONL to this file")
	fs.StringVar(&o.html, "html", "", "write the trajectory as an HTML page to this file")
	fs.StringVar(&o.backend, "backend", "third_party/lib/libggml-cuda.so", "GPU backend library to load if it exists")
	fs.BoolVar(&o.verbose, "v", false, "log the run's progress")
	if err := cli.Parse(fs, "-controller FILE.gguf -worker FILE.gguf -doc FILE -q QUESTION [flags]", args); err != nil {
		return err
	}
	if o.controller == "" || o.worker == "" {
		return errors.New("-controller and -worker are required")
	}
	if err := cli.Required(fs, "doc", "q"); err != nil {
		return err
	}
	return answer(ctx, o, stdout)
}

// answer runs the RLM on the document and reports the answers.
func answer(ctx context.Context, o options, out io.Writer) error {
	doc, err := os.ReadFile(o.doc)
	if err != nil {
		return err
	}
	extra, err := cli.ParseNamedModels("extra-worker", o.extraWorkers)
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.Default()
	}
	if _, err := os.Stat(o.backend); err == nil {
		if err := llama.LoadBackend(o.backend); err != nil {
			return err
		}
	}
	ctrlDevice, workerDevice := cli.PlaceModels()

	common := []local.Option{local.WithSequenceSize(o.ctxSize), local.WithMaxTokens(o.maxReply),
		local.WithThreads(o.threads), local.WithLogger(logger)}
	// open loads a model and serves it; closers run in reverse at the end.
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	open := func(path, device string, sequences int) (*local.LM, error) {
		m, err := llama.LoadModel(ctx, path, cli.OnDevice(device, o.ngl)...)
		if err != nil {
			return nil, err
		}
		closers = append(closers, m.Close)
		lm, err := local.New(m, append(common, local.WithSequences(sequences))...)
		if err != nil {
			return nil, err
		}
		closers = append(closers, lm.Close)
		return lm, nil
	}
	controller, err := open(o.controller, ctrlDevice, 1)
	if err != nil {
		return err
	}
	worker, err := open(o.worker, workerDevice, o.workerSeqs)
	if err != nil {
		return err
	}
	var trajectory rlm.Trajectory
	opts := []rlm.Option{
		rlm.WithMaxIterations(o.iterations),
		rlm.WithProtocol(o.protocol),
		rlm.WithObserver(trajectory.Observer()),
		rlm.WithLogger(logger),
	}
	for _, w := range extra {
		lm, err := open(w.Model, workerDevice, o.workerSeqs)
		if err != nil {
			return fmt.Errorf("-extra-worker %s: %w", w.Name, err)
		}
		opts = append(opts, rlm.WithWorker(w.Name, lm))
	}
	// The controller's context (its sequence less the reply's room) comes
	// from the local LM's limits.
	engine, err := rlm.New(controller, worker, opts...)
	if err != nil {
		return err
	}
	results, total, err := ask(ctx, engine, string(doc), o.questions)
	if err != nil {
		return err
	}
	if err := writeTrajectory(o.trajectory, trajectory.WriteJSONL); err != nil {
		return err
	}
	if err := writeTrajectory(o.html, trajectory.WriteHTML); err != nil {
		return err
	}
	report(out, o.questions, results, total, ctrlDevice, workerDevice)
	return nil
}

// ask answers one question with a run, or several in one session.
func ask(ctx context.Context, engine *rlm.RLM, doc string, questions []string) ([]rlm.Result, rlm.Stats, error) {
	if len(questions) == 1 {
		res, err := engine.Run(ctx, doc, questions[0])
		return []rlm.Result{res}, res.Stats, err
	}
	session, err := engine.NewSession(ctx, doc)
	if err != nil {
		return nil, rlm.Stats{}, err
	}
	defer session.Close()
	var results []rlm.Result
	for _, q := range questions {
		res, err := session.Ask(ctx, q)
		if err != nil {
			return nil, rlm.Stats{}, err
		}
		results = append(results, res)
	}
	return results, session.Stats(), nil
}

// writeTrajectory writes the trajectory with write to path, if one is
// given.
func writeTrajectory(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	return cli.WriteFile(path, write)
}

func report(w io.Writer, questions []string, results []rlm.Result, s rlm.Stats, ctrlDevice, workerDevice string) {
	for i, res := range results {
		if len(results) > 1 {
			fmt.Fprintf(w, "question %d:   %s\n", i+1, questions[i])
		}
		if res.Final {
			fmt.Fprintf(w, "answer: %s\n", res.Answer)
		} else {
			fmt.Fprintf(w, "no final answer came (stopped: %s)\n", res.Stop)
			if res.Answer != "" {
				fmt.Fprintf(w, "the controller's last reply: %.200q\n", res.Answer)
			}
		}
	}
	fmt.Fprintf(w, "devices:      controller %s, worker %s\n", orCPU(ctrlDevice), orCPU(workerDevice))
	fmt.Fprintf(w, "CPU kernels:  %s\n", llama.CPUKernels())
	fmt.Fprintf(w, "iterations:   %d\n", s.Iterations)
	fmt.Fprintf(w, "sub-calls:    %d (%d failed)", s.SubCalls, s.SubCallsFailed)
	if len(s.Workers) > 1 {
		names := make([]string, 0, len(s.Workers))
		for name := range s.Workers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(w, "; %s %d", name, s.Workers[name].Calls)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "code blocks:  %d run, %d failed (success rate %.0f%%)\n", s.CodeBlocks, s.CodeBlocksFailed, 100*s.CodeSuccessRate())
	fmt.Fprintf(w, "tokens:       controller %d in (%d reused) / %d out, worker %d in / %d out\n",
		s.Controller.PromptTokens, s.Controller.CachedPromptTokens, s.Controller.CompletionTokens,
		s.Worker.PromptTokens, s.Worker.CompletionTokens)
	fmt.Fprintf(w, "REPL:         %d started, %d document(s) bound\n", s.REPLStarts, s.DocumentsBound)
	fmt.Fprintf(w, "time:         %s total (controller %s, worker %s, code %s)\n",
		round(s.Time.Total), round(s.Time.Controller), round(s.Time.Worker), round(s.Time.Code))
}

func orCPU(device string) string {
	if device == "" {
		return "CPU"
	}
	return device
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
