package interp_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot/vg"

	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/llama"
)

// cleanAndCorrupted returns two prompts of the same length that differ in
// one token (position 3).
func cleanAndCorrupted(t testing.TB, m *llama.Model) (clean, corrupted []llama.Token) {
	t.Helper()
	p := tokenize(t, m, "Vax rolls a 17", "Vax rolls a 03")
	require.Len(t, p[1], len(p[0]))
	return p[0], p[1]
}

// TestPatchingEveryPositionRestoresTheCleanRun writes the clean run's
// residual stream at a layer into the corrupted run at every position: from
// there on the corrupted run computes exactly what the clean run computed.
func TestPatchingEveryPositionRestoresTheCleanRun(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	clean, corrupted := cleanAndCorrupted(t, m)
	base, err := interp.RunWithHooks(ctx, c, [][]llama.Token{corrupted}, nil)
	require.NoError(t, err)
	for l := 0; l < layers; l++ {
		// Each clean run captures one layer: a capture of the last layer
		// asks for logits at every position, as patching it does, and
		// the two compare exactly.
		names := interp.Names(interp.ActName("resid_post", l), interp.ActName("resid_mid", l))
		cleanCache, err := interp.RunWithCache(ctx, c, [][]llama.Token{clean}, names)
		require.NoError(t, err)
		require.NotZero(t, maxAbsDiff(cleanCache.Logits(0), base.Logits(0)))
		for _, name := range cleanCache.Names() {
			patched, err := interp.RunWithHooks(ctx, c, [][]llama.Token{corrupted}, []interp.Patch{interp.ReplaceFrom(name, cleanCache, 0)})
			require.NoError(t, err)
			assert.Zero(t, maxAbsDiff(cleanCache.Logits(0), patched.Logits(0)), name)
		}
	}
	// The hooks of a run are gone after it.
	again, err := interp.RunWithHooks(ctx, c, [][]llama.Token{corrupted}, nil)
	require.NoError(t, err)
	assert.Zero(t, maxAbsDiff(base.Logits(0), again.Logits(0)))
}

// TestPatchOnePositionRespectsCausality patches one position: earlier
// positions of later layers do not change, that position and later ones do.
func TestPatchOnePositionRespectsCausality(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Scanlan casts Thunderwave")
	names := interp.Names("blocks.*.hook_resid_post")
	base, err := interp.RunWithCache(ctx, c, prompts, names)
	require.NoError(t, err)
	const pos = 5
	calls := 0
	edit := interp.PatchFunc("blocks.1.hook_resid_post", func(p int, row []float32) {
		assert.Equal(t, pos, p)
		calls++
		for i := range row {
			row[i] *= -1
		}
	}, interp.AtPositions(pos))
	patched, err := interp.RunWithCache(ctx, c, prompts, names, interp.WithPatches(edit))
	require.NoError(t, err)
	assert.Equal(t, 1, calls)
	want := base.ResidPost(1, 0)
	got := patched.ResidPost(1, 0)
	for j := 0; j < 64; j++ {
		assert.Equal(t, -want.At(pos, j), got.At(pos, j), "the capture sees the patched values")
	}
	for l := 2; l < layers; l++ {
		b, p := base.ResidPost(l, 0), patched.ResidPost(l, 0)
		for i := 0; i < len(prompts[0]); i++ {
			d := matMaxDiff(b.Slice(i, i+1, 0, 64), p.Slice(i, i+1, 0, 64))
			if i < pos {
				assert.Zero(t, d, "layer %d position %d is before the patch", l, i)
			} else {
				assert.NotZero(t, d, "layer %d position %d sees the patch", l, i)
			}
		}
	}
}

// TestPatchAttentionOut checks the derived hook_attn_out patch: zeroing it
// leaves resid_mid equal to resid_pre, and adding v adds v to resid_mid.
func TestPatchAttentionOut(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Beau sneaks")
	const l = 2
	names := interp.Names(interp.ActName("resid_pre", l), interp.ActName("resid_mid", l), interp.ActName("attn_out", l))
	base, err := interp.RunWithCache(ctx, c, prompts, names)
	require.NoError(t, err)

	zeroed, err := interp.RunWithCache(ctx, c, prompts, names, interp.WithPatches(interp.Zero(interp.ActName("attn_out", l))))
	require.NoError(t, err)
	assert.Zero(t, matMaxDiff(zeroed.ResidPre(l, 0), zeroed.ResidMid(l, 0)))
	assert.Zero(t, matMaxDiff(base.ResidPre(l, 0), zeroed.ResidPre(l, 0)), "the block's input is untouched")

	v := mat.NewVecDense(64, nil)
	for i := 0; i < 64; i++ {
		v.SetVec(i, float64(i%7)-3)
	}
	added, err := interp.RunWithCache(ctx, c, prompts, names, interp.WithPatches(interp.Add(interp.ActName("attn_out", l), v, interp.AtPositions(2))))
	require.NoError(t, err)
	var want mat.Dense
	want.CloneFrom(base.AttnOut(l, 0))
	for j := 0; j < 64; j++ {
		want.Set(2, j, want.At(2, j)+v.AtVec(j))
	}
	assert.Less(t, matMaxDiff(&want, added.AttnOut(l, 0)), 1e-5)

	// Attached, the derived patch works on any decode.
	remove, err := interp.Attach(ctx, c, interp.Zero(interp.ActName("attn_out", l)))
	require.NoError(t, err)
	attached := lastLogits(t, c, prompts[0])
	remove()
	assert.Zero(t, maxAbsDiff(zeroed.Logits(0), attached))
}

// TestPatchHeads zeroes one head of hook_z: that head's slice of the row is
// zero, the other heads' values are unchanged.
func TestPatchHeads(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	ctx := context.Background()
	prompts := tokenize(t, m, "Jester laughs")
	name := interp.ActName("z", 1)
	base, err := interp.RunWithCache(ctx, c, prompts, interp.Names(name))
	require.NoError(t, err)
	require.Equal(t, 4, base.Heads(name))
	patched, err := interp.RunWithCache(ctx, c, prompts, interp.Names(name), interp.WithPatches(interp.Zero(name, interp.OnHeads(2))))
	require.NoError(t, err)
	b, p := base.Get(name, 0), patched.Get(name, 0)
	for i := 0; i < len(prompts[0]); i++ {
		for j := 0; j < 64; j++ {
			if j/16 == 2 {
				assert.Zero(t, p.At(i, j))
			} else {
				assert.Equal(t, b.At(i, j), p.At(i, j))
			}
		}
	}
	assert.NotZero(t, maxAbsDiff(base.Logits(0), patched.Logits(0)))

	_, err = interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Zero("blocks.1.hook_resid_post", interp.OnHeads(0))})
	assert.ErrorContains(t, err, "no heads")
	_, err = interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Zero(name, interp.OnHeads(4))})
	assert.ErrorContains(t, err, "head 4 outside [0, 4)")
	_, err = interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Add(name, mat.NewVecDense(3, nil))})
	assert.ErrorContains(t, err, "vector of 3 values")
	_, err = interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Replace(name, mat.NewDense(2, 64, nil))})
	assert.ErrorContains(t, err, "beyond the source's 2 rows")
	_, err = interp.RunWithHooks(ctx, c, prompts, []interp.Patch{interp.Zero("blocks.1.hook_nothing")})
	assert.ErrorIs(t, err, interp.ErrUnknownHook)
}

// TestActivationPatchingSweep checks a layer × position sweep of the
// residual stream against what is known exactly: at the last layer only
// the last position matters (patching it gives the clean metric, the others
// the corrupted one), and at the first block's input only the position
// where the prompts differ matters. Decoding the patched runs as parallel
// sequences gives the same table.
func TestActivationPatchingSweep(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	clean, corrupted := cleanAndCorrupted(t, m)
	const diffPos = 12 // "Vax rolls a 17" and "Vax rolls a 03": byte tokens
	require.NotEqual(t, clean[diffPos], corrupted[diffPos])
	metric := interp.LogitDiff('1', '0')

	c := newContext(t, m)
	for _, kind := range []string{"resid_pre", "resid_post"} {
		table, err := interp.ActivationPatching(ctx, c, clean, corrupted, metric, kind)
		require.NoError(t, err)
		require.Len(t, table.Rows, layers*len(clean))
		// Within rounding: the sweep asks for logits at every position when
		// it patches the last layer.
		assert.InDelta(t, metric(lastLogits(t, c, clean)), table.Clean, 1e-5)
		assert.InDelta(t, metric(lastLogits(t, c, corrupted)), table.Corrupted, 1e-5)
		assert.NotEqual(t, table.Clean, table.Corrupted)
		last := len(clean) - 1
		for _, r := range table.Rows {
			switch {
			case kind == "resid_post" && r.Layer == layers-1 && r.Position == last:
				assert.Equal(t, table.Clean, r.Value, "the final residual at the last position decides the logits")
			case kind == "resid_post" && r.Layer == layers-1:
				assert.Equal(t, table.Corrupted, r.Value, "position %d of the last layer reaches no later position", r.Position)
			case kind == "resid_pre" && r.Layer == 0 && r.Position != diffPos && r.Position != diffPos+1:
				assert.Equal(t, table.Corrupted, r.Value, "the prompts' embeddings agree at position %d", r.Position)
			}
		}

		par := newContext(t, m, llama.WithSequences(4))
		ptable, err := interp.ActivationPatching(ctx, par, clean, corrupted, metric, kind)
		require.NoError(t, err)
		require.Len(t, ptable.Rows, len(table.Rows))
		for i, r := range table.Rows {
			assert.InDelta(t, r.Value, ptable.Rows[i].Value, 1e-4, "%+v", r)
		}
	}
}

func TestActivationPatchingByHead(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, llama.WithSequences(4))
	ctx := context.Background()
	clean, corrupted := cleanAndCorrupted(t, m)
	metric := interp.LogitDiff('1', '0')
	table, err := interp.ActivationPatching(ctx, c, clean, corrupted, metric, "z", interp.ByHead(), interp.SweepLayers(1, 3), interp.SweepPositions(12, 13))
	require.NoError(t, err)
	require.Equal(t, 4, table.Heads)
	require.Len(t, table.Rows, 2*2*4)
	// Patching every head of one position is patching the whole row.
	whole, err := interp.ActivationPatching(ctx, c, clean, corrupted, metric, "z", interp.SweepLayers(3), interp.SweepPositions(13))
	require.NoError(t, err)
	cleanCache, err := interp.RunWithCache(ctx, c, [][]llama.Token{clean}, interp.Names("blocks.3.attn.hook_z"))
	require.NoError(t, err)
	all, err := interp.RunWithHooks(ctx, c, [][]llama.Token{corrupted}, []interp.Patch{
		interp.ReplaceFrom("blocks.3.attn.hook_z", cleanCache, 0, interp.AtPositions(13), interp.OnHeads(0, 1, 2, 3))})
	require.NoError(t, err)
	assert.InDelta(t, whole.Rows[0].Value, metric(all.Logits(0)), 1e-6)

	var buf bytes.Buffer
	require.NoError(t, table.WriteCSV(&buf))
	records, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 1+len(table.Rows))
	assert.Equal(t, []string{"layer", "position", "head", "label", "value", "normalized"}, records[0])
	assert.Equal(t, []string{"1", "12", "0"}, records[1][:3])
	assert.Equal(t, "1→0", records[1][3])

	fig, err := table.Figure()
	require.NoError(t, err)
	buf.Reset()
	require.NoError(t, fig.WritePNG(&buf, 6*vg.Inch, 4*vg.Inch))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	assert.Equal(t, 6*96, img.Bounds().Dx())

	_, err = interp.ActivationPatching(ctx, c, clean, corrupted[:3], metric, "resid_pre")
	assert.ErrorContains(t, err, "as long")
	_, err = interp.ActivationPatching(ctx, c, clean, corrupted, metric, "resid_post", interp.ByHead())
	assert.ErrorContains(t, err, "no heads")
	_, err = interp.ActivationPatching(ctx, c, clean, corrupted, metric, "nothing")
	assert.ErrorIs(t, err, interp.ErrUnknownHook)
	assert.False(t, math.IsNaN(table.Normalized(table.Clean)))
}

func TestPatchTableParquet(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m)
	clean, corrupted := cleanAndCorrupted(t, m)
	table, err := interp.ActivationPatching(context.Background(), c, clean, corrupted, interp.LogitDiff('1', '0'), "mlp_out", interp.SweepLayers(0, 2))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, table.WriteParquet(&buf))
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(buf.Bytes()), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	require.EqualValues(t, len(table.Rows), tbl.NumRows())
	names := []string{}
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"kind", "layer", "position", "head", "label", "value", "normalized"}, names)
	layer := tbl.Column(1).Data().Chunk(0).(*array.Int32)
	value := tbl.Column(5).Data().Chunk(0).(*array.Float64)
	label := tbl.Column(4).Data().Chunk(0).(*array.String)
	for i, r := range table.Rows {
		assert.EqualValues(t, r.Layer, layer.Value(i))
		assert.Equal(t, r.Value, value.Value(i))
		assert.Equal(t, table.Labels[r.Position], label.Value(i))
	}
}
