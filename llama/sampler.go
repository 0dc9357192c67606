package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Sampling configures how the next token is chosen. The zero value is
// greedy decoding: always the most likely token.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy, ignoring TopK, TopP
	// and MinP.
	Temperature float32
	TopK        int     // keep the K most likely tokens; 0 disables
	TopP        float32 // keep the smallest set with this much probability; 0 or 1 disables
	MinP        float32 // drop tokens below MinP times the best probability; 0 disables

	// Repetition penalties over the last PenaltyLastN tokens (0 disables,
	// -1 means the whole context).
	PenaltyLastN     int
	RepeatPenalty    float32 // 1 or 0 disables
	FrequencyPenalty float32
	PresencePenalty  float32

	// Seed for random sampling; 0 picks one at random.
	Seed uint32

	// Grammar is a GBNF grammar the output must follow, such as
	// `root ::= [0-9]+` to force an integer; GrammarRoot names its start
	// rule (default "root").
	Grammar     string
	GrammarRoot string
}

// Sampler is a llama.cpp sampler chain built from a Sampling. It keeps state
// (penalties, grammar), so use one per sequence. Not safe for concurrent use.
// It points into its model's vocabulary: close it before the model.
type Sampler struct {
	c     *C.struct_llama_sampler
	model *Model
	leak  runtime.Cleanup // reports a Sampler dropped without Close
}

// NewSampler builds the sampler chain for s: penalties, then grammar, then
// top-k, top-p, min-p, temperature and a seeded random pick, or greedy.
func (m *Model) NewSampler(s Sampling) (*Sampler, error) {
	var sm *Sampler
	err := m.use("new sampler", func(c *C.struct_llama_model) error {
		vocab := C.llama_model_get_vocab(c)
		chain := C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
		if chain == nil {
			return errors.New("cannot create sampler chain")
		}
		add := func(x *C.struct_llama_sampler) { C.llama_sampler_chain_add(chain, x) }

		if s.PenaltyLastN != 0 && (s.RepeatPenalty > 0 && s.RepeatPenalty != 1 || s.FrequencyPenalty != 0 || s.PresencePenalty != 0) {
			rp := s.RepeatPenalty
			if rp == 0 {
				rp = 1
			}
			add(C.llama_sampler_init_penalties(C.int32_t(s.PenaltyLastN), C.float(rp), C.float(s.FrequencyPenalty), C.float(s.PresencePenalty)))
		}
		if s.Grammar != "" {
			root := s.GrammarRoot
			if root == "" {
				root = "root"
			}
			cg, cr := C.CString(s.Grammar), C.CString(root)
			defer C.free(unsafe.Pointer(cg))
			defer C.free(unsafe.Pointer(cr))
			var g *C.struct_llama_sampler
			log := logged(func() { g = C.llama_sampler_init_grammar(vocab, cg, cr) })
			if g == nil || log.err() != nil {
				if g != nil {
					C.llama_sampler_free(g)
				}
				C.llama_sampler_free(chain)
				return &Error{Op: "new sampler", Err: cmp.Or(log.err(), errors.New("invalid grammar")), Detail: log.detail()}
			}
			add(g)
		}
		if s.Temperature <= 0 {
			add(C.llama_sampler_init_greedy())
		} else {
			if s.TopK > 0 {
				add(C.llama_sampler_init_top_k(C.int32_t(s.TopK)))
			}
			if s.TopP > 0 && s.TopP < 1 {
				add(C.llama_sampler_init_top_p(C.float(s.TopP), 1))
			}
			if s.MinP > 0 {
				add(C.llama_sampler_init_min_p(C.float(s.MinP), 1))
			}
			add(C.llama_sampler_init_temp(C.float(s.Temperature)))
			seed := C.uint32_t(s.Seed)
			if s.Seed == 0 {
				seed = C.LLAMA_DEFAULT_SEED
			}
			add(C.llama_sampler_init_dist(seed))
		}
		sm = &Sampler{c: chain, model: m}
		// Counted under the model's read lock: Model.Close now waits for
		// this sampler's Close.
		m.samplers.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sm.leak = runtime.AddCleanup(sm, func(path string) { leakf("Sampler on %s was not closed", path) }, m.path)
	return sm, nil
}

// Sample picks a token from the logits at batch index i of ctx's last
// Decode and records it in the sampler's state (as Accept does).
func (s *Sampler) Sample(ctx *Context, i int) (Token, error) {
	if err := s.check("sample"); err != nil {
		return NoToken, err
	}
	if err := ctx.lock("sample"); err != nil {
		return NoToken, err
	}
	defer ctx.mu.Unlock()
	return s.sample(ctx, i)
}

// sample is Sample with ctx's lock held.
func (s *Sampler) sample(ctx *Context, i int) (Token, error) {
	if i < 0 || i >= len(ctx.outputs) || !ctx.outputs[i] {
		return NoToken, &Error{Op: "sample", Err: fmt.Errorf("%w: index %d", ErrNoLogits, i)}
	}
	return Token(C.llama_sampler_sample(s.c, ctx.c, C.int32_t(i))), nil
}

// Accept records tok as chosen (for penalties and grammar) without sampling,
// for tokens that enter a sequence otherwise.
func (s *Sampler) Accept(tok Token) error {
	if err := s.check("accept"); err != nil {
		return err
	}
	if err := s.model.use("accept", func(c *C.struct_llama_model) error { return s.model.checkTokens(c, []Token{tok}) }); err != nil {
		return err
	}
	C.llama_sampler_accept(s.c, C.llama_token(tok))
	return nil
}

// Reset forgets the tokens seen so far.
func (s *Sampler) Reset() error {
	if err := s.check("reset sampler"); err != nil {
		return err
	}
	C.llama_sampler_reset(s.c)
	return nil
}

func (s *Sampler) check(op string) error {
	if s == nil || s.c == nil {
		return &Error{Op: op, Err: ErrClosed}
	}
	return nil
}

// Close frees the sampler. Safe to call more than once and on nil.
func (s *Sampler) Close() error {
	if s == nil || s.c == nil {
		return nil
	}
	C.llama_sampler_free(s.c)
	s.c = nil
	// Only now, with the sampler freed, may the model be closed.
	s.model.samplers.Add(-1)
	s.leak.Stop()
	return nil
}
