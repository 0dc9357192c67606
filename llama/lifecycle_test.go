package llama_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

// syncBuffer is a strings.Builder safe for the goroutines cleanups and
// llama.cpp's threads log from.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leakHandles opens a model, a context with a hook and a sampler and drops
// them all without Close. The hook refers to its own context, as hooks
// that read the context's model do: that must not keep it reachable.
//
//go:noinline
func leakHandles(t *testing.T, path string) {
	m, err := llama.LoadModel(context.Background(), path)
	require.NoError(t, err)
	c, err := m.NewContext(llama.WithContextSize(256), llama.WithThreads(1, 1))
	require.NoError(t, err)
	_, err = c.Observe("l_out-0", func(*llama.Activation) error { _ = c.Model(); return nil })
	require.NoError(t, err)
	_, err = m.NewSampler(llama.Sampling{})
	require.NoError(t, err)
}

// TestLeakedHandlesAreReported drops a model, a context and a sampler
// without closing them and expects each to be reported once the garbage
// collector finds them unreachable: nothing in C or in a global of the
// package may keep them alive. Their C memory stays allocated (cleanups
// never free behind the owner's back); the test leaks one tiny model.
func TestLeakedHandlesAreReported(t *testing.T) {
	var logs syncBuffer
	llama.SetLogger(slogTo(&logs))
	defer llama.SetLogger(nil)
	leakHandles(t, llamatest.Model(t, llamatest.DefaultConfig()))

	want := []string{"Context on", "Sampler on", "Model"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		missing := 0
		for _, w := range want {
			if !strings.Contains(logs.String(), w) {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	assert.Contains(t, out, "Context on")
	assert.Contains(t, out, "Sampler on")
	assert.Contains(t, out, "Model "+llamatest.Model(t, llamatest.DefaultConfig())+" was not closed")
}

// TestClosedHandlesAreNotReported: handles closed properly are never
// reported, however often the collector runs.
func TestClosedHandlesAreNotReported(t *testing.T) {
	var logs syncBuffer
	llama.SetLogger(slogTo(&logs))
	defer llama.SetLogger(nil)
	func() {
		m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()))
		require.NoError(t, err)
		c, err := m.NewContext(llama.WithContextSize(256))
		require.NoError(t, err)
		s, err := m.NewSampler(llama.Sampling{})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.NoError(t, c.Close())
		require.NoError(t, m.Close())
	}()
	for range 5 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.NotContains(t, logs.String(), "was not closed")
}

// TestMethodsAfterClose calls every method that needs the C object after
// Close: each returns an error wrapping ErrClosed.
func TestMethodsAfterClose(t *testing.T) {
	ctx := context.Background()
	m, err := llama.LoadModel(ctx, llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	c, err := m.NewContext(llama.WithContextSize(256))
	require.NoError(t, err)
	s, err := m.NewSampler(llama.Sampling{})
	require.NoError(t, err)

	err = m.Close()
	require.Error(t, err, "closing a model with an open context and sampler is refused")
	assert.ErrorContains(t, err, "1 contexts and 1 samplers")
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close twice is fine")
	require.Error(t, m.Close(), "the sampler is still open")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())

	var b llama.Batch
	b.Add('a', 0, 0, true)
	contextCalls := map[string]func() error{
		"Decode":   func() error { return c.Decode(ctx, &b) },
		"Generate": func() error { _, err := c.Generate(ctx, llama.Text("x")); return err },
		"GenerateBatch": func() error {
			_, err := c.GenerateBatch(ctx, texts("x"))
			return err
		},
		"Prefill":             func() error { return c.Prefill(ctx, []llama.Token{'a'}, 0, 0) },
		"Logits":              func() error { _, err := c.Logits(0); return err },
		"Embeddings":          func() error { _, err := c.Embeddings(0); return err },
		"ClearKV":             c.ClearKV,
		"RemoveTokens":        func() error { return c.RemoveTokens(0, 0, -1) },
		"CopySequence":        func() error { return c.CopySequence(0, 0, 0, -1) },
		"KeepSequence":        func() error { return c.KeepSequence(0) },
		"SequenceEnd":         func() error { _, err := c.SequenceEnd(0); return err },
		"SetThreads":          func() error { return c.SetThreads(1, 1) },
		"Observe":             func() error { _, err := c.Observe("*", func(*llama.Activation) error { return nil }); return err },
		"Modify":              func() error { _, err := c.Modify("*", func(*llama.Activation) error { return nil }); return err },
		"ClearHooks":          c.ClearHooks,
		"NodeNames":           func() error { _, err := c.NodeNames(ctx); return err },
		"SetControlVector":    func() error { return c.SetControlVector(map[int][]float32{1: make([]float32, 64)}) },
		"ClearControlVector":  c.ClearControlVector,
		"Sampler.Sample":      func() error { _, err := s.Sample(c, 0); return err },
		"Sampler.Accept":      func() error { return s.Accept('a') },
		"Sampler.Reset":       s.Reset,
		"Model.Tokenize":      func() error { _, err := m.Tokenize("x", false, false); return err },
		"Model.Detokenize":    func() error { _, err := m.Detokenize([]llama.Token{'a'}, false, false); return err },
		"Model.TokenPiece":    func() error { _, err := m.TokenPiece('a', false); return err },
		"Model.Info":          func() error { _, err := m.Info(); return err },
		"Model.Meta":          func() error { _, err := m.Meta("general.architecture"); return err },
		"Model.MetaKeys":      func() error { _, err := m.MetaKeys(); return err },
		"Model.ChatTemplate":  func() error { _, err := m.ChatTemplate(); return err },
		"Model.SpecialTokens": func() error { _, err := m.SpecialTokens(); return err },
		"Model.IsEndOfGeneration": func() error {
			_, err := m.IsEndOfGeneration(0)
			return err
		},
		"Model.ApplyChatTemplate": func() error {
			_, err := m.ApplyChatTemplate([]llama.ChatMessage{{Role: "user", Content: "x"}}, true)
			return err
		},
		"Model.TokenizeChat": func() error {
			_, err := m.TokenizeChat([]llama.ChatMessage{{Role: "user", Content: "x"}}, true)
			return err
		},
		"Model.TokenizePrompt": func() error { _, err := m.TokenizePrompt(llama.Text("x")); return err },
		"Model.NewContext":     func() error { _, err := m.NewContext(); return err },
		"Model.NewSampler":     func() error { _, err := m.NewSampler(llama.Sampling{}); return err },
	}
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	for name, call := range contextCalls {
		err := call()
		assert.ErrorIs(t, err, llama.ErrClosed, name)
		var lerr *llama.Error
		assert.True(t, errors.As(err, &lerr) && lerr.Op != "", "%s: a *llama.Error naming the operation: %v", name, err)
	}

	var nilModel *llama.Model
	assert.NoError(t, nilModel.Close())
	_, err = nilModel.Info()
	assert.ErrorIs(t, err, llama.ErrClosed)
	var nilContext *llama.Context
	assert.NoError(t, nilContext.Close())
	assert.ErrorIs(t, nilContext.ClearKV(), llama.ErrClosed)
	var nilSampler *llama.Sampler
	assert.NoError(t, nilSampler.Close())
	assert.ErrorIs(t, nilSampler.Reset(), llama.ErrClosed)
}

// TestCloseFromAnotherGoroutine closes a context while it decodes a long
// prompt in another goroutine: the decode stops with ErrClosed, Close
// returns once it has, and the model can then be closed.
func TestCloseFromAnotherGoroutine(t *testing.T) {
	m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	c, err := m.NewContext(llama.WithContextSize(4096), llama.WithMicroBatchSize(64), llama.WithThreads(1, 1))
	require.NoError(t, err)
	started := make(chan struct{})
	var once sync.Once
	_, err = c.Observe("l_out-0", func(*llama.Activation) error {
		once.Do(func() { close(started) })
		return nil
	})
	require.NoError(t, err)
	toks := make([]llama.Token, 2000)
	for i := range toks {
		toks[i] = llama.Token('a' + i%26)
	}
	done := make(chan error, 1)
	go func() { done <- c.Prefill(context.Background(), toks, 0, 0) }()
	<-started
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, llama.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("the decode did not stop")
	}
	assert.NoError(t, m.Close(), "the closed context no longer holds the model")
}

// TestHookCannotCallItsContext: a hook or a stream function calling back
// into its own context gets ErrInCallback instead of a deadlock.
func TestHookCannotCallItsContext(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	var inner error
	_, err := c.Observe("l_out-0", func(*llama.Activation) error {
		_, inner = c.SequenceEnd(0)
		return nil
	})
	require.NoError(t, err)
	var b llama.Batch
	b.AddSequence([]llama.Token{'a', 'b'}, 0, 0, true)
	require.NoError(t, c.Decode(context.Background(), &b))
	assert.ErrorIs(t, inner, llama.ErrInCallback)

	c.ClearHooks()
	inner = nil
	_, err = c.GenerateStream(context.Background(), llama.Text("Hi"), func(string) error {
		_, inner = c.Logits(0)
		return nil
	}, llama.WithMaxTokens(2))
	require.NoError(t, err)
	assert.ErrorIs(t, inner, llama.ErrInCallback)
}
