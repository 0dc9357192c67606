package llama

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// StopReason says why a generation ended.
type StopReason int

const (
	StopEndOfGeneration StopReason = iota // the model produced an end-of-generation token
	StopMaxTokens                         // WithMaxTokens was reached
	StopString                            // a WithStop string appeared (it is cut from the text)
	StopContextFull                       // the sequence filled its share of the KV cache
)

func (r StopReason) String() string {
	switch r {
	case StopEndOfGeneration:
		return "end of generation"
	case StopMaxTokens:
		return "max tokens"
	case StopString:
		return "stop string"
	case StopContextFull:
		return "context full"
	}
	return "StopReason(" + strconv.Itoa(int(r)) + ")"
}

// Generation is the outcome of generating from one prompt.
type Generation struct {
	Text         string  // the generated text, without the prompt or a stop string
	Tokens       []Token // the generated tokens, the end-of-generation token excluded
	PromptTokens int
	// CachedTokens is how many tokens at the start of the prompt were
	// already in the sequence's cache (from an earlier call) and were not
	// decoded again.
	CachedTokens int
	StopReason   StopReason
	PromptTime   time.Duration // from the start until the first token was chosen
	GenerateTime time.Duration // from the first token to the end
	// Err is set by GenerateBatch when this prompt alone failed (for
	// example, it does not fit the context); the other prompts go on.
	Err error
}

// GenerateOption configures Generate, GenerateStream and GenerateBatch.
type GenerateOption func(*generateConfig)

type generateConfig struct {
	maxTokens int
	stops     []string
	sampling  Sampling
	seq       int
	stream    func(i int, piece string) error
	perPrompt []context.Context
}

// WithMaxTokens stops after n generated tokens. Default: no limit but the
// end of generation or a full context.
func WithMaxTokens(n int) GenerateOption { return func(c *generateConfig) { c.maxTokens = n } }

// WithStop ends generation when one of the strings appears in the output;
// the text is cut before it.
func WithStop(stops ...string) GenerateOption {
	return func(c *generateConfig) { c.stops = append(c.stops, stops...) }
}

// WithSampling chooses how tokens are sampled. Default: greedy.
func WithSampling(s Sampling) GenerateOption { return func(c *generateConfig) { c.sampling = s } }

// WithPromptContexts gives GenerateBatch a context per prompt: when
// ctxs[i] is done, prompt i stops with its Generation.Err wrapping
// ctxs[i].Err() and its sequence goes to the next prompt, while the others go
// on. This is how requests from several callers share one batch.
func WithPromptContexts(ctxs []context.Context) GenerateOption {
	return func(c *generateConfig) { c.perPrompt = ctxs }
}

// WithSequence makes Generate use sequence seq of the context. Default 0.
func WithSequence(seq int) GenerateOption { return func(c *generateConfig) { c.seq = seq } }

// Generate continues prompt in one sequence of the context, keeping the
// start of it that the sequence's cache already holds and clearing the rest.
// Cancelling ctx stops within one decode step, prefill included.
func (c *Context) Generate(ctx context.Context, prompt Prompt, opts ...GenerateOption) (Generation, error) {
	cfg := newGenerateConfig(opts)
	if cfg.seq < 0 || cfg.seq >= c.nSeq {
		return Generation{}, &Error{Op: "generate", Err: fmt.Errorf("sequence %d outside [0, %d)", cfg.seq, c.nSeq)}
	}
	gens, err := c.generate(ctx, "generate", []Prompt{prompt}, []int{cfg.seq}, cfg)
	if err != nil {
		return firstOr(gens), err
	}
	if gens[0].Err != nil {
		return gens[0], gens[0].Err
	}
	return gens[0], nil
}

// GenerateStream is Generate calling fn with each piece of text as it is
// produced. Pieces never split a UTF-8 character or show a prefix of a stop
// string that is then cut. An error from fn stops generation and is returned.
func (c *Context) GenerateStream(ctx context.Context, prompt Prompt, fn func(piece string) error, opts ...GenerateOption) (Generation, error) {
	return c.Generate(ctx, prompt, append(opts, func(g *generateConfig) {
		g.stream = func(_ int, piece string) error { return fn(piece) }
	})...)
}

// GenerateBatch generates from every prompt, decoding them together as
// parallel sequences of this context (at most Sequences at a time; as one
// finishes, the next prompt takes its place). Results come back in the order
// of prompts. A prompt that fails alone has its Generation.Err set; the error
// returned is for failures of the whole batch, such as cancellation.
func (c *Context) GenerateBatch(ctx context.Context, prompts []Prompt, opts ...GenerateOption) ([]Generation, error) {
	cfg := newGenerateConfig(opts)
	seqs := make([]int, min(len(prompts), c.nSeq))
	for i := range seqs {
		seqs[i] = i
	}
	return c.generate(ctx, "generate batch", prompts, seqs, cfg)
}

func newGenerateConfig(opts []GenerateOption) generateConfig {
	var cfg generateConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func firstOr(gens []Generation) Generation {
	if len(gens) > 0 {
		return gens[0]
	}
	return Generation{}
}

// slot is one sequence of the context while it serves a prompt.
type slot struct {
	seq     int
	prompt  int // index of the prompt served, -1 when idle
	tokens  []Token
	fed     int // prompt tokens in the KV cache so far
	pos     int // position of the next token
	last    Token
	sampler *Sampler
	text    []byte
	emitted int // bytes of text already streamed
	logitAt int // batch index whose logits belong to this slot, -1 if none
	start   time.Time
	first   time.Time
}

// generation is one call of Generate or GenerateBatch in progress.
type generation struct {
	c        *Context
	op       string
	cfg      generateConfig
	prompts  []Prompt
	gens     []Generation
	slots    []*slot
	next     int // the next prompt to admit
	capacity int // tokens one sequence holds
	maxStop  int // length of the longest stop string
}

// generate serves prompts on the given sequences with continuous batching:
// every step decodes one new token for each generating sequence and, with
// the batch's remaining room, prompt tokens of sequences still reading. A
// sequence whose cache already holds the start of a prompt (the previous
// turn of a conversation, a shared system prompt) keeps that part and
// decodes only the rest.
func (c *Context) generate(ctx context.Context, op string, prompts []Prompt, seqs []int, cfg generateConfig) ([]Generation, error) {
	if err := c.lock(op); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	g := &generation{c: c, op: op, cfg: cfg, prompts: prompts, gens: make([]Generation, len(prompts)), capacity: c.SequenceSize()}
	if len(prompts) == 0 {
		return g.gens, nil
	}
	for _, s := range cfg.stops {
		g.maxStop = max(g.maxStop, len(s))
	}
	for _, seq := range seqs {
		sm, err := c.model.NewSampler(cfg.sampling)
		if err != nil {
			return g.gens, &Error{Op: op, Err: err}
		}
		defer sm.Close()
		g.slots = append(g.slots, &slot{seq: seq, prompt: -1, sampler: sm, logitAt: -1})
	}
	g.admit()

	var batch Batch
	for {
		// Prompts whose own context ended give their sequence up.
		for _, s := range g.slots {
			if s.prompt < 0 {
				continue
			}
			if err := g.promptErr(s.prompt); err != nil {
				g.gens[s.prompt].Err = err
				g.gens[s.prompt].Text = string(s.text)
				s.prompt = -1
			}
		}
		g.admit()
		if !g.fill(&batch) {
			return g.gens, nil
		}
		if err := c.decode(ctx, &batch); err != nil {
			for _, s := range g.slots {
				c.known[s.seq] = nil // rolled back: what the cache holds is no longer tracked
				if s.prompt >= 0 {
					g.gens[s.prompt].Text = string(s.text)
				}
			}
			return g.gens, &Error{Op: op, Err: err}
		}
		for i := 0; i < batch.Len(); i++ {
			c.known[batch.seqs[i]] = append(c.known[batch.seqs[i]], batch.tokens[i])
		}
		for _, s := range g.slots {
			if s.logitAt >= 0 {
				if err := g.step(s); err != nil {
					return g.gens, err
				}
			}
		}
	}
}

func (g *generation) promptErr(i int) error {
	if i < len(g.cfg.perPrompt) && g.cfg.perPrompt[i] != nil {
		if err := g.cfg.perPrompt[i].Err(); err != nil {
			return &Error{Op: g.op, Err: err}
		}
	}
	return nil
}

// admit gives waiting prompts to idle sequences, each to the sequence whose
// cache shares the longest start with it.
func (g *generation) admit() {
	for g.next < len(g.prompts) {
		var idle []*slot
		for _, s := range g.slots {
			if s.prompt < 0 {
				idle = append(idle, s)
			}
		}
		if len(idle) == 0 {
			return
		}
		i := g.next
		g.next++
		toks, err := g.tokenize(i)
		if err != nil {
			g.gens[i].Err = err
			continue
		}
		best, reuse := idle[0], -1
		for _, s := range idle {
			if n := commonPrefix(g.c.known[s.seq], toks); n > reuse {
				best, reuse = s, n
			}
		}
		g.start(best, i, toks, reuse)
	}
}

func (g *generation) tokenize(i int) ([]Token, error) {
	if err := g.promptErr(i); err != nil {
		return nil, err
	}
	toks, err := g.c.model.TokenizePrompt(g.prompts[i])
	switch {
	case err != nil:
		return nil, err
	case len(toks) == 0:
		return nil, &Error{Op: g.op, Err: errors.New("empty prompt")}
	case len(toks) >= g.capacity:
		g.gens[i].PromptTokens = len(toks)
		return nil, &Error{Op: g.op, Err: fmt.Errorf("%w: prompt of %d tokens does not fit a sequence of %d", ErrKVCacheFull, len(toks), g.capacity)}
	}
	return toks, nil
}

// start puts prompt i on sequence s, keeping the first reuse tokens its
// cache already holds.
func (g *generation) start(s *slot, i int, toks []Token, reuse int) {
	c := g.c
	// The last prompt token is always decoded again: its logits are needed.
	reuse = min(reuse, len(toks)-1)
	if reuse <= 0 || !c.removeTokens(s.seq, reuse, -1) {
		reuse = 0
		c.removeTokens(s.seq, -1, -1)
	}
	_ = s.sampler.Reset() // the sampler is open until generate returns
	*s = slot{seq: s.seq, prompt: i, tokens: toks, fed: reuse, pos: reuse, sampler: s.sampler, logitAt: -1, start: time.Now(), text: s.text[:0]}
	g.gens[i].PromptTokens = len(toks)
	g.gens[i].CachedTokens = reuse
}

// fill builds the next batch: one token for each generating sequence, then
// prompt tokens in the room left. It reports false when nothing is left to
// decode.
func (g *generation) fill(batch *Batch) bool {
	batch.Reset()
	busy := false
	for _, s := range g.slots {
		s.logitAt = -1
		if s.prompt >= 0 && s.fed == len(s.tokens) {
			s.logitAt = batch.Len()
			batch.AddTagged(s.last, s.pos, s.seq, true, s.prompt)
			s.pos++
			busy = true
		}
	}
	for _, s := range g.slots {
		room := g.c.nBatch - batch.Len()
		if s.prompt < 0 || s.fed == len(s.tokens) || room == 0 {
			busy = busy || s.prompt >= 0
			continue
		}
		n := min(room, len(s.tokens)-s.fed)
		done := s.fed+n == len(s.tokens)
		batch.addSequenceTagged(s.tokens[s.fed:s.fed+n], s.pos, s.seq, done, s.prompt)
		if done {
			s.logitAt = batch.Len() - 1
		}
		s.fed += n
		s.pos += n
		busy = true
	}
	return busy
}

// step samples the next token of s from the batch just decoded and decides
// whether its prompt is finished; a finished prompt frees the sequence.
func (g *generation) step(s *slot) error {
	c, cfg := g.c, g.cfg
	tok, err := s.sampler.sample(c, s.logitAt)
	if err != nil {
		return &Error{Op: g.op, Err: err}
	}
	gen := &g.gens[s.prompt]
	if s.first.IsZero() {
		s.first = time.Now()
		gen.PromptTime = s.first.Sub(s.start)
	}
	stop, finished := StopEndOfGeneration, false
	if isEOG(c.model.c, c.model, tok) {
		finished = true
	} else {
		gen.Tokens = append(gen.Tokens, tok)
		s.last = tok
		from := max(0, len(s.text)-g.maxStop+1)
		s.text = append(s.text, tokenPiece(c.model.vocab, tok, false)...)
		if cut := indexStop(s.text, cfg.stops, from); cut >= 0 {
			s.text = s.text[:cut]
			stop, finished = StopString, true
		} else if cfg.maxTokens > 0 && len(gen.Tokens) >= cfg.maxTokens {
			stop, finished = StopMaxTokens, true
		} else if s.pos >= g.capacity {
			stop, finished = StopContextFull, true
		}
	}
	if cfg.stream != nil {
		err := c.hooks.callback(func() error { return s.flush(s.prompt, cfg, finished) })
		if err != nil {
			return &Error{Op: g.op, Err: err}
		}
	}
	if finished {
		gen.Text = string(s.text)
		gen.StopReason = stop
		gen.GenerateTime = time.Since(s.first)
		s.prompt = -1
	}
	return nil
}

// commonPrefix is the length of the longest common start of a and b.
func commonPrefix(a, b []Token) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// flush streams the text that is safe to show: not an incomplete UTF-8
// character, and not a prefix of a stop string that may still complete.
func (s *slot) flush(i int, cfg generateConfig, final bool) error {
	end := len(s.text)
	if !final {
		end = completeUTF8(s.text)
		end -= partialStop(s.text[:end], cfg.stops)
	}
	if end <= s.emitted {
		return nil
	}
	piece := string(s.text[s.emitted:end])
	s.emitted = end
	return cfg.stream(i, piece)
}

// indexStop returns where the first stop string starts in text, looking
// only at matches that end after from, or -1.
func indexStop(text []byte, stops []string, from int) int {
	best := -1
	for _, stop := range stops {
		if stop == "" {
			continue
		}
		if i := strings.Index(string(text[from:]), stop); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	return best
}

// partialStop returns the length of the longest suffix of text that is a
// proper prefix of a stop string.
func partialStop(text []byte, stops []string) int {
	longest := 0
	for _, stop := range stops {
		for n := min(len(stop)-1, len(text)); n > longest; n-- {
			if string(text[len(text)-n:]) == stop[:n] {
				longest = n
				break
			}
		}
	}
	return longest
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a multi-byte UTF-8 character that later bytes could complete.
func completeUTF8(b []byte) int {
	for back := 1; back <= utf8.UTFMax-1 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c < 0x80 {
			return len(b) // ASCII: nothing pending
		}
		if c >= 0xC0 { // a lead byte: is its sequence complete?
			need := 2
			if c >= 0xF0 {
				need = 4
			} else if c >= 0xE0 {
				need = 3
			}
			if back < need {
				return len(b) - back
			}
			return len(b)
		}
	}
	return len(b)
}
