package kernels

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The libraries must be built from the sources the binary links: the pin
// here is go.mod's, and llama's cgo preamble finds the headers of a module
// that imports ours at that version.
func TestVersionIsGoModsPin(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(Module) + `\s+(\S+)`).FindSubmatch(gomod)
	require.NotNil(t, m, "go.mod requires no %s", Module)
	assert.Equal(t, string(m[1]), Version, "update kernels.Version with the pin")

	preamble, err := os.ReadFile("../../llama/llama.go")
	require.NoError(t, err)
	assert.Contains(t, string(preamble), "/ollama/ollama@"+Version+"/", "llama.go's #cgo CPPFLAGS name the pinned module's headers")
}

func TestSearchPath(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		t.Setenv(EnvDir, "")
		t.Setenv("XDG_CACHE_HOME", "/cache")
		dirs, linked := SearchPath()
		assert.False(t, linked)
		exe, err := os.Executable()
		require.NoError(t, err)
		cache, err := CacheDir()
		require.NoError(t, err)
		assert.Equal(t, []string{filepath.Dir(exe), cache}, dirs)
		assert.Equal(t, fmt.Sprintf("/cache/go-rlm/kernels/linux-amd64-ollama-%s-r%d", Version, Revision), cache)
	})
	t.Run("directory", func(t *testing.T) {
		t.Setenv(EnvDir, "/opt/kernels")
		dirs, linked := SearchPath()
		assert.False(t, linked)
		assert.Equal(t, []string{"/opt/kernels"}, dirs)
	})
	t.Run("linked", func(t *testing.T) {
		t.Setenv(EnvDir, Linked)
		dirs, linked := SearchPath()
		assert.True(t, linked)
		assert.Empty(t, dirs)
	})
}

func TestLibraries(t *testing.T) {
	dir := t.TempDir()
	assert.Empty(t, Libraries(dir))
	assert.Empty(t, Libraries(filepath.Join(dir, "missing")))

	touch := func(name string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	touch("libggml-base.so.0")
	touch("manifest.json")
	assert.Empty(t, Libraries(dir), "no CPU backend yet")
	touch("libggml-cpu-haswell.so")
	touch("libggml-cpu-icelake.so")
	assert.Equal(t, []string{filepath.Join(dir, "libggml-cpu-haswell.so"), filepath.Join(dir, "libggml-cpu-icelake.so")},
		Libraries(dir))

	assert.Equal(t, "haswell", Variant("/x/libggml-cpu-haswell.so"))
}

// A failed build says why and leaves the directory as it was.
func TestBuildFailureKeepsDirectory(t *testing.T) {
	if !Supported() {
		t.Skip("kernel libraries are not built on this platform")
	}
	if _, err := exec.LookPath("cmake"); err != nil {
		t.Skip("cmake not found")
	}
	dir := filepath.Join(t.TempDir(), "kernels")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "libggml-cpu-haswell.so"), []byte("old"), 0o644))

	err := Build(context.Background(), Options{Dir: dir, Source: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CMakeLists.txt", "cmake's own words on an empty source directory")
	b, err := os.ReadFile(filepath.Join(dir, "libggml-cpu-haswell.so"))
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no build directory left behind")
}

// A module that imports ours compiles package llama from the module cache,
// where llama.go's #cgo CPPFLAGS reach the pinned module's headers by a
// relative path: check that the path lands on them.
func TestModuleCacheHeaderPath(t *testing.T) {
	dir, err := moduleDir(context.Background())
	require.NoError(t, err)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	llamaDir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "go-rlm", "rlm@v1.0.0", "llama")

	preamble, err := os.ReadFile("../../llama/llama.go")
	require.NoError(t, err)
	includes := regexp.MustCompile(`-I\$\{SRCDIR\}/(\.\./\.\./\.\./\S+)`).FindAllStringSubmatch(string(preamble), -1)
	require.Len(t, includes, 2)
	for _, inc := range includes {
		got := filepath.Join(llamaDir, inc[1])
		assert.True(t, strings.HasPrefix(got, dir), "%s is not in %s", got, dir)
		entries, err := os.ReadDir(got)
		require.NoError(t, err)
		assert.NotEmpty(t, entries)
	}
	_, err = os.Stat(filepath.Join(llamaDir, includes[0][1], "llama.h"))
	assert.NoError(t, err)
	_, err = os.Stat(filepath.Join(llamaDir, includes[1][1], "ggml-backend.h"))
	assert.NoError(t, err)
}

// A second build for the same directory waits for the first.
func TestLockSerializes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kernels")
	unlock, err := Lock(dir)
	require.NoError(t, err)
	got := make(chan struct{})
	go func() {
		unlock2, err := Lock(dir)
		assert.NoError(t, err)
		close(got)
		unlock2()
	}()
	select {
	case <-got:
		t.Fatal("the second Lock did not wait")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the second Lock did not get the lock after the first was released")
	}
}
