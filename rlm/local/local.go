package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
)

// ErrClosed is returned by calls made after [LM.Close].
var ErrClosed = errors.New("local: closed")

// Generation is what a [GenerationHook] learns of one batched generation.
type Generation struct {
	// Context is the llama context that decodes it.
	Context *llama.Context
	// Prompts are the prompts' tokens as the model reads them: each
	// conversation tokenized by llama.Model.TokenizeChat, its message
	// contents as data. Hooks registered on Context see a token's prompt
	// index in llama.TokenRef.Tag. These are the tokens decoded, except that
	// a start already in a sequence's cache is not decoded again (see
	// llama.Generation.CachedTokens).
	Prompts [][]llama.Token
	// Calls[i] is the sub-call prompt i answers: a zero SubCallInfo for
	// prompts that are not sub-calls, such as a controller's turns.
	Calls []rlm.SubCallInfo
}

// GenerationHook runs on the decoding goroutine before each batched
// generation. The function it returns, if not nil, runs after the
// generation, on the same goroutine.
type GenerationHook func(Generation) (after func())

// Option configures [New].
type Option func(*config)

type config struct {
	sequences    int
	sequenceSize int
	threads      int
	maxTokens    int
	sampling     llama.Sampling
	stops        []string
	window       time.Duration
	hook         GenerationHook
	logger       *slog.Logger
	contextOpts  []llama.ContextOption
}

// WithSequences sets how many conversations are decoded at once. Default 4.
func WithSequences(n int) Option { return func(c *config) { c.sequences = n } }

// WithSequenceSize sets the tokens one conversation may hold, prompt and
// reply together. Default 8192. Beyond the model's training context the
// model runs but its quality degrades; New logs a warning then.
func WithSequenceSize(n int) Option { return func(c *config) { c.sequenceSize = n } }

// WithThreads sets the CPU threads. Default: every CPU.
func WithThreads(n int) Option { return func(c *config) { c.threads = n } }

// WithMaxTokens caps the length of a reply. Default 1024.
func WithMaxTokens(n int) Option { return func(c *config) { c.maxTokens = n } }

// WithSampling sets how tokens are chosen. Default: greedy.
func WithSampling(s llama.Sampling) Option { return func(c *config) { c.sampling = s } }

// WithStop ends a reply at any of the strings. Default: none (the model's end
// of turn ends it).
func WithStop(stops ...string) Option { return func(c *config) { c.stops = append(c.stops, stops...) } }

// WithGatherWindow sets how long the decoding goroutine waits, once a
// request arrives, for others to join its batch. Default 2ms: long enough
// for the sub-calls of a Python loop running in threads, short against a
// forward pass.
func WithGatherWindow(d time.Duration) Option { return func(c *config) { c.window = d } }

// WithGenerationHook installs fn around every batched generation.
func WithGenerationHook(fn GenerationHook) Option { return func(c *config) { c.hook = fn } }

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithContextOptions passes further options to the llama context, such as
// llama.WithFlashAttention.
func WithContextOptions(opts ...llama.ContextOption) Option {
	return func(c *config) { c.contextOpts = append(c.contextOpts, opts...) }
}

// LM is an [rlm.BatchLM] over a local model. It is safe for concurrent use.
// Close it before the model.
type LM struct {
	model *llama.Model
	cfg   config
	queue chan []*request

	mu     sync.Mutex // guards closed
	closed bool
	stop   context.CancelFunc
	done   chan struct{}
}

type request struct {
	ctx      context.Context
	messages []rlm.Message
	call     rlm.SubCallInfo
	result   chan result
}

type result struct {
	completion rlm.Completion
	err        error
}

// New creates the context and starts the decoding goroutine.
func New(model *llama.Model, opts ...Option) (*LM, error) {
	cfg := config{sequences: 4, sequenceSize: 8192, threads: runtime.NumCPU(), maxTokens: 1024, window: 2 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.sequences <= 0 || cfg.sequenceSize <= 0 || cfg.maxTokens <= 0 {
		return nil, fmt.Errorf("local: sequences (%d), sequence size (%d) and max tokens (%d) must be positive",
			cfg.sequences, cfg.sequenceSize, cfg.maxTokens)
	}
	info, err := model.Info()
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if info.TrainContext > 0 && cfg.sequenceSize > info.TrainContext {
		cfg.logger.Warn("local: sequence size beyond the model's training context",
			"model", model.Path(), "sequence_size", cfg.sequenceSize, "train_context", info.TrainContext)
	}
	copts := append([]llama.ContextOption{
		llama.WithSequences(cfg.sequences),
		llama.WithContextSize(cfg.sequences * cfg.sequenceSize),
		llama.WithThreads(cfg.threads, cfg.threads),
	}, cfg.contextOpts...)
	c, err := model.NewContext(copts...)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	lm := &LM{model: model, cfg: cfg, queue: make(chan []*request), stop: stop, done: make(chan struct{})}
	go lm.serve(ctx, c)
	return lm, nil
}

// Model returns the model the LM runs.
func (lm *LM) Model() *llama.Model { return lm.model }

// SequenceSize is the most tokens one conversation may hold, prompt and
// reply together.
func (lm *LM) SequenceSize() int { return lm.cfg.sequenceSize }

// Limits reports the sequence size, the longest reply and the sequences
// decoded at once, which the engine states in the controller's prompt.
func (lm *LM) Limits() rlm.Limits {
	return rlm.Limits{ContextTokens: lm.cfg.sequenceSize, ReplyTokens: lm.cfg.maxTokens, Batch: lm.cfg.sequences}
}

// Fingerprint names the model file and the settings that decide a reply,
// for rlm.WithSubCallCache.
func (lm *LM) Fingerprint() string {
	return fmt.Sprintf("%s %+v max=%d stops=%q", lm.model.Path(), lm.cfg.sampling, lm.cfg.maxTokens, lm.cfg.stops)
}

// Complete answers one conversation. Concurrent calls are decoded together.
func (lm *LM) Complete(ctx context.Context, messages []rlm.Message) (rlm.Completion, error) {
	call, _ := rlm.SubCallFromContext(ctx)
	req := &request{ctx: ctx, messages: messages, call: call, result: make(chan result, 1)}
	if err := lm.submit(ctx, []*request{req}); err != nil {
		return rlm.Completion{}, err
	}
	select {
	case r := <-req.result:
		return r.completion, r.err
	case <-ctx.Done():
		return rlm.Completion{}, fmt.Errorf("local: %w", ctx.Err())
	}
}

// CompleteBatch answers conversations together, in order. Conversations
// that fail alone are reported in an [rlm.BatchError].
func (lm *LM) CompleteBatch(ctx context.Context, conversations [][]rlm.Message) ([]rlm.Completion, error) {
	calls, _ := rlm.SubCallsFromContext(ctx)
	reqs := make([]*request, len(conversations))
	for i, msgs := range conversations {
		reqs[i] = &request{ctx: ctx, messages: msgs, result: make(chan result, 1)}
		if i < len(calls) {
			reqs[i].call = calls[i]
		}
	}
	if err := lm.submit(ctx, reqs); err != nil {
		return nil, err
	}
	out := make([]rlm.Completion, len(reqs))
	errs := make([]error, len(reqs))
	failed := false
	for i, req := range reqs {
		select {
		case r := <-req.result:
			out[i], errs[i] = r.completion, r.err
			failed = failed || r.err != nil
		case <-ctx.Done():
			return nil, fmt.Errorf("local: %w", ctx.Err())
		}
	}
	if failed {
		return out, &rlm.BatchError{Errs: errs}
	}
	return out, nil
}

func (lm *LM) submit(ctx context.Context, reqs []*request) error {
	lm.mu.Lock()
	closed := lm.closed
	lm.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case lm.queue <- reqs:
		return nil
	case <-lm.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("local: %w", ctx.Err())
	}
}

// Close stops the decoding goroutine and frees the context; calls in flight
// fail with ErrClosed. It is safe to call more than once.
func (lm *LM) Close() error {
	lm.mu.Lock()
	if lm.closed {
		lm.mu.Unlock()
		return nil
	}
	lm.closed = true
	lm.mu.Unlock()
	lm.stop()
	<-lm.done
	return nil
}

// serve owns the llama context: it gathers queued requests and generates
// their replies in batches until ctx ends.
func (lm *LM) serve(ctx context.Context, c *llama.Context) {
	defer close(lm.done)
	defer c.Close()
	for {
		var pending []*request
		select {
		case reqs := <-lm.queue:
			pending = append(pending, reqs...)
		case <-ctx.Done():
			return
		}
		// Let concurrent callers join while the batch has room.
		timer := time.NewTimer(lm.cfg.window)
	gather:
		for len(pending) < lm.cfg.sequences {
			select {
			case reqs := <-lm.queue:
				pending = append(pending, reqs...)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				timer.Stop()
				fail(pending, ErrClosed)
				return
			}
		}
		timer.Stop()
		lm.generate(ctx, c, pending)
	}
}

func fail(reqs []*request, err error) {
	for _, r := range reqs {
		r.result <- result{err: err}
	}
}

// generate answers reqs with one GenerateBatch. The batch runs until every
// request is answered or abandoned by its caller, or the LM closes.
func (lm *LM) generate(ctx context.Context, c *llama.Context, reqs []*request) {
	var (
		batch   []*request // the requests whose messages tokenized
		tokens  [][]llama.Token
		prompts []llama.Prompt
		ctxs    []context.Context
		calls   []rlm.SubCallInfo
	)
	for _, r := range reqs {
		toks, err := lm.tokenize(r.messages)
		if err != nil {
			r.result <- result{err: err}
			continue
		}
		batch = append(batch, r)
		tokens = append(tokens, toks)
		prompts = append(prompts, llama.Tokens(toks))
		ctxs = append(ctxs, r.ctx)
		calls = append(calls, r.call)
	}
	if len(batch) == 0 {
		return
	}
	if lm.cfg.hook != nil {
		if after := lm.cfg.hook(Generation{Context: c, Prompts: tokens, Calls: calls}); after != nil {
			defer after()
		}
	}
	gens, err := c.GenerateBatch(ctx, prompts,
		llama.WithMaxTokens(lm.cfg.maxTokens),
		llama.WithSampling(lm.cfg.sampling),
		llama.WithStop(lm.cfg.stops...),
		llama.WithPromptContexts(ctxs))
	if err != nil {
		if ctx.Err() != nil {
			err = ErrClosed
		}
		fail(batch, fmt.Errorf("local: %w", err))
		return
	}
	for i, r := range batch {
		g := gens[i]
		if g.Err != nil {
			r.result <- result{err: lm.explain(g)}
			continue
		}
		r.result <- result{completion: rlm.Completion{
			Text:               g.Text,
			PromptTokens:       g.PromptTokens,
			CompletionTokens:   len(g.Tokens),
			CachedPromptTokens: g.CachedTokens,
			Duration:           g.PromptTime + g.GenerateTime,
		}}
	}
}

// tokenize turns a conversation into the tokens the model reads, once:
// the chat template's text may hold control tokens, the messages' contents
// (documents, model output) never do.
func (lm *LM) tokenize(messages []rlm.Message) ([]llama.Token, error) {
	msgs := make([]llama.ChatMessage, len(messages))
	for i, m := range messages {
		msgs[i] = llama.ChatMessage{Role: string(m.Role), Content: m.Content}
	}
	toks, err := lm.model.TokenizeChat(msgs, true)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return toks, nil
}

// explain turns a prompt's failure into advice a controller can act on
// when the error comes back to its code from a sub-call.
func (lm *LM) explain(g llama.Generation) error {
	if errors.Is(g.Err, llama.ErrKVCacheFull) {
		return fmt.Errorf("local: the prompt has %d tokens but this model holds at most %d per conversation: shorten it (for sub-calls, send smaller chunks, about %d characters): %w",
			g.PromptTokens, lm.cfg.sequenceSize, 3*(lm.cfg.sequenceSize-lm.cfg.maxTokens), g.Err)
	}
	return fmt.Errorf("local: %w", g.Err)
}
