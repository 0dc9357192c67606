package kernels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Options configures [Build]. The zero value builds every variant into
// [CacheDir] from the pinned module.
type Options struct {
	// Dir is where the libraries go. Default: $RLM_KERNELS when it names a
	// directory, else CacheDir().
	Dir string
	// Source is the pinned ollama module's directory. Default: where
	// `go mod download` puts Module@Version.
	Source string
	// Variants are the instruction-set levels to build, by ggml's names
	// ("haswell", "skylakex", ...). Default: all of them, so that a binary
	// runs at full speed on any x86-64 machine that reads the directory
	// (the nodes of a cluster, say).
	Variants []string
	// Jobs is the number of compilers run at once. Default: every CPU.
	Jobs int
	// Log receives cmake's output. Default: discarded.
	Log io.Writer
}

// Build compiles ggml-base and ggml's CPU backend variants with CMake, from
// the pinned module's own CMake project (the one that builds ollama's CPU
// runners), with OpenMP threads, and installs the libraries into o.Dir. It
// replaces the directory's contents only once everything built.
func Build(ctx context.Context, o Options) error {
	if !Supported() {
		return ErrUnsupported
	}
	if o.Dir == "" {
		if v := os.Getenv(EnvDir); v != "" && v != Linked {
			o.Dir = v
		} else {
			dir, err := CacheDir()
			if err != nil {
				return err
			}
			o.Dir = dir
		}
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, tool := range []string{"cmake", "cc", "c++"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("kernels: %s not found: install CMake and a C/C++ compiler (Debian/Ubuntu: apt-get install cmake g++)", tool)
		}
	}
	if o.Source == "" {
		src, err := moduleDir(ctx)
		if err != nil {
			return err
		}
		o.Source = src
	}
	if err := os.MkdirAll(filepath.Dir(o.Dir), 0o755); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	work, err := os.MkdirTemp(filepath.Dir(o.Dir), ".build-")
	if err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	defer os.RemoveAll(work)

	build := filepath.Join(work, "cmake")
	configure := []string{"-S", o.Source, "-B", build,
		"-DCMAKE_BUILD_TYPE=Release",
		// OpenMP's barriers spin for a while and then sleep, where ggml's
		// own spin until the operating system preempts them: with more
		// threads than free cores, that is the difference between a slowdown
		// and a standstill.
		"-DGGML_OPENMP=ON",
		// Weights of some quantized types (Q4_0, Q4_K, IQ4_NL, Q8_0) are
		// repacked at load into interleaved blocks that the AVX2 and AVX-512
		// matrix kernels read in one pass, as llama.cpp's own builds do:
		// ggml's CMake option defaults to ON, but ollama's project, which
		// builds here, never defines it.
		"-DGGML_CPU_REPACK=ON",
		"-DGGML_CCACHE=OFF",
		// The libraries find each other in their own directory.
		"-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON",
	}
	if err := run(ctx, o.Log, "cmake", configure...); err != nil {
		return err
	}
	// The project's ggml-cpu target depends on every variant it defines.
	targets := []string{"ggml-base"}
	if len(o.Variants) == 0 {
		targets = append(targets, "ggml-cpu")
	}
	for _, v := range o.Variants {
		targets = append(targets, "ggml-cpu-"+v)
	}
	args := []string{"--build", build, "--parallel", strconv.Itoa(o.Jobs), "--target"}
	if err := run(ctx, o.Log, "cmake", append(args, targets...)...); err != nil {
		return err
	}

	out := filepath.Join(work, "lib")
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	built := filepath.Join(build, "lib", "ollama")
	// Programs load the variants; the variants load libggml-base by its
	// soname.
	files := []string{"libggml-base.so.0"}
	libs := Libraries(built)
	if len(libs) == 0 {
		return fmt.Errorf("kernels: cmake built no CPU backend library in %s", built)
	}
	for _, lib := range libs {
		files = append(files, filepath.Base(lib))
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(built, f), filepath.Join(out, f)); err != nil {
			return err
		}
	}
	if err := writeManifest(out, o, libs); err != nil {
		return err
	}
	// Swap the new directory in; a program that starts meanwhile sees the
	// old set or the new one, never half of one.
	old := filepath.Join(work, "old")
	if err := os.Rename(o.Dir, old); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("kernels: %w", err)
	}
	if err := os.Rename(out, o.Dir); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	return nil
}

// Manifest is what Build records in the directory (manifest.json): what the
// libraries were built from, for people and for tools that check.
type Manifest struct {
	Module   string   `json:"module"`
	Version  string   `json:"version"`
	Revision int      `json:"revision"` // of Build's configuration
	Variants []string `json:"variants"`
	Compiler string   `json:"compiler"`
}

// ManifestFile is the manifest's name in a kernel directory.
const ManifestFile = "manifest.json"

func writeManifest(dir string, o Options, libs []string) error {
	m := Manifest{Module: Module, Version: Version, Revision: Revision}
	for _, lib := range libs {
		m.Variants = append(m.Variants, Variant(lib))
	}
	if v, err := exec.Command("cc", "--version").Output(); err == nil {
		m.Compiler, _, _ = strings.Cut(string(v), "\n")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// ReadManifest reads the manifest of a kernel directory.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// moduleDir returns the pinned module's directory, downloading it into the
// module cache when it is not there yet.
func moduleDir(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("kernels: go mod download %s@%s: %s", Module, Version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("kernels: go mod download %s@%s: %w: %s", Module, Version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("kernels: go mod download %s@%s gave no directory", Module, Version)
	}
	return info.Dir, nil
}

func run(ctx context.Context, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kernels: %s: %w", name, ctx.Err())
		}
		return fmt.Errorf("kernels: %s %s: %w\n%s", name, strings.Join(args, " "), err, tail.String())
	}
	return nil
}

// tailBuffer keeps the last few KB written to it: enough of a compiler's
// output to say why it failed.
type tailBuffer struct{ b []byte }

const tailSize = 4096

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailSize {
		t.b = t.b[len(t.b)-tailSize:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	return nil
}
