// Package interp is the interpretability layer over package llama: it
// reads and changes a GGUF model's activations while llama.cpp runs it, in
// the manner of TransformerLens — hook points named like the model, a cache
// of activations indexed by name, patching, activation-patching sweeps,
// steering, the logit lens, attention patterns and linear probes — and
// returns gonum matrices, tables and plots.
//
// # Hook points
//
// A hook point has a TransformerLens name ([ActName]("resid_post", 3) is
// "blocks.3.hook_resid_post") and the llama.cpp graph node it reads
// ("l_out-3"). [LoadHooks] builds the table of one model from the nodes its
// graph really has; [HookPoints] lists it, and [Hooks.Resolve] takes either
// name. A name the model lacks is a [*HookNameError] that lists the names it
// has (errors.Is(err, [ErrUnknownHook])). For Qwen2/Llama-style models:
//
//	hook_embed, blocks.0.hook_resid_pre   inp_embd
//	blocks.L.hook_resid_pre               l_out-(L-1)
//	blocks.L.ln1.hook_normalized          attn_norm-L (times the norm's weight)
//	blocks.L.attn.hook_q / hook_k         Qcur-L (reshaped) / Kcur-L (reshaped): before RoPE
//	blocks.L.attn.hook_rot_q              Qcur-L (view): after RoPE
//	blocks.L.attn.hook_pattern            kq_soft_max-L (flash attention off)
//	blocks.L.attn.hook_z                  kqv_out-L (heads merged, before W_O)
//	blocks.L.hook_attn_out                ffn_inp-L − resid_pre (derived)
//	blocks.L.hook_resid_mid               ffn_inp-L
//	blocks.L.ln2.hook_normalized          ffn_norm-L
//	blocks.L.mlp.hook_pre / hook_pre_linear / hook_post   ffn_gate-L / ffn_up-L / ffn_swiglu-L
//	blocks.L.hook_mlp_out                 ffn_out-L
//	blocks.L.hook_resid_post              l_out-L
//	ln_final.hook_normalized              result_norm
//
// llama.cpp gives the attention output after W_O no name, so
// hook_attn_out is derived: read as resid_mid − resid_pre, and patched as a
// change of ffn_inp-L by the difference. llama.cpp names several nodes
// "norm-L", "Qcur-L", "Kcur-L" and "Vcur-L" (before a bias, after it, after
// RoPE), so hooks cannot tell their rows apart: they are not hook points,
// and the value vectors have no hook point. Raw node names are accepted
// wherever names are.
//
// # Capture
//
// [RunWithCache] decodes prompts and captures the hook points a [Filter]
// selects ([Names] takes names and path.Match patterns such as
// "blocks.*.hook_resid_post"; [FilterFunc] a function) into a [Cache]: one
// *mat.Dense per hook point and prompt, a row per token position, stitched
// across micro-batches, with the last layer's rows kept for every position
// (the run then asks llama.cpp for logits everywhere).
// [EstimateMemory] says what a run will hold, and [WithMemoryLimit]
// refuses runs over a limit. Hooks live for one run. A model whose layers
// sit on a GPU is captured the same way.
//
//	cache, err := interp.RunWithCache(ctx, c, prompts, interp.Names("blocks.*.hook_resid_post"))
//	resid := cache.ResidPost(3, 0) // prompt 0: tokens × n_embd
//
// [Cache.WriteParquet] and [Cache.WriteArrow] write a cache as a tidy table
// through package export.
//
// # Patching
//
// A [Patch] replaces ([Replace], [ReplaceFrom]), adds to ([Add]), zeroes
// ([Zero]) or edits ([PatchFunc]) a hook point's activation at chosen
// positions ([AtPositions]) and heads ([OnHeads]); every later node
// computes from the new values. [RunWithHooks] runs prompts under patches,
// [WithPatches] adds them to a capture, and [Attach] keeps them on a
// context for generation.
//
// [ActivationPatching] runs the classic experiment: a clean and a
// corrupted prompt, a [Metric] ([LogitDiff] of two answer tokens, or a
// function), and a sweep over layer × position (× head with [ByHead]) that
// patches one clean activation into the corrupted run at a time. The
// patched runs are decoded as parallel sequences of the context. The
// result is a tidy [PatchTable] with CSV output and a heat map
// ([PatchTable.Figure]).
//
// # Steering
//
// [Steer] adds a vector to the residual stream after a block through a
// hook; [SetSteering] does the same through llama.cpp's control vectors,
// which cost nothing per decode. [ContrastVector] builds a vector from
// contrast pairs: the mean difference of captured activations.
//
// # Logit lens
//
// [LoadUnembed] reads a model's final norm and unembedding from its GGUF
// file into Go (quantized weights dequantized as ggml does; tied embeddings
// use token_embd.weight). [LogitLens] projects the residual stream after
// every block through them: the top-k tokens per layer and position, as a
// [Lens] with CSV output and a figure. At the last layer the lens gives the
// model's own logits.
//
// # Attention
//
// With flash attention off (llama.WithFlashAttention(llama.FlashAttentionOff)),
// blocks.L.attn.hook_pattern holds each head's attention pattern;
// [Cache.Pattern] cuts out one head as a tokens × tokens matrix and
// [AttentionFigure] draws it.
//
// # Probes
//
// [FitLinear] (least squares, optionally ridge) and [FitLogistic]
// (multinomial logistic regression with L-BFGS) fit linear probes to
// captured activations; [TrainTestSplit], [SelectRows] and [Pick] split
// the samples, [LinearProbe.R2] and [LogisticProbe.Accuracy] score them.
//
// # Concurrency
//
// A llama.Context serves one goroutine at a time, so do the runs of this
// package on it. [Hooks], [Cache], [Unembed], [Lens], [PatchTable] and
// the probes are safe for concurrent reads once made; a [Figure] is not.
// Caller bugs, such as asking a [Cache] for a point it did not capture with
// [Cache.Get], panic; [Cache.Lookup] returns an error instead.
package interp
