package gguf

import "strconv"

// Metadata keys that llama.cpp reads without checking their type or length
// first, and its limit on experts.
const (
	keySplitNo            = "split.no"
	keySplitCount         = "split.count"
	keySplitTensorsCount  = "split.tensors.count"
	keyTokens             = "tokenizer.ggml.tokens"
	keyScores             = "tokenizer.ggml.scores"
	keyTokenType          = "tokenizer.ggml.token_type"
	keyMerges             = "tokenizer.ggml.merges"
	keyPrecompiledCharmap = "tokenizer.ggml.precompiled_charsmap"
	maxExperts            = 512 // LLAMA_MAX_EXPERTS
)

// checkLlama catches metadata that ggml's parser accepts but that makes
// llama.cpp (at the pinned version) abort with GGML_ASSERT, or read past an
// array, while it loads a model. Each check names the code it guards
// against. Metadata that llama.cpp merely refuses with an error is left to it.
func (f *File) checkLlama() error {
	// llama-model-loader.cpp reads split.no of every part after the first
	// with gguf_get_val_u16, which asserts a u16 scalar.
	if v, ok := f.Value(keySplitNo); ok {
		if _, isU16 := As[uint16](v); !isU16 {
			return f.keyError(keySplitNo, ErrCorrupt, "is %s, not u16 (llama.cpp would abort)", v.describe())
		}
	}
	if err := f.checkHyperparameters(); err != nil {
		return err
	}
	return f.checkVocabulary()
}

// checkHyperparameters guards llama_model::load_hparams.
func (f *File) checkHyperparameters() error {
	arch, err := f.Architecture()
	if err != nil {
		return nil // llama.cpp refuses the model with an error of its own
	}
	// get_key_or_arr → get_arr asserts that an array of f32 or str is
	// asked for as such; per-layer counts are asked for as integers.
	for _, suffix := range []string{".feed_forward_length", ".attention.head_count", ".attention.head_count_kv", ".rope.dimension_sections"} {
		key := arch + suffix
		if v, ok := f.Value(key); ok && v.Type() == ValueArray && v.ElemType() != ValueUint32 && v.ElemType() != ValueInt32 {
			return f.keyError(key, ErrCorrupt, "is %s, not an array of u32 or i32 (llama.cpp would abort)", v.describe())
		}
	}
	labels := arch + ".classifier.output_labels"
	if v, ok := f.Value(labels); ok && v.Type() == ValueArray && v.ElemType() != ValueString {
		return f.keyError(labels, ErrCorrupt, "is %s, not an array of str (llama.cpp would abort)", v.describe())
	}
	// An unknown rope scaling type trips
	// GGML_ASSERT(rope_scaling_type_train != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED).
	scaling := arch + ".rope.scaling.type"
	if v, ok := f.Value(scaling); ok {
		switch s, isStr := As[string](v); {
		case !isStr, s == "none", s == "linear", s == "yarn", s == "longrope":
			// Another type makes llama.cpp throw, not abort.
		default:
			return f.keyError(scaling, ErrCorrupt, "%q is not none, linear, yarn or longrope (llama.cpp would abort)", s)
		}
	}
	return f.checkExperts(arch)
}

// checkExperts mirrors the GGML_ASSERTs on expert counts in load_hparams.
func (f *File) checkExperts(arch string) error {
	u32 := func(suffix string) uint32 {
		v, _ := f.Value(arch + suffix)
		n, _ := As[uint32](v) // another type makes llama.cpp throw, not abort
		return n
	}
	experts, used := u32(".expert_count"), u32(".expert_used_count")
	groups, groupsUsed := u32(".expert_group_count"), u32(".expert_group_used_count")
	var problem string
	switch {
	case experts > maxExperts:
		problem = "expert_count " + strconv.Itoa(int(experts)) + " exceeds " + strconv.Itoa(maxExperts)
	case used > experts:
		problem = "expert_used_count exceeds expert_count"
	case experts > 0 && used == 0:
		problem = "expert_used_count is 0 with experts"
	case experts > 0 && groups >= experts:
		problem = "expert_group_count is not below expert_count"
	case experts > 0 && groups > 1 && (experts%groups != 0 || groupsUsed == 0 || groupsUsed >= groups):
		problem = "expert groups are inconsistent"
	case experts == 0 && (used != 0 || groups != 0):
		problem = "expert counts are set without experts"
	}
	if problem != "" {
		return f.keyError(arch+".expert_count", ErrCorrupt, "%s (llama.cpp would abort)", problem)
	}
	return nil
}

// checkVocabulary guards llama_vocab::impl::load, which reads the token
// list and merges with gguf_get_arr_str (asserting strings), the
// precompiled charsmap with gguf_get_arr_type (asserting an array), scores
// and token types as raw float and int arrays indexed by token, and asserts
// that no two tokens have the same text.
func (f *File) checkVocabulary() error {
	if v, ok := f.Value(keyMerges); ok {
		if _, isStrings := v.Strings(); !isStrings {
			return f.keyError(keyMerges, ErrCorrupt, "is %s, not an array of str (llama.cpp would abort)", v.describe())
		}
	}
	if v, ok := f.Value(keyPrecompiledCharmap); ok && v.Type() != ValueArray {
		return f.keyError(keyPrecompiledCharmap, ErrCorrupt, "is %s, not an array (llama.cpp would abort)", v.describe())
	}
	v, ok := f.Value(keyTokens)
	if !ok {
		return nil
	}
	tokens, isStrings := v.Strings()
	if !isStrings {
		return f.keyError(keyTokens, ErrCorrupt, "is %s, not an array of str (llama.cpp would abort)", v.describe())
	}
	seen := make(map[string]int, len(tokens))
	for i, tok := range tokens {
		if tok == "" {
			tok = "[EMPTY_" + strconv.Itoa(i) + "]" // what llama.cpp renames empty tokens to
		}
		if j, dup := seen[tok]; dup {
			return f.keyError(keyTokens, ErrCorrupt, "has token %d %q twice (also token %d; llama.cpp would abort)", i, tok, j)
		}
		seen[tok] = i
	}
	if v, ok := f.Value(keyScores); ok {
		if v.Type() != ValueArray || v.ElemType() != ValueFloat32 || v.Len() < len(tokens) {
			return f.keyError(keyScores, ErrCorrupt, "is %s, not an array of f32 with one score per token (%d)", v.describe(), len(tokens))
		}
	}
	if v, ok := f.Value(keyTokenType); ok {
		if v.Type() != ValueArray || (v.ElemType() != ValueInt32 && v.ElemType() != ValueUint32) || v.Len() < len(tokens) {
			return f.keyError(keyTokenType, ErrCorrupt, "is %s, not an array of i32 with one type per token (%d)", v.describe(), len(tokens))
		}
	}
	return nil
}
