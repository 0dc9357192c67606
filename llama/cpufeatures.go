package llama

import (
	"log/slog"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/cpu"
)

// MissingCPUFeatures lists vector extensions this CPU has but the linked
// llama.cpp was compiled without. cgo compiles C with the default
// CGO_CFLAGS (-O2 -g), which leaves ggml's CPU kernels without AVX2, F16C
// and FMA: several times slower (30x on F16 prompts here). Build with
// CGO_CFLAGS="-O3 -march=native" and the same CGO_CXXFLAGS, as the Makefile
// does, to make this list empty.
func MissingCPUFeatures() []string {
	if runtime.GOARCH != "amd64" {
		return nil
	}
	info := SystemInfo()
	var missing []string
	for _, f := range []struct {
		name string
		has  bool
	}{{"AVX", cpu.X86.HasAVX}, {"AVX2", cpu.X86.HasAVX2}, {"FMA", cpu.X86.HasFMA}} {
		if f.has && !strings.Contains(info, f.name+" = 1") {
			missing = append(missing, f.name)
		}
	}
	return missing
}

// warnUnoptimizedBuild says once, on slog's default logger, when llama.cpp
// runs far below this CPU's speed because of how it was compiled.
var warnUnoptimizedBuild = sync.OnceFunc(func() {
	if missing := MissingCPUFeatures(); len(missing) > 0 {
		slog.Warn("llama: llama.cpp was compiled without this CPU's "+strings.Join(missing, ", ")+
			": inference runs several times slower; rebuild with CGO_CFLAGS=\"-O3 -march=native\" CGO_CXXFLAGS=\"-O3 -march=native\" (make does)",
			"missing", missing)
	}
})
