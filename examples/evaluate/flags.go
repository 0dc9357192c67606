package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// settings are everything an evaluate command was asked: the Config, which
// decides the results, and how and where to run it.
type settings struct {
	Config

	// Out is the output directory.
	Out string
	// ControllerURL is the base URL of an OpenAI-compatible server that
	// plays the controller instead of a local model.
	ControllerURL string
	// ControllerDevice and WorkerDevice name the devices the models go on
	// ("CUDA0", "CPU"); "" chooses (see pickDevices).
	ControllerDevice string
	WorkerDevice     string
	GPULayers        int
	// CUDALib is a ggml CUDA backend library to load first.
	CUDALib string
	Threads int
	// WorkerParallel is how many sub-calls the worker decodes at once.
	WorkerParallel int
	// HTML writes each trajectory as an HTML page too.
	HTML bool
	// Bins and TokenBins are the upper edges of the context-length bins of
	// the summary, in characters and in tokens.
	Bins      []int
	TokenBins []int
	// MaxFailures stops the run after that many failed examples in a row.
	MaxFailures int
	Verbose     bool
}

// preset is a named set of flag values, applied to the flags the command
// line does not set.
type preset struct {
	name   string
	doc    string
	values [][2]string // flag name, value
}

// presets are the configurations the README documents. Model specs use the
// Qwen repositories' own quantization names: their FP16 files are named
// "...-fp16.gguf" (and the 7B one is split in parts), so the tag is fp16.
var presets = []preset{
	{
		name: "laptop",
		doc:  "small models that run on a laptop's CPU: Qwen2.5-Coder-1.5B-Instruct Q4_K_M controller, Qwen2.5-0.5B-Instruct FP16 worker (about 1 GB each)",
		values: [][2]string{
			{"controller", "hf://Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:q4_k_m"},
			{"worker", "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:fp16"},
			{"controller-ctx", "16384"},
			{"worker-ctx", "8192"},
			{"worker-parallel", "4"},
			{"iterations", "12"},
		},
	},
	{
		name: "reference",
		doc:  "the reference configuration: Qwen2.5-Coder-14B-Instruct Q4_K_M controller on CUDA0, Qwen2.5-7B-Instruct FP16 worker on CUDA1",
		values: [][2]string{
			{"controller", "hf://Qwen/Qwen2.5-Coder-14B-Instruct-GGUF:q4_k_m"},
			{"worker", "hf://Qwen/Qwen2.5-7B-Instruct-GGUF:fp16"},
			{"controller-device", "CUDA0"},
			{"worker-device", "CUDA1"},
			{"controller-ctx", "32768"},
			{"worker-ctx", "32768"},
			{"worker-parallel", "8"},
		},
	},
}

func findPreset(name string) (preset, bool) {
	i := slices.IndexFunc(presets, func(p preset) bool { return p.name == name })
	if i < 0 {
		return preset{}, false
	}
	return presets[i], true
}

// usageError is an error in the command line: the command exits with
// status 2, as the flag package's own errors do.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parseEvaluateFlags reads the command line of an evaluation.
func parseEvaluateFlags(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: evaluate -out DIR [flags]\n       evaluate merge -out DIR SHARD_DIR...\n\n"+
			"Evaluates a recursive language model on OOLONG-real. Flags:\n\n")
		fs.PrintDefaults()
	}
	var (
		presetName, dataset, split, types, shard, bins string
		tokenBins, timeLimit                           string
		extraWorkers                                   cli.Strings
	)
	fs.StringVar(&presetName, "preset", "", "a named configuration: "+presetNames()+"; flags given explicitly win")
	fs.StringVar(&s.Out, "out", "", "output directory (required); a run resumes where a run with the same configuration stopped")
	fs.StringVar(&dataset, "config", string(oolong.DnD), "dataset configuration: dnd or toy_dnd")
	fs.StringVar(&split, "split", string(oolong.Test), "split: test (campaign 1) or validation (campaign 2)")
	fs.StringVar(&s.Data, "data", "", "the split as a local .jsonl/.jsonl.gz/.parquet file, or a directory in the Hub's layout; default: download from the Hub")
	fs.IntVar(&s.N, "n", 0, "evaluate at most this many examples; 0 means all")
	fs.IntVar(&s.Offset, "offset", 0, "skip this many examples first")
	fs.StringVar(&types, "types", "", "comma-separated question types to keep (default all): "+joinTypes(oolong.QuestionTypes))
	fs.IntVar(&s.MaxContext, "max-context", 0, "skip context windows longer than this many characters; 0 keeps all")
	fs.IntVar(&s.ContextTokens.Min, "min-context-tokens", oolong.MinContextTokens, "keep context windows of more than this many tokens of the worker's tokenizer (the official evaluation's bound)")
	fs.IntVar(&s.ContextTokens.Max, "max-context-tokens", oolong.MaxContextTokens, "keep context windows of at most this many tokens of the worker's tokenizer (the official evaluation's bound); 0 keeps all, up to the dataset's 1.3M")
	fs.StringVar(&shard, "shard", "", "evaluate only shard k of N (k/N, such as 3/16): each context window, with all its questions, goes to one shard")
	fs.StringVar(&s.Controller, "controller", "", "controller model: a GGUF file or an hf://owner/repo:QUANT spec")
	fs.StringVar(&s.ControllerURL, "controller-url", "", "instead of -controller, an OpenAI-compatible server's base URL (http://host:port/v1)")
	fs.StringVar(&s.ControllerModel, "controller-model", "", "the model name to ask of -controller-url")
	fs.StringVar(&s.Worker, "worker", "", "worker model: a GGUF file or an hf://owner/repo:QUANT spec")
	fs.StringVar(&s.WorkerGrammar, "worker-grammar", "", "a GBNF grammar the worker's replies must follow; default none")
	fs.StringVar(&s.ControllerDevice, "controller-device", "", "device of the controller (a name from ggml's device list, or CPU); default the first GPU, else CPU")
	fs.StringVar(&s.WorkerDevice, "worker-device", "", "device of the worker; default the second GPU, else the only GPU, else CPU")
	fs.IntVar(&s.GPULayers, "ngl", 999, "layers of each model to offload to its GPU")
	fs.StringVar(&s.CUDALib, "cuda-lib", "", "a ggml backend library to load first, such as third_party/lib/libggml-cuda.so from `make cuda`")
	fs.IntVar(&s.Threads, "threads", runtime.NumCPU(), "CPU threads of each model")
	fs.IntVar(&s.ControllerContext, "controller-ctx", 32768, "controller context window, in tokens")
	fs.IntVar(&s.ControllerMaxTokens, "controller-max-tokens", 2048, "longest controller reply, in tokens")
	fs.IntVar(&s.WorkerContext, "worker-ctx", 32768, "worker context window per sub-call, in tokens (capped at the model's training context)")
	fs.IntVar(&s.WorkerMaxTokens, "worker-max-tokens", 1024, "longest worker reply, in tokens")
	fs.IntVar(&s.WorkerParallel, "worker-parallel", 4, "sub-calls the worker decodes at once")
	fs.Var(&extraWorkers, "extra-worker", "another worker, as NAME=MODEL (a GGUF file or an hf:// spec), run as the worker is, that the controller's code chooses with model=\"NAME\" (repeatable)")
	fs.StringVar(&s.Protocol, "protocol", rlm.ProtocolAnswer.String(), "how the controller is taught to submit its answer: answer (the reference implementation's answer dict) or final (the RLM paper's FINAL and FINAL_VAR)")
	fs.IntVar(&s.Iterations, "iterations", 30, "controller replies per example before it must answer")
	fs.IntVar(&s.Depth, "depth", 1, "recursion depth: 2 lets rlm_query start child RLMs")
	fs.IntVar(&s.SubCallBudget, "sub-calls", 0, "sub-call budget per example; 0 means unlimited")
	fs.IntVar(&s.ControllerTokenBudget, "controller-tokens", 0, "controller token budget per example; 0 means unlimited")
	fs.IntVar(&s.WorkerTokenBudget, "worker-tokens", 0, "worker token budget per example; 0 means unlimited")
	fs.StringVar(&timeLimit, "time-limit", "0s", "wall-time limit per example, such as 20m; 0 means none")
	fs.IntVar(&s.ChunkChars, "chunk-chars", 0, "characters per sub-call the controller is told to use; 0 derives it from -worker-ctx (3 characters a token)")
	fs.BoolVar(&s.Baseline, "baseline", false, "also ask the worker alone, as the official evaluation asks a plain model")
	fs.StringVar(&s.BaselineFit, "baseline-fit", fitExclude, "what the baseline does with a window longer than the worker's context: exclude (counted in the summary) or truncate (cut at its end to fit; named in the summary)")
	fs.BoolVar(&s.Share, "share", true, "share work among the questions of a context window: one REPL with the window bound once, and the worker's answers memoized (in subcalls.jsonl, across restarts); -share=false asks every question alone")
	fs.BoolVar(&s.HTML, "html", false, "also write each trajectory as an HTML page")
	fs.StringVar(&bins, "bins", "", "upper edges of the summary's context-length bins, in characters (K and M suffixes allowed); default "+formatBins(defaultBins))
	fs.StringVar(&tokenBins, "token-bins", "", "upper edges of the summary's context-length bins, in tokens (K, M, Ki and Mi suffixes allowed); default "+formatBins(defaultTokenBins))
	fs.IntVar(&s.MaxFailures, "max-failures", 3, "stop after this many failed examples in a row, leaving them unrecorded so that a rerun retries them; 0 never stops")
	fs.BoolVar(&s.Verbose, "v", false, "log progress details, llama.cpp's included")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return s, err
		}
		return s, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return s, usagef("unexpected arguments %q", fs.Args())
	}
	if presetName != "" {
		p, ok := findPreset(presetName)
		if !ok {
			return s, usagef("-preset %q: want %s", presetName, presetNames())
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, v := range p.values {
			// The controller is one of -controller and -controller-url.
			if set[v[0]] || (v[0] == "controller" && set["controller-url"]) {
				continue
			}
			if err := fs.Set(v[0], v[1]); err != nil {
				return s, fmt.Errorf("preset %s: %w", p.name, err)
			}
		}
	}

	s.Dataset, s.Split = oolong.Config(dataset), oolong.Split(split)
	for t := range strings.SplitSeq(types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			s.QuestionTypes = append(s.QuestionTypes, oolong.QuestionType(t))
		}
	}
	var err error
	if s.ExtraWorkers, err = cli.ParseNamedModels("extra-worker", extraWorkers); err != nil {
		return s, usageError{err}
	}
	if s.Shard, err = parseShard(shard); err != nil {
		return s, usagef("-shard: %v", err)
	}
	var d Duration
	if err := d.UnmarshalText([]byte(timeLimit)); err != nil {
		return s, usagef("-time-limit: %v", err)
	}
	s.TimeLimit = d
	if s.Bins, err = parseBins(bins, defaultBins); err != nil {
		return s, usagef("-bins: %v", err)
	}
	if s.TokenBins, err = parseBins(tokenBins, defaultTokenBins); err != nil {
		return s, usagef("-token-bins: %v", err)
	}
	s.ContextTokenizer = workerTokenizer
	if !s.Baseline {
		s.BaselineFit = ""
	}
	if s.ChunkChars == 0 {
		s.ChunkChars = defaultChunkChars(s.WorkerContext, s.WorkerMaxTokens)
	}
	if err := s.validate(); err != nil {
		return s, usageError{err}
	}
	return s, nil
}

// defaultChunkChars is the chunk size that fits a worker sub-call: its
// context less the reply and some room for the question and the chat
// template, at 3 characters a token (English runs near 4; 3 leaves room).
func defaultChunkChars(workerContext, workerMaxTokens int) int {
	return max(3*(workerContext-workerMaxTokens-256), 1000)
}

// validate checks the settings beyond the Config.
func (s *settings) validate() error {
	if err := s.Config.validate(); err != nil {
		return err
	}
	switch {
	case s.Out == "":
		return errors.New("-out is required: the directory for results, trajectories and reports")
	case (s.Controller == "") == (s.ControllerURL == ""):
		return errors.New("give the controller as either -controller (a GGUF file or hf:// spec) or -controller-url (an OpenAI-compatible server), or choose a -preset")
	case s.ControllerURL == "" && s.ControllerModel != "":
		return errors.New("-controller-model goes with -controller-url")
	case s.Threads < 1 || s.WorkerParallel < 1:
		return errors.New("-threads and -worker-parallel must be positive")
	case s.MaxFailures < 0:
		return errors.New("-max-failures must not be negative")
	}
	return nil
}

func presetNames() string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return strings.Join(names, " or ")
}

// defaultBins are the upper edges of the summary's context-length bins, in
// characters; a last, open bin holds what is longer. Critical Role episodes
// run 120K to 300K characters (about 185K on average), about 4 characters a
// token, so the edges sit near 64K, 128K, 192K, 375K and 750K tokens.
var defaultBins = []int{256_000, 512_000, 768_000, 1_500_000, 3_000_000}

// defaultTokenBins are the edges of the bins in tokens: the official
// evaluation's upper bound (131072 = 128Ki) is an edge, so that the bins
// below it hold what is comparable with OOLONG's paper (windows of about
// 55K, 118K and 175K tokens, the last beyond the bound), and the others
// reach the dataset's 1.3M.
var defaultTokenBins = []int{64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20}

// parseBins reads increasing positive sizes separated by commas; "" gives
// defaults.
func parseBins(s string, defaults []int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(defaults), nil
	}
	var bins []int
	for field := range strings.SplitSeq(s, ",") {
		n, err := parseSize(strings.TrimSpace(field))
		if err != nil {
			return nil, err
		}
		if len(bins) > 0 && n <= bins[len(bins)-1] {
			return nil, fmt.Errorf("edges must increase: %s", s)
		}
		bins = append(bins, n)
	}
	return bins, nil
}

// sizeSuffixes are the multipliers parseSize reads: decimal K and M, binary
// Ki and Mi (tokens come in powers of two: 128Ki = 131072).
var sizeSuffixes = []struct {
	suffix string
	scale  float64
}{{"KI", 1 << 10}, {"MI", 1 << 20}, {"K", 1e3}, {"M", 1e6}}

// parseSize reads a positive count with an optional suffix: "256K", "1.5M",
// "128Ki", "4000".
func parseSize(s string) (int, error) {
	number, scale := s, 1.0
	for _, x := range sizeSuffixes {
		if strings.HasSuffix(strings.ToUpper(s), x.suffix) {
			number, scale = s[:len(s)-len(x.suffix)], x.scale
			break
		}
	}
	v, err := strconv.ParseFloat(number, 64)
	n := math.Round(v * scale)
	if err != nil || !(n >= 1 && n <= math.MaxInt32) { // NaN fails both
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return int(n), nil
}

// formatSize writes n as parseSize reads it, shortest first: 256K, 1.5M,
// 128Ki.
func formatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "Mi"
	case n >= 1<<10 && n%(1<<10) == 0 && n%100 != 0:
		return strconv.Itoa(n>>10) + "Ki"
	case n >= 1e6 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1e3 && n%100 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "K"
	}
	return strconv.Itoa(n)
}

func formatBins(bins []int) string {
	parts := make([]string, len(bins))
	for i, b := range bins {
		parts[i] = formatSize(b)
	}
	return strings.Join(parts, ",")
}
