// Command quickstart answers a question about a document with a Recursive
// Language Model: a controller model writes Python that reads the document
// in a REPL and asks a worker model about chunks of it. Both GGUF models run
// in this process through llama.cpp.
//
//	go run ./examples/quickstart -controller coder-q4_k_m.gguf -worker instruct-f16.gguf \
//		-doc transcript.txt -q "How many times does Travis roll for initiative?"
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
	"time"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
)

type options struct {
	controller, worker, doc, question string
	ngl, iterations, threads          int
	ctxSize, workerSeqs, maxReply     int
	trajectory, html, backend         string
	verbose                           bool
}

func main() { cli.Main("quickstart", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.StringVar(&o.controller, "controller", "", "controller GGUF model (required)")
	fs.StringVar(&o.worker, "worker", "", "worker GGUF model (required)")
	fs.StringVar(&o.doc, "doc", "", "document file (required)")
	fs.StringVar(&o.question, "q", "", "question about the document (required)")
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

// answer runs the RLM on the document and reports the answer.
func answer(ctx context.Context, o options, out io.Writer) error {
	doc, err := os.ReadFile(o.doc)
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
	ctrlDevice, workerDevice := placement()

	controllerModel, err := load(ctx, o.controller, ctrlDevice, o.ngl)
	if err != nil {
		return err
	}
	defer controllerModel.Close()
	workerModel, err := load(ctx, o.worker, workerDevice, o.ngl)
	if err != nil {
		return err
	}
	defer workerModel.Close()

	common := []local.Option{local.WithSequenceSize(o.ctxSize), local.WithMaxTokens(o.maxReply),
		local.WithThreads(o.threads), local.WithLogger(logger)}
	controller, err := local.New(controllerModel, append(common, local.WithSequences(1))...)
	if err != nil {
		return err
	}
	defer controller.Close()
	worker, err := local.New(workerModel, append(common, local.WithSequences(o.workerSeqs))...)
	if err != nil {
		return err
	}
	defer worker.Close()

	var trajectory rlm.Trajectory
	engine, err := rlm.New(controller, worker,
		rlm.WithMaxIterations(o.iterations),
		// Leave the reply its room in the controller's window.
		rlm.WithControllerContext(controller.SequenceSize()-o.maxReply),
		rlm.WithObserver(trajectory.Observer()),
		rlm.WithLogger(logger))
	if err != nil {
		return err
	}
	res, err := engine.Run(ctx, string(doc), o.question)
	if err != nil {
		return err
	}
	if err := writeTrajectory(o.trajectory, trajectory.WriteJSONL); err != nil {
		return err
	}
	if err := writeTrajectory(o.html, trajectory.WriteHTML); err != nil {
		return err
	}
	report(out, res, ctrlDevice, workerDevice)
	return nil
}

// placement puts the controller on the first GPU and the worker on the
// second; with one GPU both share it, and without one both use the CPU ("").
func placement() (controller, worker string) {
	var gpus []string
	for _, d := range llama.Devices() {
		if d.Kind == llama.DeviceGPU {
			gpus = append(gpus, d.Name)
		}
	}
	switch len(gpus) {
	case 0:
		return "", ""
	case 1:
		return gpus[0], gpus[0]
	}
	return gpus[0], gpus[1]
}

func load(ctx context.Context, path, device string, ngl int) (*llama.Model, error) {
	opts := []llama.ModelOption{llama.WithGPULayers(0)}
	if device != "" {
		opts = []llama.ModelOption{llama.WithDevices(device), llama.WithGPULayers(ngl)}
	}
	return llama.LoadModel(ctx, path, opts...)
}

// writeTrajectory writes the trajectory with write to path, if one is
// given.
func writeTrajectory(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	return cli.WriteFile(path, write)
}

func report(w io.Writer, res rlm.Result, ctrlDevice, workerDevice string) {
	if res.Final {
		fmt.Fprintf(w, "answer: %s\n", res.Answer)
	} else {
		fmt.Fprintf(w, "no final answer came (stopped: %s)\n", res.Stop)
		if res.Answer != "" {
			fmt.Fprintf(w, "the controller's last reply: %.200q\n", res.Answer)
		}
	}
	s := res.Stats
	fmt.Fprintf(w, "devices:      controller %s, worker %s\n", orCPU(ctrlDevice), orCPU(workerDevice))
	fmt.Fprintf(w, "CPU kernels:  %s\n", llama.CPUKernels())
	fmt.Fprintf(w, "iterations:   %d\n", s.Iterations)
	fmt.Fprintf(w, "sub-calls:    %d (%d failed)\n", s.SubCalls, s.SubCallsFailed)
	fmt.Fprintf(w, "code blocks:  %d run, %d failed (success rate %.0f%%)\n", s.CodeBlocks, s.CodeBlocksFailed, 100*s.CodeSuccessRate())
	fmt.Fprintf(w, "tokens:       controller %d in / %d out, worker %d in / %d out\n",
		s.Controller.PromptTokens, s.Controller.CompletionTokens, s.Worker.PromptTokens, s.Worker.CompletionTokens)
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
