package llama

// #cgo linux LDFLAGS: -ldl
// #include <stdlib.h>
// #include "bridge.h"
// #include "kernels.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/go-rlm/rlm/internal/kernels"
)

// Kernels describes the CPU kernels llama.cpp computes with in this process.
type Kernels struct {
	// Library is the ggml CPU backend library the kernels were loaded from,
	// or "" when they are the ones compiled into the binary.
	Library string
	// Variant is the library's instruction-set level as ggml names it
	// ("haswell", "skylakex", "icelake", ...); "" for the linked-in kernels.
	Variant string
	// Features lists what the kernels were compiled to use, as ggml reports
	// it: "AVX", "AVX2", "F16C", "FMA", "AVX512", ..., and "OPENMP" when
	// their threads meet at OpenMP's barriers.
	Features []string
	// Missing lists the vector extensions among AVX, AVX2, F16C and FMA that
	// this CPU has and the kernels lack. Without them ggml's matrix kernels
	// run 30x slower on F16 weights, so [LoadModel] refuses such kernels
	// unless told otherwise (see [ErrSlowKernels]).
	Missing []string
	// Searched lists the directories looked in for libraries, and Problems
	// what went wrong there (a library that failed to load, say).
	Searched, Problems []string
}

// fullSpeed are the extensions whose absence makes ggml's CPU kernels
// several times slower, by ggml's feature names.
var fullSpeed = []struct {
	name string
	has  *bool
}{
	{"AVX", &cpu.X86.HasAVX}, {"AVX2", &cpu.X86.HasAVX2}, {"FMA", &cpu.X86.HasFMA},
	// x/sys/cpu does not report F16C; every CPU with AVX2 has it.
	{"F16C", &cpu.X86.HasAVX2},
}

// EnvSlowKernels names the environment variable that, set to 1, lets
// [LoadModel] run on CPU kernels that lack this CPU's vector extensions, as
// [WithSlowKernels] does.
const EnvSlowKernels = "RLM_SLOW_KERNELS"

// ErrSlowKernels is wrapped by the error [LoadModel] returns when the CPU
// kernels lack vector extensions this CPU has (see [Kernels.Missing]): the
// binary was compiled with cgo's default flags and no kernel library was
// found. `go run github.com/go-rlm/rlm/cmd/rlm-kernels` builds the libraries
// once per machine; [WithSlowKernels] or RLM_SLOW_KERNELS=1 accepts the
// slow kernels instead.
var ErrSlowKernels = errors.New("slow CPU kernels")

var cpuKernels Kernels

// CPUKernels reports which CPU kernels this process runs: the library chosen
// when the package started, or the kernels compiled into the binary.
func CPUKernels() Kernels {
	initBackend()
	k := cpuKernels
	k.Features = slices.Clone(k.Features)
	k.Missing = slices.Clone(k.Missing)
	k.Searched = slices.Clone(k.Searched)
	k.Problems = slices.Clone(k.Problems)
	return k
}

// MissingCPUFeatures lists vector extensions this CPU has but the CPU
// kernels in use lack ([Kernels.Missing]).
func MissingCPUFeatures() []string { return CPUKernels().Missing }

// selectKernels chooses the CPU kernels, once, before llama.cpp touches the
// CPU backend: the best-scoring ggml CPU library in the first directory of
// the search path that has one (see package internal/kernels), else the
// kernels linked into the binary.
func selectKernels() {
	k := &cpuKernels
	dirs, linked := kernels.SearchPath()
	if kernels.Supported() && !linked {
		k.Searched = dirs
		defer setOpenMPDefaults()()
		for _, dir := range dirs {
			if lib := bestLibrary(dir, &k.Problems); lib != "" && useLibrary(lib, &k.Problems) {
				k.Library, k.Variant = lib, kernels.Variant(lib)
				break
			}
		}
	}
	if reg := C.rlm_kernels_cpu_reg(); reg != nil {
		for f := C.rlm_kernels_features(reg); f != nil && f.name != nil; f = (*C.struct_ggml_backend_feature)(unsafe.Add(unsafe.Pointer(f), unsafe.Sizeof(*f))) {
			k.Features = append(k.Features, C.GoString(f.name))
		}
	}
	if runtime.GOARCH == "amd64" {
		for _, f := range fullSpeed {
			if *f.has && !slices.Contains(k.Features, f.name) {
				k.Missing = append(k.Missing, f.name)
			}
		}
	}
}

// OpenMPSpinCount is how many times the kernels' threads poll at a barrier
// before they sleep, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT say otherwise:
// GNU OpenMP's GOMP_SPINCOUNT, which its runtime reads when the first kernel
// library loads it. Its own default, 300000, keeps a waiting thread busy for
// several milliseconds; with more threads than free cores (another process,
// both models of an RLM busy at once) that starves the very threads it waits
// for. 1000 polls (tens of microseconds) cover the wait for a peer that is
// running, and leave the core to others otherwise (see third_party/README.md
// for the measurements).
const OpenMPSpinCount = 1000

// setOpenMPDefaults sets GOMP_SPINCOUNT for the OpenMP runtime about to load,
// when the user chose no wait policy, and returns the function that takes
// it out of the environment again, so that child processes do not inherit
// it.
func setOpenMPDefaults() (restore func()) {
	if os.Getenv("OMP_WAIT_POLICY") != "" || os.Getenv("GOMP_SPINCOUNT") != "" {
		return func() {}
	}
	os.Setenv("GOMP_SPINCOUNT", strconv.Itoa(OpenMPSpinCount))
	return func() { os.Unsetenv("GOMP_SPINCOUNT") }
}

// bestLibrary returns the library in dir that ggml scores highest for this
// CPU, or "" when dir has none this CPU can run.
func bestLibrary(dir string, problems *[]string) string {
	best, bestScore := "", 0
	for _, lib := range kernels.Libraries(dir) {
		clib := C.CString(lib)
		var msg [512]C.char
		score := int(C.rlm_kernels_score(clib, &msg[0], C.size_t(len(msg))))
		C.free(unsafe.Pointer(clib))
		if score < 0 {
			*problems = append(*problems, C.GoString(&msg[0]))
		} else if score > bestScore {
			best, bestScore = lib, score
		}
	}
	return best
}

// useLibrary loads lib in place of the linked-in CPU backend and reports
// whether it did. The library was opened once already (for its score), so a
// failure here is ggml refusing it, whose reason goes to the log.
func useLibrary(lib string, problems *[]string) bool {
	clib := C.CString(lib)
	defer C.free(unsafe.Pointer(clib))
	if C.rlm_kernels_use(clib, C.ggml_log_callback(C.rlm_log_callback)) == nil {
		*problems = append(*problems, lib+": ggml_backend_load refused it (built from other sources?)")
		return false
	}
	return true
}

// checkKernels returns an error wrapping [ErrSlowKernels] when kernels k
// lack this CPU's vector extensions and slow kernels were not accepted.
func checkKernels(k Kernels, acceptSlow bool) error {
	if len(k.Missing) == 0 || acceptSlow || os.Getenv(EnvSlowKernels) == "1" {
		return nil
	}
	why := "no kernel library was found"
	if len(k.Searched) > 0 {
		why += " in " + strings.Join(k.Searched, ", ")
	}
	if len(k.Problems) > 0 {
		why += " (" + strings.Join(k.Problems, "; ") + ")"
	}
	if _, linked := kernels.SearchPath(); linked {
		why = kernels.EnvDir + "=" + kernels.Linked + " asks for them"
	}
	return fmt.Errorf("%w: the kernels compiled into this binary lack %s, which this CPU has (inference would run up to 30x slower), and %s. "+
		"Build the kernels once per machine with `go run github.com/go-rlm/rlm/cmd/rlm-kernels` (in a clone: make kernels), "+
		"or accept slow kernels with %s=1 or llama.WithSlowKernels()",
		ErrSlowKernels, strings.Join(k.Missing, ", "), why, EnvSlowKernels)
}

// WithSlowKernels lets [LoadModel] run on CPU kernels that lack this CPU's
// vector extensions (see [ErrSlowKernels]), where it would otherwise refuse.
// Default false. A model that loads only its vocabulary never needs fast
// kernels.
func WithSlowKernels() ModelOption { return func(c *modelConfig) { c.slowKernels = true } }

// String describes the kernels in one line, as the example programs report
// them: "icelake (SSE3 SSSE3 AVX ...)", "linked-in (...) missing AVX2, FMA".
func (k Kernels) String() string {
	s := "linked-in"
	if k.Library != "" {
		s = k.Variant
		if s == "" {
			s = k.Library
		}
	}
	s += " (" + strings.Join(k.Features, " ") + ")"
	if len(k.Missing) > 0 {
		s += " missing " + strings.Join(k.Missing, ", ")
	}
	return s
}
