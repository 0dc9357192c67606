package kernels

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The pinned sources. Version is the ollama module version in go.mod (a test
// keeps the two equal); the libraries are built from exactly that version,
// because their structures must match the llama.cpp linked into programs.
const (
	Module  = "github.com/ollama/ollama"
	Version = "v0.17.4"
)

// Revision numbers the way Build configures the libraries. It is raised
// whenever that changes (2: weights repacked for the AVX2 and AVX-512
// kernels), so that libraries built the old way, in a cache directory named
// after an older revision, are neither loaded nor taken for current.
const Revision = 2

// EnvDir names the environment variable that overrides where programs look
// for kernel libraries and where Build puts them. Its value is a directory,
// or [Linked] to run the kernels compiled into the binary.
const EnvDir = "RLM_KERNELS"

// Linked, as the value of $RLM_KERNELS, makes programs run the CPU kernels
// compiled into the binary instead of loading a library.
const Linked = "linked"

// Supported reports whether kernel libraries can be built and loaded on this
// platform: Linux on x86-64, where ggml builds one library per
// instruction-set level and scores them at run time. Elsewhere programs run
// the kernels compiled into the binary.
func Supported() bool { return runtime.GOOS == "linux" && runtime.GOARCH == "amd64" }

// CacheDir is the default home of the libraries: a directory under the
// user's cache directory ($XDG_CACHE_HOME or ~/.cache on Linux) named after
// the platform and the pinned version, shared by every clone and every
// module that uses this one, like Go's build cache.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kernels: no user cache directory (set %s to a directory): %w", EnvDir, err)
	}
	return filepath.Join(base, "go-rlm", "kernels", fmt.Sprintf("%s-%s-ollama-%s-r%d", runtime.GOOS, runtime.GOARCH, Version, Revision)), nil
}

// SearchPath returns the directories a program looks in for kernel
// libraries, in order: $RLM_KERNELS alone when it is set, else the
// executable's directory (for a program shipped with its libraries) and
// [CacheDir]. linked reports that $RLM_KERNELS asks for the kernels compiled
// into the binary.
func SearchPath() (dirs []string, linked bool) {
	if v := os.Getenv(EnvDir); v != "" {
		if v == Linked {
			return nil, true
		}
		return []string{v}, false
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if dir, err := CacheDir(); err == nil {
		dirs = append(dirs, dir)
	}
	return dirs, false
}

// Libraries lists the CPU backend libraries in dir, one per instruction-set
// level (libggml-cpu-haswell.so, ...). A missing directory has none.
func Libraries(dir string) []string {
	libs, _ := filepath.Glob(filepath.Join(dir, "libggml-cpu-*.so"))
	return libs
}

// Variant is ggml's name for a library's instruction-set level, taken from
// its file name: "haswell" for libggml-cpu-haswell.so.
func Variant(lib string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(lib), "libggml-cpu-"), ".so")
}

// ErrUnsupported is returned by Build where kernel libraries are not built
// (see [Supported]).
var ErrUnsupported = errors.New("kernels: CPU kernel libraries are built on linux/amd64 only")
