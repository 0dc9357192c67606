package llama

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-rlm/rlm/llama/llamatest"
)

// Benchmarks measure prompt processing ("chunk throughput": what a worker
// does with each chunk an RLM hands it). The model is RLM_BENCH_MODEL when
// set, else llamatest.BenchmarkConfig's generated 8-layer F16 model;
// threads are RLM_BENCH_THREADS, else every CPU. The text is a
// fixed English paragraph about dice rolls repeated with a running counter,
// tokenized by the model and cut to the chunk size.

func benchModel(b *testing.B) *Model {
	b.Helper()
	m, err := LoadModel(context.Background(), llamatest.BenchModel(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func benchContext(b *testing.B, m *Model, opts ...ContextOption) *Context {
	b.Helper()
	t := llamatest.BenchThreads(b)
	opts = append([]ContextOption{WithContextSize(8192), WithThreads(t, t)}, opts...)
	c, err := m.NewContext(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// benchTokens returns n tokens of English text.
func benchTokens(b *testing.B, m *Model, n int) []Token {
	b.Helper()
	var sb strings.Builder
	for i := 0; sb.Len() < 8*n; i++ {
		fmt.Fprintf(&sb, "Roll %d: Travis rolls a d20 for perception and gets %d; Matt says the corridor is quiet. ", i, 1+i%20)
	}
	toks, err := m.Tokenize(sb.String(), false, false)
	if err != nil {
		b.Fatal(err)
	}
	if len(toks) < n {
		b.Fatalf("text gives %d tokens, want %d", len(toks), n)
	}
	return toks[:n]
}

var chunkSizes = []int{512, 2048}

func reportTokens(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// processCPU is the CPU time the process has used, every thread, user and
// system. On a machine shared with other work, wall-clock time stretches
// with the load while CPU time mostly does not: benchmarks report tokens
// per CPU-second beside tokens per second, for comparisons side by side.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPUTokens(b *testing.B, tokens int, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(tokens)/cpu.Seconds(), "tokens/cpu-s")
	}
}

// BenchmarkChunkThroughput prefills one chunk through the Go API
// (Context.Prefill: a Batch per n_batch tokens, then Decode).
func BenchmarkChunkThroughput(b *testing.B) {
	m := benchModel(b)
	for _, size := range chunkSizes {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			c := benchContext(b, m)
			toks := benchTokens(b, m, size)
			ctx := context.Background()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				c.ClearKV()
				if err := c.Prefill(ctx, toks, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			reportCPUTokens(b, size*b.N, processCPU()-cpu)
			reportTokens(b, size)
		})
	}
}

// BenchmarkChunkThroughputC is the same prefill as a loop in C over
// llama_decode, the floor for the Go path's overhead.
func BenchmarkChunkThroughputC(b *testing.B) {
	m := benchModel(b)
	for _, size := range chunkSizes {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			c := benchContext(b, m)
			toks := benchTokens(b, m, size)
			b.ResetTimer()
			for range b.N {
				c.ClearKV()
				if rc := c.prefillC(toks, 0); rc != 0 {
					b.Fatalf("llama_decode: %d", rc)
				}
			}
			reportTokens(b, size)
		})
	}
}

// BenchmarkEightSequences prefills 8 chunks of 512 tokens as 8 sequences of
// one batch, and one after another.
func BenchmarkEightSequences(b *testing.B) {
	const seqs, size = 8, 512
	m := benchModel(b)
	toks := benchTokens(b, m, size)
	ctx := context.Background()
	b.Run("batched", func(b *testing.B) {
		c := benchContext(b, m, WithSequences(seqs), WithBatchSize(seqs*size))
		var batch Batch
		for s := range seqs {
			batch.AddSequence(toks, 0, s, true)
		}
		b.ResetTimer()
		for range b.N {
			c.ClearKV()
			if err := c.Decode(ctx, &batch); err != nil {
				b.Fatal(err)
			}
		}
		reportTokens(b, seqs*size)
	})
	b.Run("sequential", func(b *testing.B) {
		c := benchContext(b, m, WithSequences(seqs))
		b.ResetTimer()
		for range b.N {
			c.ClearKV()
			for s := range seqs {
				if err := c.Prefill(ctx, toks, 0, s); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportTokens(b, seqs*size)
	})
}

// BenchmarkEightGenerations answers 8 prompts of 512 tokens with 32 tokens
// each, as GenerateBatch does for batched sub-calls, and one after another.
func BenchmarkEightGenerations(b *testing.B) {
	const seqs, size, gen = 8, 512, 32
	m := benchModel(b)
	text, err := m.Detokenize(benchTokens(b, m, size), false, false)
	if err != nil {
		b.Fatal(err)
	}
	prompts := make([]Prompt, seqs)
	for i := range prompts {
		prompts[i] = Text(fmt.Sprintf("%d %s", i, text))
	}
	ctx := context.Background()
	// Each iteration clears the cache first: the prompts repeat, and a
	// cached start would not be decoded again.
	b.Run("batched", func(b *testing.B) {
		c := benchContext(b, m, WithSequences(seqs))
		for range b.N {
			c.ClearKV()
			if _, err := c.GenerateBatch(ctx, prompts, WithMaxTokens(gen)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(seqs*b.N)/b.Elapsed().Seconds(), "prompts/s")
	})
	b.Run("sequential", func(b *testing.B) {
		c := benchContext(b, m)
		for range b.N {
			c.ClearKV()
			for _, p := range prompts {
				if _, err := c.Generate(ctx, p, WithMaxTokens(gen)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(seqs*b.N)/b.Elapsed().Seconds(), "prompts/s")
	})
}

// BenchmarkDecodeStep decodes one token at a time after a 128-token prompt,
// asking for logits at each: the decode step of generation, without
// sampling, so that the Go path's cost per llama_decode shows. Every 256
// steps the sequence starts again (the prompt's prefill is not timed).
func BenchmarkDecodeStep(b *testing.B) {
	const prompt, steps = 128, 256
	m := benchModel(b)
	c := benchContext(b, m)
	toks := benchTokens(b, m, prompt+steps)
	ctx := context.Background()
	var batch Batch
	pos := prompt + steps
	var cpu time.Duration
	b.ResetTimer()
	from := processCPU()
	for range b.N {
		if pos == prompt+steps {
			b.StopTimer()
			cpu += processCPU() - from
			c.ClearKV()
			if err := c.Prefill(ctx, toks[:prompt], 0, 0); err != nil {
				b.Fatal(err)
			}
			pos = prompt
			from = processCPU()
			b.StartTimer()
		}
		batch.Reset()
		batch.Add(toks[pos], pos, 0, true)
		if err := c.Decode(ctx, &batch); err != nil {
			b.Fatal(err)
		}
		pos++
	}
	cpu += processCPU() - from
	reportCPUTokens(b, b.N, cpu)
	reportTokens(b, 1)
}

// BenchmarkCapture prefills a 512-token chunk while copying every layer's
// residual stream (l_out-*) out to Go, against no hooks, and against the
// same capture without the run-time check of token attribution
// (attribution.go), to measure what the check costs.
func BenchmarkCapture(b *testing.B) {
	const size = 512
	m := benchModel(b)
	toks := benchTokens(b, m, size)
	ctx := context.Background()
	for _, mode := range []string{"none", "l_out-all", "l_out-all-unchecked"} {
		capture := mode != "none"
		b.Run(mode, func(b *testing.B) {
			verifyAttribution = mode != "l_out-all-unchecked"
			defer func() { verifyAttribution = true }()
			c := benchContext(b, m)
			var kept []float32
			if capture {
				if _, err := c.Observe("l_out-*", func(a *Activation) error {
					kept = append(kept[:0], a.Data...)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				c.ClearKV()
				if err := c.Prefill(ctx, toks, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			reportCPUTokens(b, size*b.N, processCPU()-cpu)
			reportTokens(b, size)
		})
	}
}

// BenchmarkDecodeBookkeeping times what this package does around each
// llama_decode beyond copying the batch: the context's lock, the two
// cancellation watchers (the caller's context and Close's) and the
// attribution of llama.cpp's log lines to the call. Compare with a decode
// step of a model (BenchmarkDecodeStep) to see its share.
func BenchmarkDecodeBookkeeping(b *testing.B) {
	m, err := LoadModel(context.Background(), llamatest.Model(b, llamatest.DefaultConfig()))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	c := benchContext(b, m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var aborting sync.WaitGroup
	abort := func() { aborting.Done() }
	b.ResetTimer()
	cpu := processCPU()
	for range b.N {
		if err := c.lock("bench"); err != nil {
			b.Fatal(err)
		}
		aborting.Add(2)
		stopCtx := context.AfterFunc(ctx, abort)
		stopLife := context.AfterFunc(c.life, abort)
		log := logged(func() {})
		if stopCtx() {
			aborting.Done()
		}
		if stopLife() {
			aborting.Done()
		}
		aborting.Wait()
		_ = log.err()
		c.mu.Unlock()
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
