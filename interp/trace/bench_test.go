package trace_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/gguf"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
)

// BenchmarkCapture measures what tracing costs. Each iteration has two
// workers on one generated model (4 layers, width 256, F16) answer the same
// batch of four sub-calls (200-byte chunks, 8-token answers), one untraced
// and one traced (the residual stream after every layer at every prompt and
// generated position, written to a Parquet file), alternately so that the
// load of a shared machine hits both alike. Metrics: the time of each,
// the trace written per iteration, and capture-MB/s, the trace's bytes
// over the extra time tracing took.
func BenchmarkCapture(b *testing.B) {
	cfg := llamatest.Config{Layers: 4, Embd: 256, Heads: 4, KVHeads: 2, FF: 512, Type: gguf.TypeF16}
	m, err := llama.LoadModel(context.Background(), llamatest.Model(b, cfg))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	// Each iteration's chunks are new, as a run's are: the worker keeps
	// only the chat template's start from one prompt to the next.
	conversations := func(iteration int) [][]rlm.Message {
		var convs [][]rlm.Message
		for i := range 4 {
			chunk := strings.Repeat(fmt.Sprintf("Laura %d.%d: I roll a 17. ", iteration, i), 10)[:200]
			convs = append(convs, []rlm.Message{{Role: rlm.RoleUser, Content: chunk + "\nHow many rolls?"}})
		}
		return convs
	}
	tr, err := trace.New(b.TempDir(), trace.WithPositions(trace.Prompt|trace.Generated))
	if err != nil {
		b.Fatal(err)
	}
	newWorker := func(opts ...local.Option) *local.LM {
		lm, err := local.New(m, append([]local.Option{local.WithThreads(2), local.WithSequenceSize(512), local.WithMaxTokens(8)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		return lm
	}
	plain, traced := newWorker(), newWorker(local.WithGenerationHook(tr.GenerationHook()))
	defer plain.Close()
	defer traced.Close()

	obs := tr.Observer()
	obs.RunStart(rlm.RunStartEvent{})
	var plainTime, tracedTime time.Duration
	id := int64(0)
	for i := 0; b.Loop(); i++ {
		convs := conversations(i)
		infos := make([]rlm.SubCallInfo, len(convs))
		for i := range infos {
			id++
			infos[i] = rlm.SubCallInfo{ID: id, Depth: 1, Kind: rlm.KindSubCall}
		}
		ctx := rlm.ContextWithSubCallBatch(context.Background(), infos)
		start := time.Now()
		if _, err := plain.CompleteBatch(ctx, convs); err != nil {
			b.Fatal(err)
		}
		plainTime += time.Since(start)
		start = time.Now()
		got, err := traced.CompleteBatch(ctx, convs)
		if err != nil {
			b.Fatal(err)
		}
		for i, c := range got {
			obs.SubCall(rlm.SubCallEvent{SubCallInfo: infos[i], Answer: c.Text})
		}
		tracedTime += time.Since(start)
	}
	start := time.Now()
	obs.RunEnd(rlm.RunEndEvent{})
	tracedTime += time.Since(start)
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(tr.Files()[0])
	if err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(plainTime.Seconds()*1e3/n, "untraced-ms/op")
	b.ReportMetric(tracedTime.Seconds()*1e3/n, "traced-ms/op")
	b.ReportMetric(float64(st.Size())/1e6/n, "trace-MB/op")
	if extra := (tracedTime - plainTime).Seconds(); extra > 0 {
		b.ReportMetric(float64(st.Size())/1e6/extra, "capture-MB/s")
	}
}
