package interp_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/export"
)

func TestCacheExport(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	prompts := tokenize(t, m, "Ashley", "Sam!")
	cache, err := interp.RunWithCache(context.Background(), c, prompts,
		interp.Names("blocks.1.hook_resid_post", "blocks.2.mlp.hook_post", "blocks.0.attn.hook_pattern"))
	require.NoError(t, err)
	assert.Equal(t, []string{"S", "a", "m", "!"}, cache.Pieces(1))

	check := func(t *testing.T, read func(fn func(*export.Row) error) error) {
		type key struct {
			hook     string
			seq, pos int
		}
		seen := map[key]bool{}
		require.NoError(t, read(func(r *export.Row) error {
			assert.Equal(t, "run-7", r.Run)
			k := key{r.Hook, int(r.Sequence), r.Position}
			assert.False(t, seen[k], "one row per hook, prompt and position")
			seen[k] = true
			want := cache.Get(r.Hook, k.seq)
			require.Len(t, r.Values, want.RawMatrix().Cols)
			for j, v := range r.Values {
				assert.Equal(t, float32(want.At(k.pos, j)), v)
			}
			assert.Equal(t, int(prompts[k.seq][k.pos]), r.TokenID)
			assert.Equal(t, cache.Pieces(k.seq)[k.pos], r.TokenText)
			p := map[string]int{"blocks.1.hook_resid_post": 1, "blocks.2.mlp.hook_post": 2, "blocks.0.attn.hook_pattern": 0}
			assert.Equal(t, p[r.Hook], r.Layer)
			return nil
		}))
		assert.Len(t, seen, 3*(len(prompts[0])+len(prompts[1])))
	}
	t.Run("parquet", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, cache.WriteParquet(&buf, "run-7"))
		check(t, func(fn func(*export.Row) error) error {
			return export.ReadParquet(context.Background(), bytes.NewReader(buf.Bytes()), fn)
		})
	})
	t.Run("arrow", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, cache.WriteArrow(&buf, "run-7"))
		check(t, func(fn func(*export.Row) error) error {
			return export.ReadIPC(bytes.NewReader(buf.Bytes()), fn)
		})
	})
}
