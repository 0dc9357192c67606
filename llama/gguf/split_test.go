package gguf_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama/gguf"
)

// writeSplitSample writes the sample model as parts files and returns their
// paths.
func writeSplitSample(t *testing.T, parts int, opts ...gguf.WriterOption) []string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "model")
	paths, err := gguf.WriteSplit(prefix, parts, sampleValues, sampleTensors(t), opts...)
	require.NoError(t, err)
	return paths
}

func TestSplitRoundTrip(t *testing.T) {
	paths := writeSplitSample(t, 3, gguf.WithAlignment(64))
	require.Len(t, paths, 3)
	assert.Equal(t, "model-00001-of-00003.gguf", filepath.Base(paths[0]))
	assert.Equal(t, "model-00003-of-00003.gguf", filepath.Base(paths[2]))

	got, err := gguf.SplitPaths(paths[0])
	require.NoError(t, err)
	assert.Equal(t, paths, got)
	require.NoError(t, gguf.Validate(paths[0]))

	// The first part holds all metadata, the others only the split keys and
	// the alignment; each holds one tensor, in order.
	want := sampleTensors(t)
	for i, p := range paths {
		f, err := gguf.Open(p)
		require.NoError(t, err)
		no, err := f.Uint("split.no")
		require.NoError(t, err)
		assert.Equal(t, uint64(i), no)
		count, err := f.Int("split.tensors.count")
		require.NoError(t, err)
		assert.Equal(t, int64(3), count)
		assert.Equal(t, int64(64), f.Alignment())
		_, err = f.Architecture()
		assert.Equal(t, i == 0, err == nil, "part %d", i)
		tensors := f.Tensors()
		require.Len(t, tensors, 1)
		data, err := f.TensorData(tensors[0].Name)
		require.NoError(t, err)
		assert.Equal(t, want[i].Data, data)
		require.NoError(t, f.Close())
	}
}

func TestSplitPathsSingleFile(t *testing.T) {
	path := writeSample(t)
	paths, err := gguf.SplitPaths(path)
	require.NoError(t, err)
	assert.Equal(t, []string{path}, paths)
	require.NoError(t, gguf.Validate(path))

	one := writeSplitSample(t, 1)
	paths, err = gguf.SplitPaths(one[0])
	require.NoError(t, err)
	assert.Equal(t, one, paths)
}

func TestSplitMissingPart(t *testing.T) {
	paths := writeSplitSample(t, 3)
	require.NoError(t, os.Remove(paths[1]))
	for name, check := range map[string]func(string) error{
		"SplitPaths": func(p string) error { _, err := gguf.SplitPaths(p); return err },
		"Validate":   gguf.Validate,
	} {
		t.Run(name, func(t *testing.T) {
			err := check(paths[0])
			require.Error(t, err)
			assert.ErrorIs(t, err, gguf.ErrSplit)
			assert.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), paths[1]+": part 2 of 3")
		})
	}
}

func TestSplitInconsistent(t *testing.T) {
	t.Run("not the first part", func(t *testing.T) {
		paths := writeSplitSample(t, 2)
		_, err := gguf.SplitPaths(paths[1])
		assert.ErrorIs(t, err, gguf.ErrSplit)
		assert.ErrorContains(t, err, "is part 2 of 2, not the first")
	})
	t.Run("renamed first part", func(t *testing.T) {
		paths := writeSplitSample(t, 2)
		renamed := filepath.Join(filepath.Dir(paths[0]), "model.gguf")
		require.NoError(t, os.Rename(paths[0], renamed))
		_, err := gguf.SplitPaths(renamed)
		assert.ErrorIs(t, err, gguf.ErrSplit)
		assert.ErrorContains(t, err, "first of 2 parts is not named PREFIX-00001-of-00002.gguf")
	})
	t.Run("parts swapped", func(t *testing.T) {
		paths := writeSplitSample(t, 3)
		tmp := paths[1] + ".tmp"
		require.NoError(t, os.Rename(paths[1], tmp))
		require.NoError(t, os.Rename(paths[2], paths[1]))
		require.NoError(t, os.Rename(tmp, paths[2]))
		err := gguf.Validate(paths[0])
		assert.ErrorIs(t, err, gguf.ErrSplit)
		assert.ErrorContains(t, err, `key "split.no" is 2 in part 2 of 3, want 1`)
	})
	t.Run("a part from another model", func(t *testing.T) {
		paths := writeSplitSample(t, 2)
		other := writeSplitSample(t, 3)
		data, err := os.ReadFile(other[1])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(paths[1], data, 0o644))
		err = gguf.Validate(paths[0])
		assert.ErrorIs(t, err, gguf.ErrSplit)
		assert.ErrorContains(t, err, `key "split.count" is 3 in part 2, want 2`)
	})
	t.Run("a tensor in two parts", func(t *testing.T) {
		dir := t.TempDir()
		tensors := sampleTensors(t)
		tensors[2].Name = tensors[0].Name
		// The writer refuses duplicates only within one part.
		paths, err := gguf.WriteSplit(filepath.Join(dir, "model"), 3, sampleValues, tensors)
		require.NoError(t, err)
		err = gguf.Validate(paths[0])
		assert.ErrorIs(t, err, gguf.ErrSplit)
		assert.ErrorContains(t, err, `tensor "a.weight" is also in `+paths[0])
	})
	t.Run("bad part count", func(t *testing.T) {
		_, err := gguf.WriteSplit(filepath.Join(t.TempDir(), "m"), 0, nil, nil)
		assert.ErrorIs(t, err, gguf.ErrSplit)
	})
}

// TestValidateCorruptPart checks that validating a split model validates
// every part.
func TestValidateCorruptPart(t *testing.T) {
	paths := writeSplitSample(t, 3)
	data, err := os.ReadFile(paths[2])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(paths[2], data[:len(data)/2], 0o644))
	err = gguf.Validate(paths[0])
	assert.ErrorIs(t, err, gguf.ErrTruncated)
	assert.Contains(t, err.Error(), paths[2])
	_, err = gguf.SplitPaths(paths[0])
	assert.NoError(t, err, "SplitPaths only finds the parts")
}
