// Command serve puts a Recursive Language Model behind OpenAI's Chat
// Completions API, so that any OpenAI client can use it as a model: the
// last user message is the question, everything before it the document.
// The controller and worker GGUF models load once, in this process, and
// every request shares them: the worker decodes the sub-calls of
// concurrent requests together.
//
//	go run ./examples/serve -controller coder-q4_k_m.gguf -worker instruct-f16.gguf
//
// then, from any OpenAI client (here curl; jq builds the body):
//
//	jq -n --rawfile doc transcript.txt '{model: "rlm", messages: [{role: "user", content: $doc},
//	    {role: "user", content: "How many times does Vex roll a natural 20?"}]}' |
//	  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' -d @-
//
// The answer is the message's content; the response's "rlm" object says
// how the run went and where its trajectory is (GET it, or add /html for
// the page).
//
// It listens on 127.0.0.1:8080 unless -addr says otherwise. -token-file
// names a file of bearer tokens, one a line, and makes every endpoint
// require one (it warns when serving beyond loopback without one).
// SIGTERM or an interrupt shuts it down gracefully: queued requests are
// refused, runs in flight get -grace to finish, and the rest are
// cancelled. Package rlm/serve documents the API, streaming, limits and
// trajectories.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/serve"
)

type options struct {
	controller, worker, name, addr, tokenFile, backend  string
	runs, queue, workerSeqs, ctxSize, maxReply, threads int
	ngl, iterations, depth, chunkChars, trajectories    int
	subCalls, controllerTokens, workerTokens            int
	maxBody                                             int64
	timeLimit, grace                                    time.Duration
	verbose                                             bool
}

func main() { cli.Main("serve", run) }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&o.controller, "controller", "", "controller GGUF model, which writes the code (required)")
	fs.StringVar(&o.worker, "worker", "", "worker GGUF model, which reads the chunks (required)")
	fs.StringVar(&o.name, "name", "rlm", "the model name clients ask for")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on; beyond loopback, use -token-file")
	fs.StringVar(&o.tokenFile, "token-file", "", "file of bearer tokens, one a line: every request must carry one")
	fs.IntVar(&o.runs, "runs", 4, "runs at once; the controller decodes that many conversations together")
	fs.IntVar(&o.queue, "queue", 16, "requests that may wait for a run; more are answered 429")
	fs.IntVar(&o.workerSeqs, "worker-sequences", 8, "sub-calls the worker decodes at once, from all runs")
	fs.IntVar(&o.ctxSize, "ctx", 16384, "tokens of context per conversation, for either model")
	fs.IntVar(&o.maxReply, "max-reply", 1024, "most tokens per model reply")
	fs.IntVar(&o.threads, "threads", 0, "CPU threads per model (0: every CPU, or half each when both models run on the CPU)")
	fs.IntVar(&o.ngl, "ngl", 999, "layers to offload to a GPU, when there is one")
	fs.StringVar(&o.backend, "backend", "third_party/lib/libggml-cuda.so", "GPU backend library to load if it exists")
	fs.IntVar(&o.iterations, "iterations", 30, "most controller replies per request")
	fs.IntVar(&o.depth, "depth", 1, "recursion depth: 2 lets rlm_query start child RLMs")
	fs.IntVar(&o.chunkChars, "chunk-chars", 0, "chunk size the controller is told to use (0: what fits the worker's -ctx)")
	fs.DurationVar(&o.timeLimit, "time-limit", 10*time.Minute, "most wall time per request, queue excluded (0: none)")
	fs.IntVar(&o.subCalls, "sub-calls", 0, "most sub-calls per request (0: no limit)")
	fs.IntVar(&o.controllerTokens, "controller-tokens", 0, "most controller tokens per request (0: no limit)")
	fs.IntVar(&o.workerTokens, "worker-tokens", 0, "most worker tokens per request (0: no limit)")
	fs.Int64Var(&o.maxBody, "max-body", 32<<20, "largest request body, document included, in bytes")
	fs.IntVar(&o.trajectories, "trajectories", 100, "trajectories kept for GET /v1/trajectories/{id}")
	fs.DurationVar(&o.grace, "grace", 30*time.Second, "on SIGTERM, how long runs in flight may go on before they are cancelled")
	fs.BoolVar(&o.verbose, "v", false, "log every run's progress, not only requests")
	if err := cli.Parse(fs, "-controller FILE.gguf -worker FILE.gguf [flags]", args); err != nil {
		return err
	}
	if o.controller == "" || o.worker == "" {
		return errors.New("-controller and -worker are required")
	}
	if o.maxReply >= o.ctxSize {
		return fmt.Errorf("-max-reply %d leaves no room in a %d-token -ctx", o.maxReply, o.ctxSize)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	return serveModels(ctx, o, stdout)
}

// serveModels loads the models, serves them until ctx ends, and frees them.
func serveModels(ctx context.Context, o options, out io.Writer) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	tokens, err := readTokens(o.tokenFile)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer l.Close()
	if len(tokens) == 0 && !loopback(l.Addr()) {
		logger.Warn("serving every caller without a token beyond loopback: anyone who can reach "+
			l.Addr().String()+" can run code in the sandbox and read the trajectories; give -token-file", "addr", l.Addr())
	}

	if _, err := os.Stat(o.backend); err == nil {
		if err := llama.LoadBackend(o.backend); err != nil {
			return err
		}
	}
	ctrlDevice, workerDevice := cli.PlaceModels()
	threads := o.threads
	if threads == 0 {
		threads = runtime.NumCPU()
		if ctrlDevice == "CPU" && workerDevice == "CPU" {
			// Requests overlap, so both models decode at once: threads
			// beyond the cores would spin against each other.
			threads = max(1, threads/2)
		}
	}
	controllerModel, err := llama.LoadModel(ctx, o.controller, cli.OnDevice(ctrlDevice, o.ngl)...)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	defer controllerModel.Close()
	workerModel, err := llama.LoadModel(ctx, o.worker, cli.OnDevice(workerDevice, o.ngl)...)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer workerModel.Close()
	common := []local.Option{local.WithSequenceSize(o.ctxSize), local.WithMaxTokens(o.maxReply),
		local.WithThreads(threads), local.WithLogger(logger)}
	controller, err := local.New(controllerModel, append(common, local.WithSequences(o.runs))...)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	defer controller.Close()
	worker, err := local.New(workerModel, append(common, local.WithSequences(o.workerSeqs))...)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer worker.Close()

	chunkChars := o.chunkChars
	if chunkChars == 0 {
		// About 3 characters a token, leaving room for the reply.
		chunkChars = 3 * (o.ctxSize - o.maxReply)
	}
	engine := []rlm.Option{
		rlm.WithMaxDepth(o.depth),
		rlm.WithChunkChars(chunkChars),
		// Leave the reply its room in the controller's window.
		rlm.WithControllerContext(o.ctxSize - o.maxReply),
	}
	if !o.verbose {
		// The server logs each request; the engine's own records of
		// runs and iterations go to the server's log only with -v.
		engine = append(engine, rlm.WithLogger(slog.New(slog.DiscardHandler)))
	}
	srv, err := serve.New([]serve.Model{{Name: o.name, Controller: controller, Worker: worker, Options: engine}},
		serve.WithLimits(serve.Limits{
			MaxIterations: o.iterations, MaxSubCalls: o.subCalls, TimeLimit: o.timeLimit,
			MaxControllerTokens: o.controllerTokens, MaxWorkerTokens: o.workerTokens,
		}),
		serve.WithMaxRuns(o.runs), serve.WithQueue(o.queue), serve.WithMaxRequestBytes(o.maxBody),
		serve.WithTokens(tokens...), serve.WithTrajectories(o.trajectories),
		serve.WithShutdownGrace(o.grace), serve.WithLogger(logger))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "serving %s on http://%s/v1 (controller on %s, worker on %s)\n", o.name, l.Addr(), ctrlDevice, workerDevice)
	if err := srv.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(out, "stopped")
	return nil
}

// readTokens reads bearer tokens from path, one a line; blank lines and
// lines starting with # are skipped. No path gives no token.
func readTokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var tokens []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			tokens = append(tokens, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: no token in the file", path)
	}
	return tokens, nil
}

// loopback reports whether addr is reachable only from this machine.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
