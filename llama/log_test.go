package llama_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
)

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestLogLinesBelongToTheirCall makes decodes fail at once in eight
// goroutines, each with a position gap of its own that llama.cpp names in
// its error line: every error carries its own call's line and no other's.
func TestLogLinesBelongToTheirCall(t *testing.T) {
	m := tinyModel(t)
	const goroutines, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := range goroutines {
		c := newContext(t, m, llama.WithContextSize(256))
		require.NoError(t, c.Prefill(context.Background(), []llama.Token{'a', 'b'}, 0, 0))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				var b llama.Batch
				b.Add('c', 100+g, 0, true) // the sequence ends at 1: position 100+g is a gap
				err := c.Decode(context.Background(), &b)
				var lerr *llama.Error
				if !errors.As(err, &lerr) {
					errs <- fmt.Errorf("goroutine %d: want a *llama.Error, got %v", g, err)
					continue
				}
				for other := range goroutines {
					mentions := contains(lerr.Detail, fmt.Sprintf("Y = %d", 100+other))
					if mentions != (other == g) {
						errs <- fmt.Errorf("goroutine %d: detail %q (mentions position %d: %v)", g, lerr.Detail, 100+other, mentions)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// panicHandler is a slog handler that panics on every record.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler bug") }

// TestPanickingCallbacksFailTheCall: a panic in a Go function llama.cpp
// calls back (the log handler, the progress callback) fails the call that
// caused it, with the panic in its error; the process lives on.
func TestPanickingCallbacksFailTheCall(t *testing.T) {
	path := llamatest.Model(t, llamatest.DefaultConfig())
	llama.SetLogger(slog.New(panicHandler{}))
	_, err := llama.LoadModel(context.Background(), path)
	llama.SetLogger(nil)
	assert.ErrorContains(t, err, "log handler panicked: handler bug")

	_, err = llama.LoadModel(context.Background(), path, llama.WithProgress(func(float32) bool { panic("progress bug") }))
	assert.ErrorContains(t, err, "progress callback panicked: progress bug")

	m := loadModel(t, path)
	c := newContext(t, m)
	_, err = c.Observe("l_out-1", func(*llama.Activation) error { panic("hook bug") })
	require.NoError(t, err)
	var b llama.Batch
	b.AddSequence([]llama.Token{'a', 'b'}, 0, 0, true)
	assert.ErrorContains(t, c.Decode(context.Background(), &b), "hook panicked: hook bug")
}
