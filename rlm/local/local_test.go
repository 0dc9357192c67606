package local_test

import (
	"bytes"
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
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

func loadModel(t testing.TB) *llama.Model {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

func newLM(t testing.TB, m *llama.Model, opts ...local.Option) *local.LM {
	t.Helper()
	opts = append([]local.Option{local.WithThreads(1), local.WithSequenceSize(1024), local.WithMaxTokens(8)}, opts...)
	lm, err := local.New(m, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lm.Close()) })
	return lm
}

func user(text string) []rlm.Message { return []rlm.Message{{Role: rlm.RoleUser, Content: text}} }

func TestComplete(t *testing.T) {
	m := loadModel(t)
	lm := newLM(t, m)
	got, err := lm.Complete(context.Background(), user("How many rolls?"))
	require.NoError(t, err)
	assert.Equal(t, 8, got.CompletionTokens)
	toks, err := m.TokenizeChat([]llama.ChatMessage{{Role: "user", Content: "How many rolls?"}}, true)
	require.NoError(t, err)
	assert.Equal(t, len(toks), got.PromptTokens, "the chat template is counted")
	assert.Positive(t, got.Duration)

	// The same reply as the llama package's own greedy generation.
	c, err := m.NewContext(llama.WithContextSize(1024), llama.WithThreads(1, 1))
	require.NoError(t, err)
	defer c.Close()
	want, err := c.Generate(context.Background(), llama.Chat(llama.ChatMessage{Role: "user", Content: "How many rolls?"}), llama.WithMaxTokens(8))
	require.NoError(t, err)
	assert.Equal(t, want.Text, got.Text)
}

func TestConcurrentCallsShareABatch(t *testing.T) {
	m := loadModel(t)
	var mu sync.Mutex
	var sizes []int
	lm := newLM(t, m, local.WithSequences(8), local.WithGatherWindow(300*time.Millisecond),
		local.WithGenerationHook(func(g local.Generation) func() {
			mu.Lock()
			sizes = append(sizes, len(g.Calls))
			mu.Unlock()
			return nil
		}))
	solo, err := lm.Complete(context.Background(), user("chunk 3"))
	require.NoError(t, err)
	sizes = nil

	start := make(chan struct{})
	var wg sync.WaitGroup
	replies := make([]string, 8)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got, err := lm.Complete(context.Background(), user("chunk "+string(rune('0'+i))))
			assert.NoError(t, err)
			replies[i] = got.Text
		}()
	}
	close(start)
	wg.Wait()
	total, largest := 0, 0
	for _, n := range sizes {
		total += n
		largest = max(largest, n)
	}
	assert.Equal(t, 8, total)
	assert.Greater(t, largest, 1, "concurrent calls were decoded together: batch sizes %v", sizes)
	assert.Equal(t, solo.Text, replies[3], "a batched reply equals the same prompt alone")
}

func TestCompleteBatch(t *testing.T) {
	m := loadModel(t)
	var calls [][]rlm.SubCallInfo
	var prompts [][]llama.Token
	lm := newLM(t, m, local.WithSequences(3), local.WithGenerationHook(func(g local.Generation) func() {
		calls = append(calls, g.Calls)
		prompts = g.Prompts
		return nil
	}))
	var convs [][]rlm.Message
	var infos []rlm.SubCallInfo
	for i := range 7 {
		convs = append(convs, user(strings.Repeat("roll ", i+1)))
		infos = append(infos, rlm.SubCallInfo{ID: int64(10 + i), Depth: 1, Kind: rlm.KindLLMQueryBatched})
	}
	ctx := rlm.ContextWithSubCallBatch(context.Background(), infos)
	got, err := lm.CompleteBatch(ctx, convs)
	require.NoError(t, err)
	require.Len(t, got, 7)
	require.Len(t, calls, 1, "one group, one batched generation (7 prompts over 3 sequences)")
	assert.Equal(t, infos, calls[0], "the hook learns which sub-call each prompt answers")
	require.Len(t, prompts, 7)
	text, err := m.Detokenize(prompts[2], false, true)
	require.NoError(t, err)
	assert.Contains(t, text, "roll roll roll", "and the prompts' tokens")
	assert.Contains(t, text, "<|im_start|>user")
	for i, conv := range convs {
		want, err := lm.Complete(context.Background(), conv)
		require.NoError(t, err)
		assert.Equal(t, want.Text, got[i].Text, "conversation %d", i)
	}
}

func TestPromptTooLongFailsAlone(t *testing.T) {
	m := loadModel(t)
	lm := newLM(t, m, local.WithSequenceSize(256))
	got, err := lm.CompleteBatch(context.Background(), [][]rlm.Message{user("short"), user(strings.Repeat("x", 400)), user("fine")})
	var be *rlm.BatchError
	require.ErrorAs(t, err, &be)
	assert.NoError(t, be.Errs[0])
	assert.ErrorIs(t, be.Errs[1], llama.ErrKVCacheFull)
	assert.ErrorContains(t, be.Errs[1], "send smaller chunks")
	assert.NoError(t, be.Errs[2])
	assert.NotEmpty(t, got[2].Text)
}

func TestNoChatTemplate(t *testing.T) {
	m, err := llama.LoadModel(context.Background(), llamatest.Model(t, llamatest.DefaultConfig()), llama.WithChatTemplate("{% for m in messages %}{{ m.content }}"))
	require.NoError(t, err)
	defer m.Close()
	lm, err := local.New(m, local.WithThreads(1), local.WithSequenceSize(256))
	require.NoError(t, err)
	defer lm.Close()
	_, err = lm.Complete(context.Background(), user("hi"))
	assert.ErrorIs(t, err, llama.ErrChatTemplate, "the template does not parse")
}

func TestCancelOneCaller(t *testing.T) {
	m := loadModel(t)
	lm := newLM(t, m, local.WithMaxTokens(200), local.WithGatherWindow(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := lm.Complete(ctx, user("a long answer please"))
		errc <- err
	}()
	other := make(chan rlm.Completion, 1)
	go func() {
		got, err := lm.Complete(context.Background(), user("another"))
		assert.NoError(t, err)
		other <- got
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Complete did not return after its context was canceled")
	}
	got := <-other
	assert.Positive(t, got.CompletionTokens, "the other caller still gets its answer")
}

func TestClose(t *testing.T) {
	m := loadModel(t)
	lm, err := local.New(m, local.WithThreads(1), local.WithSequenceSize(256))
	require.NoError(t, err)
	_, err = lm.Complete(context.Background(), user("hi"))
	require.NoError(t, err)
	require.NoError(t, lm.Close())
	require.NoError(t, lm.Close())
	_, err = lm.Complete(context.Background(), user("hi"))
	assert.ErrorIs(t, err, local.ErrClosed)
	_, err = lm.CompleteBatch(context.Background(), [][]rlm.Message{user("hi")})
	assert.ErrorIs(t, err, local.ErrClosed)
	assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "local.(*LM)")
	}, 2*time.Second, 10*time.Millisecond, "the decoding goroutine is gone")
}

// TestSeedLoopEndToEnd runs the seed's loop as a scripted controller's code
// in the real REPL, with the real local worker on a generated model held to
// an integer answer by a grammar. The document is chunked into 9 parts, so
// the worker is called 9 times and the trajectory records each call.
func TestSeedLoopEndToEnd(t *testing.T) {
	m := loadModel(t)
	worker := newLM(t, m, local.WithMaxTokens(3), local.WithSampling(llama.Sampling{Grammar: `root ::= [1-9] [0-9]?`}))
	// The seed's loop verbatim but for the chunk size: the generated model
	// has one token per byte, and 500-token chunks keep the test fast.
	seedLoop := `
total_rolls = 0
chunk_size = 500

for i in range(0, len(prompt), chunk_size):
    chunk = prompt[i:i+chunk_size]
    result = sub_call(chunk, "Count all dice rolls in this section")
    total_rolls += int(result)

print(f"Total rolls: {total_rolls}")
`
	controller := rlmtest.Replies([]string{rlmtest.Code(seedLoop), rlmtest.Code("FINAL(total_rolls)")})
	var trajectory bytes.Buffer
	engine, err := rlm.New(controller, worker, rlm.WithTrajectory(&trajectory))
	require.NoError(t, err)

	doc := strings.Repeat("Matt: Roll for initiative. Laura: 17. Travis: natural 20!\n", 75) // 4,350 bytes
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := engine.Run(ctx, doc, "How many dice rolls are there?")
	require.NoError(t, err)
	assert.True(t, res.Final)
	assert.Equal(t, 9, res.Stats.SubCalls)
	assert.Equal(t, 9, res.Stats.SubCallsByDepth[1])
	assert.Zero(t, res.Stats.CodeBlocksFailed)
	assert.Regexp(t, `^[0-9]+$`, res.Answer)

	tr, err := rlm.ReadTrajectory(&trajectory)
	require.NoError(t, err)
	var offsets []int
	answers := 0
	for _, rec := range tr.Records {
		if rec.SubCall != nil {
			offsets = append(offsets, rec.SubCall.Offset)
			assert.Equal(t, "Count all dice rolls in this section", rec.SubCall.Query)
			assert.Regexp(t, `^[1-9][0-9]?$`, rec.SubCall.Answer)
			answers++
		}
	}
	assert.Equal(t, 9, answers)
	for i, off := range offsets {
		assert.Equal(t, i*500, off, "each chunk is found at its place in the document")
	}
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}
