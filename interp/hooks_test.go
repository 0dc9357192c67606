package interp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

func TestActName(t *testing.T) {
	tests := []struct {
		kind  string
		layer int
		want  string
	}{
		{"resid_post", 5, "blocks.5.hook_resid_post"},
		{"resid_pre", 0, "blocks.0.hook_resid_pre"},
		{"attn_out", 2, "blocks.2.hook_attn_out"},
		{"mlp_out", 1, "blocks.1.hook_mlp_out"},
		{"pattern", 3, "blocks.3.attn.hook_pattern"},
		{"z", 3, "blocks.3.attn.hook_z"},
		{"q", 0, "blocks.0.attn.hook_q"},
		{"post", 1, "blocks.1.mlp.hook_post"},
		{"ln1", 2, "blocks.2.ln1.hook_normalized"},
		{"embed", -1, "hook_embed"},
		{"normalized", -1, "ln_final.hook_normalized"},
		{"blocks.1.hook_resid_mid", 7, "blocks.1.hook_resid_mid"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, interp.ActName(tt.kind, tt.layer), "%s %d", tt.kind, tt.layer)
	}
}

func TestHookPointsOfQwen2(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	h, err := interp.LoadHooks(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, layers, h.Layers())

	tests := []struct {
		name, node, base string
		layer            int
	}{
		{"hook_embed", "inp_embd", "", -1},
		{"blocks.0.hook_resid_pre", "inp_embd", "", 0},
		{"blocks.2.hook_resid_pre", "l_out-1", "", 2},
		{"blocks.2.ln1.hook_normalized", "attn_norm-2", "", 2},
		{"blocks.2.attn.hook_q", "Qcur-2 (reshaped)", "", 2},
		{"blocks.2.attn.hook_k", "Kcur-2 (reshaped)", "", 2},
		{"blocks.2.attn.hook_rot_q", "Qcur-2 (view)", "", 2},
		{"blocks.2.attn.hook_pattern", "kq_soft_max-2", "", 2},
		{"blocks.2.attn.hook_z", "kqv_out-2", "", 2},
		{"blocks.0.hook_attn_out", "ffn_inp-0", "inp_embd", 0},
		{"blocks.3.hook_attn_out", "ffn_inp-3", "l_out-2", 3},
		{"blocks.3.hook_resid_mid", "ffn_inp-3", "", 3},
		{"blocks.1.ln2.hook_normalized", "ffn_norm-1", "", 1},
		{"blocks.1.mlp.hook_pre", "ffn_gate-1", "", 1},
		{"blocks.1.mlp.hook_pre_linear", "ffn_up-1", "", 1},
		{"blocks.1.mlp.hook_post", "ffn_swiglu-1", "", 1},
		{"blocks.1.hook_mlp_out", "ffn_out-1", "", 1},
		{"blocks.3.hook_resid_post", "l_out-3", "", 3},
		{"ln_final.hook_normalized", "result_norm", "", -1},
		// Raw names resolve to the first TransformerLens point on the node.
		{"l_out-2", "l_out-2", "", 2},
		{"kq-1", "kq-1", "", 1},
	}
	for _, tt := range tests {
		p, err := h.Resolve(tt.name)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.node, p.Node, tt.name)
		assert.Equal(t, tt.base, p.Base, tt.name)
		assert.Equal(t, tt.base != "", p.Derived(), tt.name)
		assert.Equal(t, tt.layer, p.Layer, tt.name)
	}
	p, err := h.Resolve("l_out-2")
	require.NoError(t, err)
	assert.Equal(t, "blocks.2.hook_resid_post", p.Name)

	points, err := interp.HookPoints(context.Background(), c)
	require.NoError(t, err)
	byName := map[string]interp.HookPoint{}
	for _, p := range points {
		byName[p.Name] = p
	}
	assert.Contains(t, byName, "blocks.3.hook_resid_post")
	assert.Contains(t, byName, "result_output", "raw nodes without a TransformerLens name are listed by their own name")
	assert.NotContains(t, byName, "l_out-3", "a node with a TransformerLens name is listed under it")
	assert.Contains(t, byName, "norm", "the final norm before its weight")
	for _, n := range []string{"norm-1", "Qcur-1", "Kcur-1 (view)", "Vcur-1"} {
		assert.NotContains(t, byName, n, "rows that cannot be matched to tokens")
		assert.NotContains(t, h.Nodes(), n)
	}
	assert.Len(t, h.ForNode("l_out-1"), 2, "blocks.1.hook_resid_post and blocks.2.hook_resid_pre")
}

func TestUnknownHookListsRealNames(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	h, err := interp.LoadHooks(context.Background(), c)
	require.NoError(t, err)
	for _, name := range []string{"blocks.4.hook_resid_post", "blocks.0.attn.hook_v", "blocks.*.hook_nothing", "l_out-9"} {
		_, err := h.Match(name)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, interp.ErrUnknownHook), name)
		var nameErr *interp.HookNameError
		require.True(t, errors.As(err, &nameErr), name)
		assert.Equal(t, name, nameErr.Name)
		assert.Contains(t, nameErr.Known, "blocks.3.hook_resid_post")
		assert.Contains(t, err.Error(), "blocks.{0..3}.hook_resid_post", "layers are folded in the message")
		assert.Contains(t, err.Error(), "l_out-{0..3}")
	}
	pts, err := h.Match("blocks.*.hook_resid_post", "blocks.1.hook_resid_post", "ln_final.hook_normalized")
	require.NoError(t, err)
	require.Len(t, pts, layers+1, "each point once")
	assert.Equal(t, "blocks.0.hook_resid_post", pts[0].Name)
	assert.Equal(t, "ln_final.hook_normalized", pts[layers].Name)
}

func TestPatternNeedsFlashAttentionOff(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithFlashAttention(llama.FlashAttentionOn))
	h, err := interp.LoadHooks(context.Background(), c)
	require.NoError(t, err)
	_, err = h.Resolve("blocks.0.attn.hook_pattern")
	assert.ErrorIs(t, err, interp.ErrUnknownHook)
	_, err = h.Resolve("blocks.0.hook_resid_post")
	assert.NoError(t, err)
}
