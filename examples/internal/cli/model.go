package cli

import (
	"context"
	"flag"
	"runtime"

	"github.com/go-rlm/rlm/llama"
)

// ModelFlags are the flags of a command that runs a GGUF model: -model,
// -threads and -ngl.
type ModelFlags struct {
	// Path is -model, the GGUF file (required: check it with [Required]).
	Path string
	// Threads is -threads, the CPU threads. Default: every CPU.
	Threads int
	// GPULayers is -ngl, the layers offloaded to the GPU. Default 0.
	GPULayers int
}

// Register defines the flags on fs.
func (f *ModelFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Path, "model", "", "GGUF model file (required)")
	fs.IntVar(&f.Threads, "threads", runtime.NumCPU(), "CPU threads")
	fs.IntVar(&f.GPULayers, "ngl", 0, "layers to offload to the GPU")
}

// Load loads the model, offloading the layers -ngl asks for.
func (f *ModelFlags) Load(ctx context.Context) (*llama.Model, error) {
	return llama.LoadModel(ctx, f.Path, llama.WithGPULayers(f.GPULayers))
}

// NewContext makes a context on m that runs on -threads threads, with the
// further options opts.
func (f *ModelFlags) NewContext(m *llama.Model, opts ...llama.ContextOption) (*llama.Context, error) {
	return m.NewContext(append([]llama.ContextOption{llama.WithThreads(f.Threads, f.Threads)}, opts...)...)
}
