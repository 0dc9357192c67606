package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"fmt"
	"math"
	"unsafe"
)

// Token is a vocabulary entry's id.
type Token int32

// NoToken is what the special-token accessors return when the model has no
// such token.
const NoToken Token = -1

// Tokenize turns text into tokens. addSpecial adds BOS/EOS if the model asks
// for them; parseSpecial lets control tokens written in text (such as
// "<|im_start|>") become their tokens instead of being spelled out.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	var toks []Token
	err := m.use("tokenize", func(c *C.struct_llama_model) error {
		if len(text) > math.MaxInt32 {
			return fmt.Errorf("text of %d bytes is too long", len(text))
		}
		vocab := C.llama_model_get_vocab(c)
		var ctext *C.char
		if len(text) > 0 {
			ctext = (*C.char)(unsafe.Pointer(unsafe.StringData(text)))
		}
		// A token covers at least one byte, plus room for BOS/EOS.
		capacity := len(text) + 2
		toks = make([]Token, capacity)
		n := C.llama_tokenize(vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(capacity),
			C.bool(addSpecial), C.bool(parseSpecial))
		if n < 0 {
			if n == math.MinInt32 {
				return fmt.Errorf("tokenization overflows")
			}
			toks = make([]Token, -n)
			n = C.llama_tokenize(vocab, ctext, C.int32_t(len(text)),
				(*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(len(toks)),
				C.bool(addSpecial), C.bool(parseSpecial))
			if n < 0 {
				return fmt.Errorf("tokenizer asked for %d tokens twice", -n)
			}
		}
		toks = toks[:n:n]
		return nil
	})
	return toks, err
}

// Detokenize turns tokens back into text. removeSpecial drops the BOS/EOS
// the model adds; unparseSpecial renders control tokens as their text. The
// result holds the bytes llama.cpp produces, which may end in an incomplete
// UTF-8 sequence if the tokens split a character.
func (m *Model) Detokenize(tokens []Token, removeSpecial, unparseSpecial bool) (string, error) {
	var out string
	err := m.use("detokenize", func(c *C.struct_llama_model) error {
		if err := m.checkTokens(c, tokens); err != nil {
			return err
		}
		if len(tokens) == 0 {
			return nil
		}
		vocab := C.llama_model_get_vocab(c)
		buf := make([]byte, 8*len(tokens)+16)
		call := func() C.int32_t {
			return C.llama_detokenize(vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
				(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), C.bool(removeSpecial), C.bool(unparseSpecial))
		}
		n := call()
		if n < 0 {
			buf = make([]byte, -n)
			if n = call(); n < 0 {
				return fmt.Errorf("detokenizer asked for %d bytes twice", -n)
			}
		}
		out = string(buf[:n])
		return nil
	})
	return out, err
}

// TokenPiece returns the bytes token stands for; special tokens render as
// their text when special is true and as "" otherwise.
func (m *Model) TokenPiece(tok Token, special bool) (string, error) {
	var out string
	err := m.use("token piece", func(c *C.struct_llama_model) error {
		if err := m.checkTokens(c, []Token{tok}); err != nil {
			return err
		}
		out = tokenPiece(C.llama_model_get_vocab(c), tok, special)
		return nil
	})
	return out, err
}

func tokenPiece(vocab *C.struct_llama_vocab, tok Token, special bool) string {
	var small [64]byte
	buf := small[:]
	n := C.llama_token_to_piece(vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special))
	if n < 0 {
		buf = make([]byte, -n)
		n = C.llama_token_to_piece(vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special))
	}
	if n <= 0 {
		return ""
	}
	return string(buf[:n])
}

// checkTokens refuses ids outside the vocabulary: llama.cpp indexes its
// tables with them unchecked.
func (m *Model) checkTokens(c *C.struct_llama_model, tokens []Token) error {
	n := Token(C.llama_vocab_n_tokens(C.llama_model_get_vocab(c)))
	for i, t := range tokens {
		if t < 0 || t >= n {
			return fmt.Errorf("token %d at index %d is outside the vocabulary [0, %d)", t, i, n)
		}
	}
	return nil
}

// SpecialTokens are a model's control tokens; NoToken where it has none.
type SpecialTokens struct {
	BOS, EOS, EOT, PAD, NL Token
	AddBOS, AddEOS         bool // whether Tokenize adds them with addSpecial
}

// SpecialTokens returns the model's BOS, EOS, EOT, padding and newline tokens.
func (m *Model) SpecialTokens() (SpecialTokens, error) {
	var s SpecialTokens
	err := m.use("special tokens", func(c *C.struct_llama_model) error {
		v := C.llama_model_get_vocab(c)
		s = SpecialTokens{
			BOS: Token(C.llama_vocab_bos(v)), EOS: Token(C.llama_vocab_eos(v)),
			EOT: Token(C.llama_vocab_eot(v)), PAD: Token(C.llama_vocab_pad(v)),
			NL:     Token(C.llama_vocab_nl(v)),
			AddBOS: bool(C.llama_vocab_get_add_bos(v)), AddEOS: bool(C.llama_vocab_get_add_eos(v)),
		}
		return nil
	})
	return s, err
}

// IsEndOfGeneration reports whether tok ends a generation (EOS, EOT and the
// like). Ids outside the vocabulary report false.
func (m *Model) IsEndOfGeneration(tok Token) (bool, error) {
	var eog bool
	err := m.use("is end of generation", func(c *C.struct_llama_model) error {
		eog = isEOG(c, m, tok)
		return nil
	})
	return eog, err
}

func isEOG(c *C.struct_llama_model, m *Model, tok Token) bool {
	return m.checkTokens(c, []Token{tok}) == nil && bool(C.llama_vocab_is_eog(C.llama_model_get_vocab(c), C.llama_token(tok)))
}
