package llama

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkDecode generates 64 tokens greedily after a 16-token prompt, in
// one sequence and in 8 sequences of one context (GenerateBatch, one token
// per sequence per step), and reports generated tokens per second of the
// whole call and the process's peak resident memory. third_party/peers
// runs node-llama-cpp on the same file the same way.
func BenchmarkDecode(b *testing.B) {
	const prompt, gen = 16, 64
	m := benchModel(b)
	ids := benchTokens(b, m, prompt)
	ctx := context.Background()
	for _, seqs := range []int{1, 8} {
		b.Run(strconv.Itoa(seqs), func(b *testing.B) {
			c := benchContext(b, m, WithContextSize(seqs*1024), WithSequences(seqs))
			prompts := make([]Prompt, seqs)
			for i := range prompts {
				prompts[i] = Tokens(ids)
			}
			generated := 0
			for range b.N {
				if err := c.ClearKV(); err != nil {
					b.Fatal(err)
				}
				gens, err := c.GenerateBatch(ctx, prompts, WithMaxTokens(gen))
				if err != nil {
					b.Fatal(err)
				}
				for _, g := range gens {
					generated += len(g.Tokens)
				}
			}
			b.ReportMetric(float64(generated)/b.Elapsed().Seconds(), "tokens/s")
			if hwm, ok := peakRSS(); ok {
				b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
			}
		})
	}
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes,
// where /proc says it.
func peakRSS() (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10, true
			}
		}
	}
	return 0, false
}
