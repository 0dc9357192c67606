package llama_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
)

func TestGreedyGenerationIsDeterministic(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	a, err := newContext(t, m).Generate(ctx, llama.Text("Once upon a time"), llama.WithMaxTokens(24))
	require.NoError(t, err)
	c := newContext(t, m)
	b, err := c.Generate(ctx, llama.Text("Once upon a time"), llama.WithMaxTokens(24))
	require.NoError(t, err)
	again, err := c.Generate(ctx, llama.Text("Once upon a time"), llama.WithMaxTokens(24))
	require.NoError(t, err)

	assert.Equal(t, a.Tokens, b.Tokens)
	assert.Equal(t, a.Tokens, again.Tokens, "Generate clears the sequence first")
	assert.Len(t, a.Tokens, 24)
	assert.Equal(t, llama.StopMaxTokens, a.StopReason)
	assert.Equal(t, 16, a.PromptTokens)
	distinct := map[llama.Token]bool{}
	for _, tok := range a.Tokens {
		distinct[tok] = true
	}
	assert.Greater(t, len(distinct), 4, "generated models produce varied text, not one repeated token")
	text, err := m.Detokenize(a.Tokens, false, false)
	require.NoError(t, err)
	assert.Equal(t, text, a.Text)
}

func TestSampling(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	s := llama.Sampling{Temperature: 0.9, TopK: 40, TopP: 0.95, MinP: 0.02, Seed: 7, PenaltyLastN: 64, RepeatPenalty: 1.1}
	a, err := c.Generate(ctx, llama.Text("Roll"), llama.WithMaxTokens(20), llama.WithSampling(s))
	require.NoError(t, err)
	b, err := c.Generate(ctx, llama.Text("Roll"), llama.WithMaxTokens(20), llama.WithSampling(s))
	require.NoError(t, err)
	assert.Equal(t, a.Tokens, b.Tokens, "a fixed seed gives the same sample")
	s.Seed = 8
	other, err := c.Generate(ctx, llama.Text("Roll"), llama.WithMaxTokens(20), llama.WithSampling(s))
	require.NoError(t, err)
	assert.NotEqual(t, a.Tokens, other.Tokens, "another seed gives another sample")
}

func TestGrammar(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	gen, err := c.Generate(context.Background(), llama.Text("How many rolls?"),
		llama.WithMaxTokens(12), llama.WithSampling(llama.Sampling{Grammar: `root ::= [0-9]+`}))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^[0-9]+$`), gen.Text)

	_, err = m.NewSampler(llama.Sampling{Grammar: `root ::= [0-9`})
	assert.Error(t, err, "an invalid grammar is an error, not a crash")
}

func TestStopStrings(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	full, err := c.Generate(ctx, llama.Text("The dragon"), llama.WithMaxTokens(30))
	require.NoError(t, err)
	require.Greater(t, len(full.Text), 12)
	stop := full.Text[8:11]
	cut, err := c.Generate(ctx, llama.Text("The dragon"), llama.WithMaxTokens(30), llama.WithStop(stop))
	require.NoError(t, err)
	assert.Equal(t, llama.StopString, cut.StopReason)
	assert.Equal(t, full.Text[:len(cut.Text)], cut.Text)
	assert.NotContains(t, cut.Text, stop)
	assert.LessOrEqual(t, len(cut.Text), 8)
}

func TestGenerateStream(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	var pieces []string
	gen, err := c.GenerateStream(ctx, llama.Text("Éowyn rolls"), func(p string) error {
		pieces = append(pieces, p)
		return nil
	}, llama.WithMaxTokens(40))
	require.NoError(t, err)
	joined := ""
	for i, p := range pieces {
		joined += p
		if i < len(pieces)-1 {
			assert.False(t, splitsRune(p, pieces[i+1]), "pieces %d and %d split a character: %q %q", i, i+1, p, pieces[i+1])
		}
	}
	assert.Equal(t, gen.Text, joined)

	boom := errors.New("stop now")
	_, err = c.GenerateStream(ctx, llama.Text("x"), func(string) error { return boom }, llama.WithMaxTokens(5))
	assert.ErrorIs(t, err, boom)
}

// TestBatchMatchesSingleSequences decodes four prompts as four sequences of
// one batch and compares each with the prompt decoded alone.
func TestBatchMatchesSingleSequences(t *testing.T) {
	const tolerance = 1e-4 // F32 weights; batching changes only the order of float sums
	m := tinyModel(t)
	prompts := []string{"The party enters the tavern.", "Roll for initiative!", "Natural twenty.", "Fireball: 8d6 fire damage"}
	single := newContext(t, m)
	var want [][]float32
	var toks [][]llama.Token
	for _, p := range prompts {
		tk, err := m.Tokenize(p, false, false)
		require.NoError(t, err)
		toks = append(toks, tk)
		want = append(want, lastLogits(t, single, tk))
	}
	for _, unified := range []bool{false, true} {
		opts := []llama.ContextOption{llama.WithSequences(4)}
		if unified {
			opts = append(opts, llama.WithUnifiedKV())
		}
		c := newContext(t, m, opts...)
		var b llama.Batch
		last := make([]int, len(toks))
		for s, tk := range toks {
			b.AddSequence(tk, 0, s, true)
			last[s] = b.Len() - 1
		}
		require.NoError(t, c.Decode(context.Background(), &b))
		for s := range toks {
			got, err := c.Logits(last[s])
			require.NoError(t, err)
			assert.Less(t, maxAbsDiff(want[s], got), tolerance, "sequence %d, unified %v", s, unified)
			assert.Equal(t, len(toks[s]), seqEnd(t, c, s))
		}
		_, err := c.Logits(0)
		assert.ErrorIs(t, err, llama.ErrNoLogits, "index 0 did not ask for logits")
	}
}

func TestGenerateBatch(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	prompts := []string{"Vax", "Vex'ahlia rolls stealth", "Scanlan casts", "Pike heals", "Grog rages and attacks twice"}
	single := newContext(t, m)
	var want []llama.Generation
	for _, p := range prompts {
		g, err := single.Generate(ctx, llama.Text(p), llama.WithMaxTokens(12))
		require.NoError(t, err)
		want = append(want, g)
	}
	// Two sequences for five prompts: as one finishes, the next takes its place.
	c := newContext(t, m, llama.WithSequences(2))
	got, err := c.GenerateBatch(ctx, texts(prompts...), llama.WithMaxTokens(12))
	require.NoError(t, err)
	require.Len(t, got, len(prompts))
	for i := range prompts {
		require.NoError(t, got[i].Err)
		assert.Equal(t, want[i].Tokens, got[i].Tokens, "prompt %d", i)
		assert.Equal(t, want[i].PromptTokens, got[i].PromptTokens)
	}

	// A prompt that cannot fit fails alone.
	small := newContext(t, m, llama.WithSequences(2), llama.WithContextSize(256))
	long := string(make([]byte, 300))
	got, err = small.GenerateBatch(ctx, texts("ok", long+"x", "fine"), llama.WithMaxTokens(4))
	require.NoError(t, err)
	assert.NoError(t, got[0].Err)
	assert.ErrorIs(t, got[1].Err, llama.ErrKVCacheFull)
	assert.NoError(t, got[2].Err)
	assert.Len(t, got[2].Tokens, 4)
}

func TestCancelDuringPrefill(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithContextSize(4096), llama.WithMicroBatchSize(128))
	toks := make([]llama.Token, 3000)
	for i := range toks {
		toks[i] = llama.Token('a' + i%26)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var canceledAt time.Time
	var once sync.Once
	// Cancel from inside the computation, once the first micro-batch is
	// under way, so the test does not depend on the machine's speed.
	_, err := c.Observe("l_out-0", func(*llama.Activation) error {
		once.Do(func() { canceledAt = time.Now(); cancel() })
		return nil
	})
	require.NoError(t, err)
	err = c.Prefill(ctx, toks, 0, 0)
	elapsed := time.Since(canceledAt)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, elapsed, time.Second)
	assert.Zero(t, seqEnd(t, c, 0), "the aborted batch is taken back out of the cache")

	c.ClearHooks()
	gen, err := c.Generate(context.Background(), llama.Text("still works"), llama.WithMaxTokens(3))
	require.NoError(t, err)
	assert.Len(t, gen.Tokens, 3)
}

func TestDecodeRejectsBadInput(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithBatchSize(16), llama.WithSequences(2))
	ctx := context.Background()
	var b llama.Batch
	assert.Error(t, c.Decode(ctx, &b), "empty batch")

	b.Add(5000, 0, 0, true)
	assert.ErrorContains(t, c.Decode(ctx, &b), "outside the vocabulary")

	b.Reset()
	b.Add('a', 0, 2, true)
	assert.ErrorContains(t, c.Decode(ctx, &b), "sequence 2")

	b.Reset()
	for i := 0; i < 17; i++ {
		b.Add('a', i, 0, false)
	}
	assert.ErrorIs(t, c.Decode(ctx, &b), llama.ErrBatchTooLarge)

	_, err := c.Logits(-1)
	assert.ErrorIs(t, err, llama.ErrNoLogits)
	_, err = c.Logits(99)
	assert.ErrorIs(t, err, llama.ErrNoLogits)
	_, err = c.Generate(ctx, llama.Text("x"), llama.WithSequence(5))
	assert.Error(t, err)
}

func TestKVCacheOperations(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithSequences(2), llama.WithUnifiedKV())
	ctx := context.Background()
	prefix, err := m.Tokenize("The bard sings. ", false, false)
	require.NoError(t, err)
	suffix, err := m.Tokenize("Then", false, false)
	require.NoError(t, err)

	want := lastLogits(t, c, append(append([]llama.Token{}, prefix...), suffix...))

	// The prefix computed once in sequence 0, shared with sequence 1.
	require.NoError(t, c.ClearKV())
	require.NoError(t, c.Prefill(ctx, prefix, 0, 0))
	require.NoError(t, c.CopySequence(0, 1, 0, -1))
	assert.Equal(t, len(prefix), seqEnd(t, c, 1))
	var b llama.Batch
	b.AddSequence(suffix, len(prefix), 1, true)
	require.NoError(t, c.Decode(ctx, &b))
	got, err := c.Logits(b.Len() - 1)
	require.NoError(t, err)
	assert.Less(t, maxAbsDiff(want, got), 1e-4)

	assert.NoError(t, c.RemoveTokens(1, len(prefix), -1))
	assert.Equal(t, len(prefix), seqEnd(t, c, 1))
	assert.NoError(t, c.KeepSequence(1))
	assert.Zero(t, seqEnd(t, c, 0))
	assert.Equal(t, len(prefix), seqEnd(t, c, 1))
	assert.Error(t, c.CopySequence(0, 9, 0, -1))
	assert.Error(t, c.KeepSequence(2))
	assert.Error(t, c.RemoveTokens(2, 0, -1))
}

func TestTwoContextsInTwoGoroutines(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	prompts := []string{"Keyleth shifts into a bear", "Percy fires Bad News"}
	want := make([][]llama.Token, len(prompts))
	for i, p := range prompts {
		g, err := newContext(t, m, llama.WithThreads(1, 1)).Generate(ctx, llama.Text(p), llama.WithMaxTokens(16))
		require.NoError(t, err)
		want[i] = g.Tokens
	}
	got := make([][]llama.Token, len(prompts))
	errs := make([]error, len(prompts))
	observed := make([]int, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		c := newContext(t, m, llama.WithThreads(1, 1))
		_, err := c.Observe("l_out-*", func(a *llama.Activation) error { observed[i] += a.Rows(); return nil })
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				g, err := c.Generate(ctx, llama.Text(p), llama.WithMaxTokens(16))
				got[i], errs[i] = g.Tokens, err
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range prompts {
		require.NoError(t, errs[i])
		assert.Equal(t, want[i], got[i])
		assert.Positive(t, observed[i])
	}
}

// splitsRune reports whether a valid multi-byte UTF-8 character starts in a
// and ends in b.
func splitsRune(a, b string) bool {
	for k := 1; k < utf8.UTFMax && k <= len(a); k++ {
		r, size := utf8.DecodeRuneInString(a[len(a)-k:] + b)
		if r != utf8.RuneError && size > k {
			return true
		}
	}
	return false
}

func TestGenerateBatchPerPromptContexts(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithSequences(2))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	ctxs := []context.Context{context.Background(), canceled, context.Background()}
	prompts := []string{"Jester", "Fjord", "Beau"}

	tags := map[int]map[int]bool{} // prompt tag -> sequences it was decoded in
	_, err := c.Observe("l_out-0", func(a *llama.Activation) error {
		for _, tok := range a.Tokens {
			if tags[tok.Tag] == nil {
				tags[tok.Tag] = map[int]bool{}
			}
			tags[tok.Tag][tok.Seq] = true
		}
		return nil
	})
	require.NoError(t, err)
	got, err := c.GenerateBatch(context.Background(), texts(prompts...), llama.WithMaxTokens(5), llama.WithPromptContexts(ctxs))
	require.NoError(t, err)
	assert.NoError(t, got[0].Err)
	assert.ErrorIs(t, got[1].Err, context.Canceled, "only the canceled prompt stops")
	assert.NoError(t, got[2].Err)
	assert.Len(t, got[2].Tokens, 5)
	assert.Contains(t, tags, 0)
	assert.Contains(t, tags, 2)
	assert.NotContains(t, tags, 1, "the canceled prompt was never decoded")
	for tag, seqs := range tags {
		assert.Len(t, seqs, 1, "prompt %d stays in one sequence", tag)
	}
}

// TestPromptCacheReuse continues a conversation: the second turn's prompt
// starts with the first turn's prompt and reply, which the sequence's cache
// already holds, so only the rest is decoded, and the reply equals a fresh
// context's.
func TestPromptCacheReuse(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	c := newContext(t, m)
	first := "<|im_start|>user\nRoll for initiative.<|im_end|>\n<|im_start|>assistant\n"
	g1, err := c.Generate(ctx, llama.TextWithControlTokens(first), llama.WithMaxTokens(10))
	require.NoError(t, err)
	assert.Zero(t, g1.CachedTokens)

	second := first + g1.Text + "<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n"
	g2, err := c.Generate(ctx, llama.TextWithControlTokens(second), llama.WithMaxTokens(10))
	require.NoError(t, err)
	firstTokens, err := m.Tokenize(first, true, true)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, g2.CachedTokens, len(firstTokens), "the first turn is not decoded again")

	fresh, err := newContext(t, m).Generate(ctx, llama.TextWithControlTokens(second), llama.WithMaxTokens(10))
	require.NoError(t, err)
	assert.Equal(t, fresh.Tokens, g2.Tokens)
	assert.Zero(t, fresh.CachedTokens)

	// The same prompt again reuses all of it but its last token.
	again, err := c.Generate(ctx, llama.TextWithControlTokens(second), llama.WithMaxTokens(10))
	require.NoError(t, err)
	assert.Equal(t, g2.PromptTokens-1, again.CachedTokens)
	assert.Equal(t, g2.Tokens, again.Tokens)

	// Editing the cache directly makes it unknown: nothing is reused.
	require.NoError(t, c.RemoveTokens(0, 0, 5))
	after, err := c.Generate(ctx, llama.TextWithControlTokens(second), llama.WithMaxTokens(10))
	require.NoError(t, err)
	assert.Zero(t, after.CachedTokens)
	assert.Equal(t, g2.Tokens, after.Tokens)
}

func TestGenerateBatchReusesSharedStarts(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	c := newContext(t, m, llama.WithSequences(2))
	system := "<|im_start|>system\nAnswer from the chunk only.<|im_end|>\n<|im_start|>user\n"
	prompts := []string{system + "chunk one", system + "chunk two", system + "chunk three"}
	_, err := c.GenerateBatch(ctx, controlTexts(prompts[:2]...), llama.WithMaxTokens(4))
	require.NoError(t, err)
	got, err := c.GenerateBatch(ctx, controlTexts(prompts...), llama.WithMaxTokens(4))
	require.NoError(t, err)
	systemTokens, err := m.Tokenize(system+"chunk ", true, true)
	require.NoError(t, err)
	for i, g := range got {
		assert.GreaterOrEqual(t, g.CachedTokens, len(systemTokens), "prompt %d reuses the shared start", i)
		want, err := newContext(t, m).Generate(ctx, llama.TextWithControlTokens(prompts[i]), llama.WithMaxTokens(4))
		require.NoError(t, err)
		assert.Equal(t, want.Tokens, g.Tokens)
	}
}
