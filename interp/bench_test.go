package interp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// Benchmarks run on RLM_BENCH_MODEL when set, else on a generated 8-layer
// F16 model (llamatest.BenchmarkConfig, the llama package's benchmark model),
// with RLM_BENCH_THREADS threads, else every CPU.

func benchModel(b *testing.B) *llama.Model {
	b.Helper()
	return loadModel(b, llamatest.BenchModel(b))
}

func benchContext(b *testing.B, m *llama.Model, opts ...llama.ContextOption) *llama.Context {
	b.Helper()
	t := llamatest.BenchThreads(b)
	return newContext(b, m, append([]llama.ContextOption{llama.WithContextSize(4096), llama.WithThreads(t, t)}, opts...)...)
}

// benchTokens returns n tokens of English text.
func benchTokens(b *testing.B, m *llama.Model, n int) []llama.Token {
	b.Helper()
	var sb strings.Builder
	for i := 0; sb.Len() < 8*n; i++ {
		fmt.Fprintf(&sb, "Roll %d: Travis rolls a d20 for perception and gets %d; Matt says the corridor is quiet. ", i, 1+i%20)
	}
	toks, err := m.Tokenize(sb.String(), false, false)
	if err != nil {
		b.Fatal(err)
	}
	return toks[:n]
}

// BenchmarkPrefillCapture processes a 512-token prompt with no hook and
// with every layer's hook_resid_post captured into gonum matrices (which
// also asks for logits at every position, since the last layer is
// captured). The goal is capture at ≥ 0.85× the speed of no hooks.
func BenchmarkPrefillCapture(b *testing.B) {
	m := benchModel(b)
	c := benchContext(b, m)
	ctx := context.Background()
	prompt := [][]llama.Token{benchTokens(b, m, 512)}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"none", func() error { _, err := interp.RunWithHooks(ctx, c, prompt, nil); return err }},
		{"resid_post", func() error {
			_, err := interp.RunWithCache(ctx, c, prompt, interp.Names("blocks.*.hook_resid_post"))
			return err
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if err := tc.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(prompt[0]))/b.Elapsed().Seconds(), "tokens/s")
		})
	}
	// paired alternates no hooks, capture of every layer but the last, and
	// capture of every layer in each iteration, so that a machine whose
	// load drifts slows them alike, and reports the captures' speed
	// relative to no hooks. Capturing the last layer at every position
	// makes llama.cpp compute that layer's MLP for every token instead of
	// the last one only, which the capture of the other layers does not.
	b.Run("paired", func(b *testing.B) {
		hooks, err := interp.LoadHooks(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		var butLast []string
		for l := 0; l < hooks.Layers()-1; l++ {
			butLast = append(butLast, interp.ActName("resid_post", l))
		}
		var none, most, all time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := interp.RunWithHooks(ctx, c, prompt, nil); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := interp.RunWithCache(ctx, c, prompt, interp.Names(butLast...)); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			if _, err := interp.RunWithCache(ctx, c, prompt, interp.Names("blocks.*.hook_resid_post")); err != nil {
				b.Fatal(err)
			}
			none, most, all = none+t1.Sub(t0), most+t2.Sub(t1), all+time.Since(t2)
		}
		b.ReportMetric(none.Seconds()/all.Seconds(), "ratio-all")
		b.ReportMetric(none.Seconds()/most.Seconds(), "ratio-but-last")
	})
}

// BenchmarkActivationPatchingSweep runs a full layer × position sweep of
// hook_resid_pre on a 16-token prompt pair of the benchmark model (8 × 16 =
// 128 patched runs), decoding the patched runs one at a time and 8 at a
// time as parallel sequences.
func BenchmarkActivationPatchingSweep(b *testing.B) {
	m := benchModel(b)
	ctx := context.Background()
	clean := benchTokens(b, m, 16)
	corrupted := append([]llama.Token(nil), clean...)
	corrupted[8] = clean[9]
	metric := interp.LogitDiff(clean[15], corrupted[15])
	for _, seqs := range []int{1, 8} {
		b.Run(fmt.Sprintf("sequences=%d", seqs), func(b *testing.B) {
			c := benchContext(b, m, llama.WithSequences(seqs))
			var runs int
			for b.Loop() {
				table, err := interp.ActivationPatching(ctx, c, clean, corrupted, metric, "resid_pre")
				if err != nil {
					b.Fatal(err)
				}
				runs = len(table.Rows)
			}
			b.ReportMetric(float64(b.N*runs)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}
