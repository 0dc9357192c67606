package llamatest

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/go-rlm/rlm/llama/gguf"
)

// Environment variables that point benchmarks at a model and a thread
// count of the user's choosing.
const (
	EnvBenchModel   = "RLM_BENCH_MODEL"
	EnvBenchThreads = "RLM_BENCH_THREADS"
)

// BenchmarkConfig is the generated model benchmarks use when no model is
// given: 8 layers, n_embd 512, 8 heads, 2 key/value heads, n_ff 1536, F16
// weights (27M parameters, 49 MB): large enough that the model's own
// arithmetic dominates, small enough for a laptop.
func BenchmarkConfig() Config {
	cfg := DefaultConfig()
	cfg.Layers, cfg.Embd, cfg.Heads, cfg.KVHeads, cfg.FF = 8, 512, 8, 2, 1536
	cfg.Type = gguf.TypeF16
	return cfg
}

// BenchModel returns the model benchmarks run: the file named by
// $RLM_BENCH_MODEL (any GGUF), else the generated [BenchmarkConfig] model.
func BenchModel(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvBenchModel); p != "" {
		return p
	}
	return Model(tb, BenchmarkConfig())
}

// BenchThreads returns the CPU threads benchmarks use: $RLM_BENCH_THREADS,
// else every CPU. A value that is not a positive number fails tb.
func BenchThreads(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv(EnvBenchThreads)
	if s == "" {
		return runtime.NumCPU()
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", EnvBenchThreads, s)
	}
	return n
}
