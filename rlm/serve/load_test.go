package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/serve"
)

// The load: 64 requests from 16 clients at once, each a scripted
// controller having the generated worker read the 4 chunks of its own
// document.
const (
	loadRequests = 64
	loadClients  = 16
	loadChunks   = 4
)

// loadDocument is request i's document: ten transcript lines of 24
// characters, each marked with the request's number, so that the worker's
// batches show which requests they served. Every 64-character chunk holds
// a whole line.
func loadDocument(i int) string {
	var b strings.Builder
	for j := range 10 {
		fmt.Fprintf(&b, "[req %02d] Laura rolls %d.\n", i, j)
	}
	return b.String()
}

var requestMarker = regexp.MustCompile(`\[req (\d\d)\]`)

// batchRecorder is a generation hook that records, for each batched
// generation of the worker, the request each prompt came from.
type batchRecorder struct {
	mu          sync.Mutex
	generations [][]int
}

func (r *batchRecorder) hook(g local.Generation) func() {
	requests := make([]int, len(g.Prompts))
	for i, p := range g.Prompts {
		requests[i] = -1
		text, err := g.Context.Model().Detokenize(p, false, false)
		if err != nil {
			continue
		}
		if m := requestMarker.FindStringSubmatch(text); m != nil {
			requests[i], _ = strconv.Atoi(m[1])
		}
	}
	r.mu.Lock()
	r.generations = append(r.generations, requests)
	r.mu.Unlock()
	return nil
}

// take returns the generations recorded so far and forgets them.
func (r *batchRecorder) take() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.generations
	r.generations = nil
	return g
}

// batchSharing summarises generations: how many there were, how many
// served more than one request, and how many prompts each request had
// decoded.
func batchSharing(generations [][]int) (total, shared int, prompts map[int]int) {
	prompts = map[int]int{}
	for _, g := range generations {
		distinct := map[int]bool{}
		for _, req := range g {
			distinct[req] = true
			prompts[req]++
		}
		if len(distinct) > 1 {
			shared++
		}
	}
	return len(generations), shared, prompts
}

// loadResult is what one load run measured.
type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration // sorted
	problems  []string        // responses that were not well-formed
}

func (l loadResult) perSecond() float64 { return float64(len(l.latencies)) / l.elapsed.Seconds() }

// percentile returns the latency below which a fraction p of requests
// finished (nearest rank).
func (l loadResult) percentile(p float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(l.latencies))+0.5) - 1
	return l.latencies[min(max(i, 0), len(l.latencies)-1)]
}

// runLoad sends loadRequests requests to url from clients clients at once
// and checks that every response is a well-formed completion with the
// expected answer. ctx bounds the whole load.
func runLoad(ctx context.Context, url string, clients int) loadResult {
	next := make(chan int, loadRequests)
	for i := range loadRequests {
		next <- i
	}
	close(next)
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	begin := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sent := time.Now()
				problem := loadRequest(ctx, client, url, i)
				took := time.Since(sent)
				mu.Lock()
				res.latencies = append(res.latencies, took)
				if problem != "" {
					res.problems = append(res.problems, fmt.Sprintf("request %d: %s", i, problem))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	slices.Sort(res.latencies)
	return res
}

// loadRequest sends request i and says what is wrong with its response,
// or "".
func loadRequest(ctx context.Context, client *http.Client, url string, i int) string {
	body, _ := json.Marshal(map[string]any{
		"model": "rlm",
		"messages": []map[string]any{
			{"role": "user", "content": loadDocument(i)},
			{"role": "user", "content": question},
		},
	})
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err.Error()
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("status %d: %s", resp.StatusCode, b)
	}
	var c completion
	if err := json.Unmarshal(b, &c); err != nil {
		return "not JSON: " + err.Error()
	}
	var info serve.RunInfo
	_ = json.Unmarshal(c.RLM, &info)
	switch {
	case !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "rlm":
		return fmt.Sprintf("envelope: %s", b)
	case len(c.Choices) != 1 || c.Choices[0].FinishReason == nil || *c.Choices[0].FinishReason != "stop":
		return fmt.Sprintf("choices: %s", b)
	case c.Choices[0].Message.Content != fmt.Sprintf("%d chunks read for: %s", loadChunks, question):
		return fmt.Sprintf("answer %q", c.Choices[0].Message.Content)
	case c.Usage == nil || c.Usage.TotalTokens != info.Usage.Controller.TotalTokens+info.Usage.Worker.TotalTokens:
		return fmt.Sprintf("usage: %s", b)
	case info.Usage.Worker.Calls != loadChunks || info.SubCallsFailed != 0:
		return fmt.Sprintf("sub-calls: %+v", info)
	}
	return ""
}

// loadServer serves the reading controller and a worker on the model at
// path, with room for every client's run at once.
func loadServer(t testing.TB, path string, opts ...local.Option) (*testServer, *batchRecorder) {
	rec := &batchRecorder{}
	opts = append([]local.Option{local.WithSequences(loadClients), local.WithSequenceSize(512)}, opts...)
	worker := localModel(t, path, rec.hook, opts...)
	ts := start(t, model(nil, worker), serve.WithMaxRuns(loadClients), serve.WithQueue(loadRequests))
	return ts, rec
}

// TestLoad sends 64 requests from 16 clients at once to a server whose
// worker is a generated model decoded by rlm/local, and checks that every
// response is well formed and that the worker decoded sub-calls of
// different requests in shared batches. It measures nothing: see
// BenchmarkLoad.
func TestLoad(t *testing.T) {
	// A gather window longer than the default's 2 ms makes the sharing
	// certain on a machine of any speed; BenchmarkLoad keeps the default.
	ts, rec := loadServer(t, llamatest.Model(t, llamatest.DefaultConfig()), local.WithGatherWindow(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	res := runLoad(ctx, ts.URL+"/chat/completions", loadClients)
	require.Empty(t, res.problems, "every response is well formed")
	assert.Len(t, res.latencies, loadRequests)

	generations, shared, prompts := batchSharing(rec.take())
	assert.Positive(t, shared, "some of %d batches served several requests", generations)
	require.Len(t, prompts, loadRequests, "every request's sub-calls reached the worker, and nothing else did")
	for req, n := range prompts {
		assert.Equal(t, loadChunks, n, "request %d", req)
	}
	assert.Equal(t, serve.Stats{Completed: loadRequests}, ts.Stats())
	t.Logf("%d requests in %s; %d of %d worker batches served more than one request",
		loadRequests, res.elapsed.Round(time.Millisecond), shared, generations)
}

// BenchmarkLoad measures the load of TestLoad against the benchmark model
// (llamatest.BenchModel): 64 requests from 16 concurrent clients, and the
// same requests from one client, one after another. It reports requests
// per second, the median and 99th-percentile latency, and the share of the
// worker's batched generations that served more than one request. To
// compare the two side by side, run them alternately:
//
//	for i in 1 2 3; do for c in 16 1; do
//	  go test -run '^$' -bench "Load/clients=$c\$" -benchtime 1x ./rlm/serve; done; done
func BenchmarkLoad(b *testing.B) {
	path := llamatest.BenchModel(b)
	threads := llamatest.BenchThreads(b)
	for _, clients := range []int{loadClients, 1} {
		name := fmt.Sprintf("clients=%d", clients)
		b.Run(name, func(b *testing.B) {
			// Answers of 64 tokens, nearer a worker's than the test's 8:
			// generation is where decoding many sequences at once pays.
			ts, rec := loadServer(b, path, local.WithThreads(threads), local.WithMaxTokens(64))
			var all loadResult
			var generations, shared int
			for b.Loop() {
				rec.take()
				res := runLoad(b.Context(), ts.URL+"/chat/completions", clients)
				if len(res.problems) > 0 {
					b.Fatalf("%d malformed responses; first: %s", len(res.problems), res.problems[0])
				}
				g, s, _ := batchSharing(rec.take())
				generations, shared = generations+g, shared+s
				all.elapsed += res.elapsed
				all.latencies = append(all.latencies, res.latencies...)
			}
			slices.Sort(all.latencies)
			b.ReportMetric(all.perSecond(), "req/s")
			b.ReportMetric(float64(all.percentile(0.5).Milliseconds()), "p50-ms")
			b.ReportMetric(float64(all.percentile(0.99).Milliseconds()), "p99-ms")
			b.ReportMetric(100*float64(shared)/float64(max(generations, 1)), "shared-batches-%")
			b.ReportMetric(float64(loadRequests*loadChunks)/float64(max(generations, 1)), "prompts/batch")
		})
	}
}
