package llama_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// EnvStress sets how long each stress run lasts (a Go duration); the
// default keeps the suite short.
const EnvStress = "RLM_STRESS_DURATION"

// errInjected is what the stress test's hooks return now and then.
var errInjected = errors.New("injected hook failure")

// TestStress runs eight goroutines, each with contexts of its own on one
// model, and then on two models, with hooks on every layer's residual
// stream, for a bounded time. They generate, batch and decode with random
// cancellations, close their contexts and open new ones; another goroutine
// closes their contexts under them at random, and tries to close the
// models, which must be refused while contexts are open. Every error must
// be a *llama.Error for a reason the test caused; at the end every context
// closes, the models close (the counts of open handles came back to zero),
// and the process's goroutines and resident memory are back within bounds.
func TestStress(t *testing.T) {
	duration := 4 * time.Second
	if s := os.Getenv(EnvStress); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err, EnvStress)
		duration = d
	}
	for _, models := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d models", models), func(t *testing.T) { stress(t, models, duration) })
	}
}

func stress(t *testing.T, nModels int, duration time.Duration) {
	const goroutines = 8
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %v", seed, duration)

	var models []*llama.Model
	for i := range nModels {
		cfg := llamatest.DefaultConfig()
		cfg.Seed = int64(i)
		m, err := llama.LoadModel(context.Background(), llamatest.Model(t, cfg))
		require.NoError(t, err)
		models = append(models, m)
	}
	// A context per model stays open throughout, so that closing a model
	// is always refused while the goroutines run.
	var keepers []*llama.Context
	for _, m := range models {
		c, err := m.NewContext(llama.WithContextSize(256), llama.WithThreads(1, 1))
		require.NoError(t, err)
		keepers = append(keepers, c)
	}
	runtime.GC()
	goroutinesBefore := runtime.NumGoroutine()

	var (
		slots    [goroutines]atomic.Pointer[llama.Context]
		problems = make(chan error, 1024)
		counts   sync.Map // what happened → how often
		wg       sync.WaitGroup
	)
	count := func(what string) {
		v, _ := counts.LoadOrStore(what, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	report := func(format string, args ...any) {
		select {
		case problems <- fmt.Errorf(format, args...):
		default:
		}
	}
	// check accepts nil and the errors the test provokes, each a
	// *llama.Error naming its operation.
	check := func(g int, op string, err error) {
		if err == nil {
			count(op + ": ok")
			return
		}
		var lerr *llama.Error
		switch {
		case !errors.As(err, &lerr) || lerr.Op == "" || err.Error() == "":
			report("goroutine %d: %s: not a well-formed *llama.Error: %#v", g, op, err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			count(op + ": canceled")
		case errors.Is(err, llama.ErrClosed):
			count(op + ": closed")
		case errors.Is(err, errInjected):
			count(op + ": hook error")
		default:
			report("goroutine %d: %s: unexpected error: %v", g, op, err)
		}
	}

	stop := time.Now().Add(duration)
	warm := time.Now().Add(duration / 4)
	var rssWarm atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			m := models[g%len(models)]
			var c *llama.Context
			open := func() {
				var err error
				c, err = m.NewContext(llama.WithContextSize(512), llama.WithSequences(1+rng.IntN(3)),
					llama.WithMicroBatchSize(8+rng.IntN(32)), llama.WithThreads(1, 1))
				if err != nil {
					report("goroutine %d: new context: %v", g, err)
					c = nil
					return
				}
				hookRNG := rand.New(rand.NewPCG(seed, uint64(1000+g)))
				_, err = c.Observe("l_out-*", func(a *llama.Activation) error {
					if a.Tokens != nil && len(a.Tokens) != a.Shape[a.TokenDim] {
						report("goroutine %d: %s: %d tokens for %d rows", g, a.Name, len(a.Tokens), a.Shape[a.TokenDim])
					}
					if hookRNG.IntN(2000) == 0 {
						return errInjected
					}
					return nil
				})
				if err != nil && !errors.Is(err, llama.ErrClosed) {
					report("goroutine %d: observe: %v", g, err)
				}
				slots[g].Store(c)
			}
			defer func() {
				if c != nil {
					check(g, "close", c.Close())
				}
			}()
			for time.Now().Before(stop) {
				if g == 0 && rssWarm.Load() == 0 && time.Now().After(warm) {
					rssWarm.Store(max(rss(), 1))
				}
				if c == nil {
					open()
					continue
				}
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(3) == 0 {
					time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, cancel)
				}
				switch op := rng.IntN(10); {
				case op < 4:
					_, err := c.Generate(ctx, llama.Text(fmt.Sprintf("Roll %d for initiative", rng.IntN(100))),
						llama.WithMaxTokens(1+rng.IntN(8)))
					check(g, "generate", err)
				case op < 6:
					n := 1 + rng.IntN(4)
					prompts, ctxs := make([]llama.Prompt, n), make([]context.Context, n)
					for i := range prompts {
						prompts[i] = llama.Chat(llama.ChatMessage{Role: "user", Content: fmt.Sprintf("chunk %d <|im_end|>", rng.IntN(100))})
						ctxs[i] = ctx
						if rng.IntN(4) == 0 {
							pc, pcancel := context.WithCancel(ctx)
							pcancel()
							ctxs[i] = pc
						}
					}
					gens, err := c.GenerateBatch(ctx, prompts, llama.WithMaxTokens(1+rng.IntN(6)), llama.WithPromptContexts(ctxs))
					check(g, "generate batch", err)
					for _, gen := range gens {
						if gen.Err != nil {
							check(g, "generate batch prompt", gen.Err)
						}
					}
				case op < 8:
					var b llama.Batch
					n := 1 + rng.IntN(40)
					for i := range n {
						b.Add(llama.Token(rng.IntN(256)), i, 0, i == n-1)
					}
					if err := c.ClearKV(); err != nil {
						check(g, "clear", err)
						break
					}
					check(g, "decode", c.Decode(ctx, &b))
				case op < 9:
					check(g, "close", c.Close())
					c = nil
				default:
					if err := m.Close(); err == nil {
						report("goroutine %d: a model closed while contexts were open", g)
					}
					count("model close refused")
				}
				cancel()
				// A context closed under this goroutine is replaced.
				if c != nil {
					if _, err := c.SequenceEnd(0); errors.Is(err, llama.ErrClosed) {
						check(g, "close", c.Close())
						c = nil
					}
				}
			}
		}()
	}
	// Close the goroutines' contexts under them, from here.
	chaos := rand.New(rand.NewPCG(seed, 999))
	for time.Now().Before(stop) {
		time.Sleep(time.Duration(5+chaos.IntN(20)) * time.Millisecond)
		if c := slots[chaos.IntN(goroutines)].Load(); c != nil {
			check(-1, "close from another goroutine", c.Close())
			count("closed from another goroutine")
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(duration + time.Minute):
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines did not finish:\n%s", buf[:runtime.Stack(buf, true)])
	}
	close(problems)
	for err := range problems {
		t.Error(err)
	}

	for _, c := range keepers {
		require.NoError(t, c.Close())
	}
	for _, m := range models {
		require.NoError(t, m.Close(), "every context the goroutines opened was counted back")
	}
	counts.Range(func(k, v any) bool {
		t.Logf("%-40s %d", k, v.(*atomic.Int64).Load())
		return true
	})
	var generated int64
	if v, ok := counts.Load("generate: ok"); ok {
		generated = v.(*atomic.Int64).Load()
	}
	assert.Positive(t, generated, "generations completed")

	// Goroutines started by the package (cancellation watchers) are gone.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), goroutinesBefore+2, "goroutines left behind")

	runtime.GC()
	if before := rssWarm.Load(); before > 1 {
		after := rss()
		t.Logf("resident memory: %d MiB after warm-up, %d MiB at the end", before>>20, after>>20)
		assert.Less(t, after-before, int64(128<<20), "resident memory grew")
	}
}

// rss is the process's resident set size, 0 where /proc cannot tell.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return 0
	}
	return resident * int64(os.Getpagesize())
}
