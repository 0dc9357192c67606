package trace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

// PatchOption configures [PatchSubCall]. Generation should be set up as the
// worker was (local.WithSampling, local.WithMaxTokens, local.WithStop) for
// the answer without patches to be the recorded one.
type PatchOption func(*patchConfig)

type patchConfig struct {
	sampling  llama.Sampling
	maxTokens int
	stops     []string
	threads   int
}

// WithSampling sets how tokens are chosen, grammar included. Default:
// greedy.
func WithSampling(s llama.Sampling) PatchOption { return func(c *patchConfig) { c.sampling = s } }

// WithMaxTokens caps the answer's length. Default 1024, as package local.
func WithMaxTokens(n int) PatchOption { return func(c *patchConfig) { c.maxTokens = n } }

// WithStop ends an answer at any of the strings, which are cut. Default:
// none.
func WithStop(stops ...string) PatchOption {
	return func(c *patchConfig) { c.stops = append(c.stops, stops...) }
}

// WithThreads sets the CPU threads. Default: every CPU.
func WithThreads(n int) PatchOption { return func(c *patchConfig) { c.threads = n } }

// Answer is a generated answer.
type Answer struct {
	Text   string
	Tokens []llama.Token // the end-of-generation token excluded
}

// PatchResult says how a sub-call's answer moves under patches.
type PatchResult struct {
	SubCall int64
	Patches []string // the patches, described
	// Before is the answer without patches (the recorded one, when
	// generation is set up as the worker's was); After the answer with
	// them.
	Before, After Answer
	// LogProbBefore and LogProbAfter are the log-probability (natural
	// log) of Before's tokens given the prompt, without and with the
	// patches, from the model's raw distribution (no grammar or sampling):
	// how much the patches move the original answer even when the greedy
	// answer stays the same.
	LogProbBefore, LogProbAfter float64
}

// Changed reports whether the patches changed the answer.
func (r *PatchResult) Changed() bool { return r.Before.Text != r.After.Text }

func (r *PatchResult) String() string {
	return fmt.Sprintf("sub-call %d, %s: %q → %q (log p of %q: %.3f → %.3f)",
		r.SubCall, strings.Join(r.Patches, ", "), r.Before.Text, r.After.Text, r.Before.Text, r.LogProbBefore, r.LogProbAfter)
}

// PatchSubCall re-runs a recorded sub-call on the worker model, once as it
// was and once with patches applied (package interp's [interp.Zero],
// [interp.Replace], [interp.Add] or [interp.PatchFunc] at positions chosen
// with [interp.AtPositions]; sc.PromptLast() is the last prompt token), and
// reports both answers and the log-probability of the original answer
// under each. It uses a context of its own on m.
//
//	res, err := trace.PatchSubCall(ctx, worker, sc,
//		[]interp.Patch{interp.Zero(interp.ActName("resid_post", 2), interp.AtPositions(sc.PromptLast()))})
func PatchSubCall(ctx context.Context, m *llama.Model, sc SubCall, patches []interp.Patch, opts ...PatchOption) (*PatchResult, error) {
	cfg := patchConfig{maxTokens: 1024, threads: runtime.NumCPU()}
	for _, o := range opts {
		o(&cfg)
	}
	if len(sc.Prompt) == 0 {
		return nil, fmt.Errorf("trace: patch sub-call %d: no prompt was recorded", sc.ID)
	}
	if cfg.maxTokens <= 0 {
		return nil, fmt.Errorf("trace: patch sub-call %d: max tokens %d", sc.ID, cfg.maxTokens)
	}
	n := len(sc.Prompt) + cfg.maxTokens
	c, err := m.NewContext(llama.WithContextSize(n+1), llama.WithBatchSize(max(n, 512)), llama.WithThreads(cfg.threads, cfg.threads))
	if err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	defer c.Close()

	// Resolve the patches before spending a generation on the answer
	// without them.
	remove, err := interp.Attach(ctx, c, patches...)
	if err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	remove()

	res := &PatchResult{SubCall: sc.ID}
	for _, p := range patches {
		res.Patches = append(res.Patches, p.String())
	}
	if res.Before, err = generate(ctx, c, sc.Prompt, cfg); err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	if res.LogProbBefore, err = logProb(ctx, c, sc.Prompt, res.Before.Tokens); err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	if remove, err = interp.Attach(ctx, c, patches...); err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	defer remove()
	if res.After, err = generate(ctx, c, sc.Prompt, cfg); err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	if res.LogProbAfter, err = logProb(ctx, c, sc.Prompt, res.Before.Tokens); err != nil {
		return nil, fmt.Errorf("trace: patch sub-call %d: %w", sc.ID, err)
	}
	return res, nil
}

// generate continues prompt in sequence 0 of a cleared cache as
// llama.Context.Generate does, from tokens rather than text.
func generate(ctx context.Context, c *llama.Context, prompt []llama.Token, cfg patchConfig) (Answer, error) {
	m := c.Model()
	sampler, err := m.NewSampler(cfg.sampling)
	if err != nil {
		return Answer{}, err
	}
	defer sampler.Close()
	if err := c.ClearKV(); err != nil {
		return Answer{}, err
	}
	var b llama.Batch
	b.AddSequence(prompt, 0, 0, true)
	var ans Answer
	var text strings.Builder
	for pos := len(prompt); ; pos++ {
		if err := c.Decode(ctx, &b); err != nil {
			return ans, err
		}
		tok, err := sampler.Sample(c, b.Len()-1)
		if err != nil {
			return ans, err
		}
		eog, err := m.IsEndOfGeneration(tok)
		if err != nil {
			return ans, err
		}
		if eog {
			break
		}
		ans.Tokens = append(ans.Tokens, tok)
		piece, err := m.TokenPiece(tok, false)
		if err != nil {
			return ans, err
		}
		text.WriteString(piece)
		if cut := firstStop(text.String(), cfg.stops); cut >= 0 {
			ans.Text = text.String()[:cut]
			return ans, nil
		}
		if len(ans.Tokens) >= cfg.maxTokens {
			break
		}
		b.Reset()
		b.Add(tok, pos, 0, true)
	}
	ans.Text = text.String()
	return ans, nil
}

// firstStop returns where the first stop string starts in text, or -1.
func firstStop(text string, stops []string) int {
	best := -1
	for _, s := range stops {
		if i := strings.Index(text, s); s != "" && i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// logProb returns the log-probability of answer given prompt, decoding
// both in one batch with logits at every position that predicts an answer
// token.
func logProb(ctx context.Context, c *llama.Context, prompt, answer []llama.Token) (float64, error) {
	if len(answer) == 0 {
		return 0, nil
	}
	if err := c.ClearKV(); err != nil {
		return 0, err
	}
	var b llama.Batch
	seq := append(append([]llama.Token(nil), prompt...), answer[:len(answer)-1]...)
	for i, t := range seq {
		b.Add(t, i, 0, i >= len(prompt)-1)
	}
	if err := c.Decode(ctx, &b); err != nil {
		return 0, err
	}
	var total float64
	var logits []float32
	for k, want := range answer {
		var err error
		if logits, err = c.LogitsTo(logits, len(prompt)-1+k); err != nil {
			return 0, err
		}
		if int(want) >= len(logits) {
			return 0, errors.New("answer token outside the vocabulary")
		}
		total += logSoftmaxAt(logits, int(want))
	}
	return total, nil
}

// logSoftmaxAt returns log softmax(logits)[i], computed stably in float64.
func logSoftmaxAt(logits []float32, i int) float64 {
	top := math.Inf(-1)
	for _, l := range logits {
		top = max(top, float64(l))
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - top)
	}
	return float64(logits[i]) - top - math.Log(sum)
}
