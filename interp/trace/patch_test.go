package trace_test

import (
	"context"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
)

// recorded is one traced run, shared by the tests that only read it.
var recorded struct {
	once     sync.Once
	dir      string
	file     string
	subCalls []trace.SubCall
	err      error
}

// recordedRun traces runRLM once per test binary and returns the file and
// the tracer's sub-calls.
func recordedRun(t *testing.T) (string, []trace.SubCall) {
	t.Helper()
	recorded.once.Do(func() {
		recorded.dir, recorded.err = os.MkdirTemp("", "trace-test")
		if recorded.err != nil {
			return
		}
		m := loadModel(t)
		tr, err := trace.New(recorded.dir)
		if err != nil {
			recorded.err = err
			return
		}
		worker := newWorker(t, m, tr)
		runRLM(t, worker, tr)
		if recorded.err = tr.Close(); recorded.err == nil {
			recorded.file, recorded.subCalls = tr.Files()[0], tr.SubCalls()
		}
	})
	require.NoError(t, recorded.err)
	return recorded.file, recorded.subCalls
}

func TestMain(m *testing.M) {
	code := m.Run()
	if recorded.dir != "" {
		os.RemoveAll(recorded.dir)
	}
	os.Exit(code)
}

var patchOptions = []trace.PatchOption{trace.WithSampling(integerGrammar), trace.WithMaxTokens(maxTokens), trace.WithThreads(2)}

// TestPatchSubCallReproduces re-runs every recorded sub-call without a
// patch: the answer is the one the worker gave during the run.
func TestPatchSubCallReproduces(t *testing.T) {
	_, subCalls := recordedRun(t)
	m := loadModel(t)
	for _, sc := range subCalls {
		res, err := trace.PatchSubCall(context.Background(), m, sc, nil, patchOptions...)
		require.NoError(t, err)
		assert.Equal(t, sc.Answer, res.Before.Text, "sub-call %d", sc.ID)
		assert.Equal(t, res.Before, res.After, "no patch, no change")
		assert.Equal(t, res.LogProbBefore, res.LogProbAfter)
		assert.Negative(t, res.LogProbBefore)
		assert.False(t, res.Changed())
		assert.Equal(t, sc.ID, res.SubCall)
	}
}

// TestPatchSubCallMovesTheAnswer zeroes the residual stream after layer 1 at
// the last prompt token and checks the log-probability of the original
// answer against package interp's own patched run of the same tokens.
func TestPatchSubCallMovesTheAnswer(t *testing.T) {
	file, _ := recordedRun(t)
	subCalls, err := trace.ReadSubCalls(context.Background(), file)
	require.NoError(t, err)
	sc := subCalls[0]
	m := loadModel(t)
	hook := interp.ActName("resid_post", 1)
	zero := interp.Zero(hook, interp.AtPositions(sc.PromptLast()))
	res, err := trace.PatchSubCall(context.Background(), m, sc, []interp.Patch{zero}, patchOptions...)
	require.NoError(t, err)
	t.Log(res)
	assert.Equal(t, sc.Answer, res.Before.Text)
	assert.Equal(t, []string{zero.String()}, res.Patches)
	assert.NotEqual(t, res.LogProbBefore, res.LogProbAfter, "zeroing the residual stream moves the answer's probability")

	// The same computation through interp.RunWithHooks, teacher-forced.
	c, err := m.NewContext(llama.WithContextSize(1024), llama.WithThreads(2, 2))
	require.NoError(t, err)
	defer c.Close()
	answer := res.Before.Tokens
	tokens := append(append([]llama.Token(nil), sc.Prompt...), answer[:len(answer)-1]...)
	for _, tc := range []struct {
		patches []interp.Patch
		want    float64
	}{{nil, res.LogProbBefore}, {[]interp.Patch{zero}, res.LogProbAfter}} {
		cache, err := interp.RunWithHooks(context.Background(), c, [][]llama.Token{tokens}, tc.patches, interp.WithAllLogits())
		require.NoError(t, err)
		var lp float64
		for k, tok := range answer {
			logits := cache.LogitsAt(0, sc.PromptLast()+k)
			top := math.Inf(-1)
			for _, l := range logits {
				top = max(top, float64(l))
			}
			var sum float64
			for _, l := range logits {
				sum += math.Exp(float64(l) - top)
			}
			lp += float64(logits[tok]) - top - math.Log(sum)
		}
		assert.InDelta(t, tc.want, lp, 1e-4, "patches %v", tc.patches)
	}

	// At a position the answer never reaches, the patch changes nothing.
	far := interp.Zero(hook, interp.AtPositions(len(sc.Prompt)+maxTokens+5))
	res, err = trace.PatchSubCall(context.Background(), m, sc, []interp.Patch{far}, patchOptions...)
	require.NoError(t, err)
	assert.Equal(t, res.Before, res.After)
	assert.Equal(t, res.LogProbBefore, res.LogProbAfter)
}

func TestPatchSubCallErrors(t *testing.T) {
	m := loadModel(t)
	_, err := trace.PatchSubCall(context.Background(), m, trace.SubCall{}, nil)
	assert.ErrorContains(t, err, "no prompt was recorded")
	sc := trace.SubCall{Prompt: []llama.Token{'H', 'i'}}
	_, err = trace.PatchSubCall(context.Background(), m, sc, nil, trace.WithMaxTokens(0))
	assert.ErrorContains(t, err, "max tokens 0")
	_, err = trace.PatchSubCall(context.Background(), m, sc, []interp.Patch{interp.Zero("blocks.9.hook_resid_post")}, trace.WithThreads(2))
	assert.ErrorIs(t, err, interp.ErrUnknownHook)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = trace.PatchSubCall(ctx, m, sc, nil, trace.WithThreads(2), trace.WithMaxTokens(2))
	assert.ErrorIs(t, err, context.Canceled)
}
