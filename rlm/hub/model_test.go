package hub_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
)

func TestListFiles(t *testing.T) {
	f := newFixture(t)
	f.srv.SetPageSize(3)
	files, err := f.client().ListFiles(t.Context(), modelRepo, hub.Model, "")
	require.NoError(t, err)
	var paths []string
	for _, file := range files {
		paths = append(paths, file.Path)
	}
	assert.Equal(t, []string{
		"Q8_0/tiny-Q8_0-00001-of-00002.gguf", "Q8_0/tiny-Q8_0-00002-of-00002.gguf", "README.md",
		"mmproj-tiny-F16.gguf", "tiny-BF16.gguf", "tiny-F16.gguf", "tiny-Q4_K_M.gguf",
	}, paths, "every page, files only, folders included")
	assert.Greater(t, len(f.requests("hub", "GET")), 2, "the listing came in pages")
	readme := files[2]
	assert.EqualValues(t, len(f.readme), readme.Size)
	assert.Equal(t, "3b39ab935bbbafdb35443907ab9cfbc26aa9ebfc", readme.OID)
	assert.Nil(t, readme.LFS)
	model := files[5]
	require.NotNil(t, model.LFS)
	assert.Equal(t, sha256Hex(f.model), model.LFS.SHA256)
	assert.EqualValues(t, len(f.model), model.LFS.Size)

	parquet, err := f.client().ListFiles(t.Context(), datasetRepo, hub.Dataset, "refs/convert/parquet")
	require.NoError(t, err)
	assert.Equal(t, []hub.File{{Path: "dnd/test/0000.parquet", Size: int64(len(f.parquet)), OID: parquet[0].OID,
		LFS: &hub.LFS{SHA256: sha256Hex(f.parquet), Size: int64(len(f.parquet))}}}, parquet)
}

func TestListFilesFromTheCache(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, file := range []string{"tiny-F16.gguf", "Q8_0/tiny-Q8_0-00001-of-00002.gguf"} {
		_, err := c.Download(t.Context(), modelRepo, hub.Model, "", file)
		require.NoError(t, err)
	}
	want := []hub.File{
		{Path: "Q8_0/tiny-Q8_0-00001-of-00002.gguf", Size: int64(len(f.split1))},
		{Path: "tiny-F16.gguf", Size: int64(len(f.model))},
	}
	for name, client := range map[string]*hub.Client{
		"offline":     f.client(hub.WithOffline(true)),
		"unreachable": f.client(hub.WithEndpoint("http://127.0.0.1:1")),
	} {
		t.Run(name, func(t *testing.T) {
			files, err := client.ListFiles(t.Context(), modelRepo, hub.Model, "main")
			require.NoError(t, err)
			assert.Equal(t, want, files)
		})
	}
	_, err := f.client(hub.WithOffline(true)).ListFiles(t.Context(), datasetRepo, hub.Dataset, "")
	assert.ErrorIs(t, err, hub.ErrOffline)
	assert.ErrorContains(t, err, "the file listing")
}

func TestParseModelSpec(t *testing.T) {
	tests := []struct {
		spec string
		want hub.ModelSpec
	}{
		{"hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:F16", hub.ModelSpec{Repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", Tag: "F16"}},
		{"hf://Qwen/Qwen2.5-7B-Instruct-GGUF", hub.ModelSpec{Repo: "Qwen/Qwen2.5-7B-Instruct-GGUF"}},
		{"hf://o/r@v1.0:Q4_K_M", hub.ModelSpec{Repo: "o/r", Revision: "v1.0", Tag: "Q4_K_M"}},
		{"hf://o/r/sub/model-q8_0.gguf", hub.ModelSpec{Repo: "o/r", File: "sub/model-q8_0.gguf"}},
		{"hf://o/r@0123456789abcdef0123456789abcdef01234567/m.gguf",
			hub.ModelSpec{Repo: "o/r", Revision: "0123456789abcdef0123456789abcdef01234567", File: "m.gguf"}},
		{"/models/qwen.gguf", hub.ModelSpec{Local: "/models/qwen.gguf"}},
		{"models/qwen:F16.gguf", hub.ModelSpec{Local: "models/qwen:F16.gguf"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := hub.ParseModelSpec(tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.spec, got.String())
		})
	}
	for _, bad := range []string{"", "hf://", "hf://onlyowner", "hf://o/r:", "hf://o/r/../x.gguf", "hf://o/../r", "hf://o/r@:Q4"} {
		_, err := hub.ParseModelSpec(bad)
		assert.Error(t, err, bad)
	}
}

func TestResolveModel(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	snapshot := f.cachePath("models--Qwen--Tiny-GGUF", "snapshots", f.modelCommit)
	tests := []struct {
		spec string
		want []string
	}{
		{"hf://Qwen/Tiny-GGUF:F16", []string{"tiny-F16.gguf"}},       // not tiny-BF16.gguf, listed first
		{"hf://Qwen/Tiny-GGUF:q4_k_m", []string{"tiny-Q4_K_M.gguf"}}, // any case
		{"hf://Qwen/Tiny-GGUF", []string{"tiny-Q4_K_M.gguf"}},        // the default
		{"hf://Qwen/Tiny-GGUF:BF16", []string{"tiny-BF16.gguf"}},     // not the mmproj file
		{"hf://Qwen/Tiny-GGUF:Q8_0", []string{"Q8_0/tiny-Q8_0-00001-of-00002.gguf", "Q8_0/tiny-Q8_0-00002-of-00002.gguf"}},
		{"hf://Qwen/Tiny-GGUF/Q8_0/tiny-Q8_0-00001-of-00002.gguf",
			[]string{"Q8_0/tiny-Q8_0-00001-of-00002.gguf", "Q8_0/tiny-Q8_0-00002-of-00002.gguf"}},
		{"hf://Qwen/Tiny-GGUF/tiny-F16.gguf", []string{"tiny-F16.gguf"}},
		{"hf://Qwen/Tiny-GGUF@main:F16", []string{"tiny-F16.gguf"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := c.ResolveModel(t.Context(), tt.spec)
			require.NoError(t, err)
			var want []string
			for _, p := range tt.want {
				want = append(want, filepath.Join(snapshot, filepath.FromSlash(p)))
			}
			assert.Equal(t, want, got)
			assert.Equal(t, "GGUF", string(readFile(t, got[0])[:4]))
		})
	}

	_, err := c.ResolveModel(t.Context(), "hf://Qwen/Tiny-GGUF:Q2_K")
	assert.ErrorIs(t, err, hub.ErrNoMatch)
	assert.ErrorContains(t, err, "tiny-F16.gguf", "the error lists the GGUF files there are")

	offline, err := f.client(hub.WithOffline(true)).ResolveModel(t.Context(), "hf://Qwen/Tiny-GGUF:Q8_0")
	require.NoError(t, err, "offline, the cached listing resolves the tag")
	assert.Len(t, offline, 2)

	_, err = f.client(hub.WithOffline(true), hub.WithCacheDir(t.TempDir())).ResolveModel(t.Context(), "hf://Qwen/Tiny-GGUF:F16")
	assert.ErrorIs(t, err, hub.ErrOffline)
}

func TestResolveLocalModel(t *testing.T) {
	dir := t.TempDir()
	single := filepath.Join(dir, "model.gguf")
	require.NoError(t, os.WriteFile(single, gguf("local", 10), 0o644))
	for i := 1; i <= 3; i++ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "big-0000"+string(rune('0'+i))+"-of-00003.gguf"), gguf("part", 10), 0o644))
	}
	c := hub.New(hub.WithOffline(true), hub.WithCacheDir(t.TempDir()))

	got, err := c.ResolveModel(t.Context(), single)
	require.NoError(t, err)
	assert.Equal(t, []string{single}, got)

	got, err = c.ResolveModel(t.Context(), filepath.Join(dir, "big-00001-of-00003.gguf"))
	require.NoError(t, err)
	assert.Equal(t, []string{
		filepath.Join(dir, "big-00001-of-00003.gguf"), filepath.Join(dir, "big-00002-of-00003.gguf"),
		filepath.Join(dir, "big-00003-of-00003.gguf"),
	}, got)

	require.NoError(t, os.Remove(filepath.Join(dir, "big-00003-of-00003.gguf")))
	_, err = c.ResolveModel(t.Context(), filepath.Join(dir, "big-00001-of-00003.gguf"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = c.ResolveModel(t.Context(), filepath.Join(dir, "missing.gguf"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
