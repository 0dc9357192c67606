package llama

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Model is a loaded GGUF model: weights, vocabulary and metadata. Create one
// with [LoadModel] and release it with [Model.Close] after closing every
// [Context] and [Sampler] made from it. A Model is safe for concurrent use:
// contexts made from it may run in different goroutines.
type Model struct {
	mu    sync.RWMutex // readers hold it while they use c; Close frees c under it
	c     *C.struct_llama_model
	vocab *C.struct_llama_vocab
	path  string

	// The open handles that point into the model; Close refuses while any
	// is open. A count goes up under mu's read lock (so Close, which takes
	// the write lock, sees it) and down only after the handle's C object is
	// freed.
	contexts, samplers atomic.Int64

	// chatTemplate overrides the model's own template when set by
	// WithChatTemplate.
	chatTemplate string
	// chat renders conversations with the template, made once
	// (template.go).
	chat struct {
		once     sync.Once
		renderer *chatRenderer
		err      error
	}
	// controls are the vocabulary's control tokens, found once (chat.go).
	controls struct {
		once   sync.Once
		tokens []controlToken
	}
	// leak reports a Model dropped without Close (see leakf).
	leak runtime.Cleanup
}

// ModelOption configures [LoadModel].
type ModelOption func(*modelConfig)

type modelConfig struct {
	gpuLayers    *int
	devices      []string
	mainGPU      *int
	splitMode    *SplitMode
	mmap, mlock  *bool
	vocabOnly    bool
	progress     func(float32) bool
	chatTemplate string
	slowKernels  bool // see WithSlowKernels (kernels.go)
}

// SplitMode says how a model spreads over several GPUs.
type SplitMode int

const (
	// SplitNone keeps the whole model on one device (see WithMainGPU).
	SplitNone SplitMode = iota
	// SplitLayer spreads layers and KV cache over the devices (llama.cpp's
	// default).
	SplitLayer
	// SplitRow splits tensors by rows where the backend supports it.
	SplitRow
)

func (m SplitMode) String() string {
	switch m {
	case SplitNone:
		return "none"
	case SplitLayer:
		return "layer"
	case SplitRow:
		return "row"
	}
	return "SplitMode(" + strconv.Itoa(int(m)) + ")"
}

// WithGPULayers sets how many layers to offload to GPUs. Default: all of
// them when a GPU backend is loaded (llama.cpp's default, 999); ignored on
// CPU-only builds. Use 0 to keep everything on the CPU.
func WithGPULayers(n int) ModelOption { return func(c *modelConfig) { c.gpuLayers = &n } }

// WithDevices pins the model to the named devices (see [Devices]), in order:
// WithDevices("CUDA1") puts the whole model on the second GPU. Default: all
// available devices.
func WithDevices(names ...string) ModelOption {
	return func(c *modelConfig) { c.devices = append([]string(nil), names...) }
}

// WithMainGPU keeps the whole model on GPU i, the other way to pin a model:
// it sets the split mode to SplitNone. Default: GPU 0 with SplitLayer.
func WithMainGPU(i int) ModelOption {
	return func(c *modelConfig) {
		c.mainGPU = &i
		none := SplitNone
		c.splitMode = &none
	}
}

// WithSplitMode sets how the model spreads across GPUs. Default SplitLayer.
func WithSplitMode(m SplitMode) ModelOption { return func(c *modelConfig) { c.splitMode = &m } }

// WithMmap maps the file instead of reading it. Default true where supported.
func WithMmap(on bool) ModelOption { return func(c *modelConfig) { c.mmap = &on } }

// WithMlock locks the weights in RAM. Default false.
func WithMlock(on bool) ModelOption { return func(c *modelConfig) { c.mlock = &on } }

// WithVocabOnly loads the vocabulary and metadata without the weights, for
// tokenizing. Such a model cannot make contexts. Default false.
func WithVocabOnly() ModelOption { return func(c *modelConfig) { c.vocabOnly = true } }

// WithProgress calls fn with the fraction loaded, from 0 to 1. Returning
// false cancels the load, which then fails with [context.Canceled].
func WithProgress(fn func(fraction float32) bool) ModelOption {
	return func(c *modelConfig) { c.progress = fn }
}

// WithChatTemplate sets the chat template used by [Model.ApplyChatTemplate],
// [Model.TokenizeChat] and [Chat] prompts instead of the model's own: a
// Jinja template, or the name of one of llama.cpp's built-in templates
// ([ChatML], "llama3", ...), which llama.cpp renders itself. Default: the
// model's.
func WithChatTemplate(tmpl string) ModelOption {
	return func(c *modelConfig) { c.chatTemplate = tmpl }
}

// LoadModel loads the GGUF model at path. For a model split into several
// files (name-00001-of-00003.gguf), give the first part. The file, and every
// part of a split model, is checked by a pure-Go reader before llama.cpp sees
// it, so a corrupt or truncated file is an error, never a crash. Cancelling
// ctx stops the load.
func LoadModel(ctx context.Context, path string, opts ...ModelOption) (*Model, error) {
	var cfg modelConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "load model " + path, Err: err}
	}
	if err := validateModelFile(path); err != nil {
		return nil, &Error{Op: "load model", Err: err}
	}
	initBackend()
	if err := checkKernels(CPUKernels(), cfg.slowKernels || cfg.vocabOnly); err != nil {
		return nil, &Error{Op: "load model " + path, Err: err}
	}

	params := C.llama_model_default_params()
	if cfg.gpuLayers != nil {
		params.n_gpu_layers = C.int32_t(*cfg.gpuLayers)
	}
	if cfg.mainGPU != nil {
		params.main_gpu = C.int32_t(*cfg.mainGPU)
	}
	if cfg.splitMode != nil {
		params.split_mode = C.enum_llama_split_mode(*cfg.splitMode)
	}
	if cfg.mmap != nil {
		params.use_mmap = C.bool(*cfg.mmap)
	}
	if cfg.mlock != nil {
		params.use_mlock = C.bool(*cfg.mlock)
	}
	params.vocab_only = C.bool(cfg.vocabOnly)

	if len(cfg.devices) > 0 {
		devs, err := deviceList(cfg.devices)
		if err != nil {
			return nil, &Error{Op: "load model " + path, Err: err}
		}
		defer C.free(unsafe.Pointer(devs))
		params.devices = devs
	}

	// The progress callback doubles as the cancellation point: llama.cpp
	// calls it while reading tensors and stops when it returns false.
	progress := &loadProgress{ctx: ctx, fn: cfg.progress}
	h := cgo.NewHandle(progress)
	defer h.Delete()
	C.rlm_set_progress(&params, C.uintptr_t(h))

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cm *C.struct_llama_model
	log := logged(func() { cm = C.llama_model_load_from_file(cpath, params) })
	if err := cmp.Or(progress.panicked, log.err()); err != nil {
		if cm != nil {
			C.llama_model_free(cm)
		}
		return nil, &Error{Op: "load model " + path, Err: err}
	}
	if cm == nil {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Op: "load model " + path, Err: err}
		}
		if progress.canceled {
			return nil, &Error{Op: "load model " + path, Err: context.Canceled}
		}
		return nil, &Error{Op: "load model " + path, Detail: log.detail()}
	}
	m := &Model{c: cm, vocab: C.llama_model_get_vocab(cm), path: path, chatTemplate: cfg.chatTemplate}
	m.leak = runtime.AddCleanup(m, func(path string) { leakf("Model %s was not closed", path) }, path)
	return m, nil
}

type loadProgress struct {
	ctx      context.Context
	fn       func(float32) bool
	canceled bool
	panicked error
}

//export goLoadProgress
func goLoadProgress(h C.uintptr_t, fraction C.float) (keepGoing C.bool) {
	p := cgo.Handle(h).Value().(*loadProgress)
	defer func() {
		// A panicking callback must not unwind through llama.cpp's C++
		// frames: it stops the load, which fails with the panic.
		if r := recover(); r != nil {
			p.panicked = fmt.Errorf("progress callback panicked: %v", r)
			keepGoing = false
		}
	}()
	if p.ctx.Err() != nil {
		p.canceled = true
		return false
	}
	if p.fn != nil && !p.fn(float32(fraction)) {
		p.canceled = true
		return false
	}
	return true
}

// Close frees the model. Close every Context and Sampler made from it
// first: Close refuses, with an error, while any is open. Close is safe to
// call more than once, on a nil Model, and concurrently with other methods
// (it waits for them to finish with the model).
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return nil
	}
	if n, s := m.contexts.Load(), m.samplers.Load(); n > 0 || s > 0 {
		return &Error{Op: "close model", Err: fmt.Errorf("%d contexts and %d samplers still open: close them first", n, s)}
	}
	C.llama_model_free(m.c)
	// The weights and their bookkeeping are large and freed all at once;
	// hand the pages back instead of leaving a hole in the heap that small
	// allocations made meanwhile would pin.
	C.rlm_release_free_memory()
	m.c = nil
	m.vocab = nil
	m.leak.Stop()
	return nil
}

// use runs fn with the model's C pointer under the read lock, or returns
// an error wrapping ErrClosed.
func (m *Model) use(op string, fn func(*C.struct_llama_model) error) error {
	if m == nil {
		return &Error{Op: op, Err: ErrClosed}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return &Error{Op: op, Err: ErrClosed}
	}
	if err := fn(m.c); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return &Error{Op: op, Err: err}
	}
	return nil
}

// Path is the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// Info is a model's shape and provenance, read once from llama.cpp.
type Info struct {
	Architecture    string // general.architecture, e.g. "qwen2"
	Name            string // general.name, if set
	Description     string // llama.cpp's one-line description, e.g. "qwen2 7B F16"
	Layers          int
	EmbeddingSize   int
	Heads           int
	KVHeads         int
	VocabSize       int
	TrainContext    int    // context length the model was trained with
	Params          uint64 // number of parameters
	SizeBytes       uint64 // bytes of all tensors
	FileType        string // quantization, e.g. "MOSTLY_Q4_K_M", "MOSTLY_F16"
	HasChatTemplate bool
}

// Info returns the model's metadata.
func (m *Model) Info() (Info, error) {
	var info Info
	err := m.use("model info", func(c *C.struct_llama_model) error {
		info.Architecture, _ = metaString(c, "general.architecture")
		info.Name, _ = metaString(c, "general.name")
		buf := make([]byte, 256)
		n := C.llama_model_desc(c, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		if n > 0 {
			info.Description = string(buf[:min(int(n), len(buf)-1)])
		}
		info.Layers = int(C.llama_model_n_layer(c))
		info.EmbeddingSize = int(C.llama_model_n_embd(c))
		info.Heads = int(C.llama_model_n_head(c))
		info.KVHeads = int(C.llama_model_n_head_kv(c))
		info.VocabSize = int(C.llama_vocab_n_tokens(C.llama_model_get_vocab(c)))
		info.TrainContext = int(C.llama_model_n_ctx_train(c))
		info.Params = uint64(C.llama_model_n_params(c))
		info.SizeBytes = uint64(C.llama_model_size(c))
		if ft, ok := metaString(c, "general.file_type"); ok {
			info.FileType = fileTypeName(ft)
		}
		info.HasChatTemplate = C.llama_model_chat_template(c, nil) != nil
		return nil
	})
	return info, err
}

// Meta returns the metadata value of key as text, as llama.cpp renders
// scalars; a missing key gives an error wrapping [ErrNoMetadata]. Arrays are
// not available this way; read them with the gguf package.
func (m *Model) Meta(key string) (string, error) {
	var value string
	err := m.use("model meta", func(c *C.struct_llama_model) error {
		v, ok := metaString(c, key)
		if !ok {
			return fmt.Errorf("%w: %q", ErrNoMetadata, key)
		}
		value = v
		return nil
	})
	return value, err
}

// MetaKeys lists the model's scalar metadata keys in file order.
func (m *Model) MetaKeys() ([]string, error) {
	var keys []string
	err := m.use("model meta keys", func(c *C.struct_llama_model) error {
		n := int(C.llama_model_meta_count(c))
		buf := make([]byte, 512)
		for i := 0; i < n; i++ {
			k := C.llama_model_meta_key_by_index(c, C.int32_t(i), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
			if k >= 0 {
				keys = append(keys, string(buf[:min(int(k), len(buf)-1)]))
			}
		}
		return nil
	})
	return keys, err
}

// ChatTemplate returns the template the chat methods use: the one given
// with WithChatTemplate, else the model's own. A model without one gives an
// error wrapping [ErrNoChatTemplate].
func (m *Model) ChatTemplate() (string, error) {
	var tmpl string
	err := m.use("chat template", func(c *C.struct_llama_model) error {
		tmpl = cmp.Or(m.chatTemplate, modelChatTemplate(c))
		if tmpl == "" {
			return ErrNoChatTemplate
		}
		return nil
	})
	return tmpl, err
}

func metaString(c *C.struct_llama_model, key string) (string, bool) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	n := C.llama_model_meta_val_str(c, ckey, nil, 0)
	if n < 0 {
		return "", false
	}
	buf := make([]byte, int(n)+1)
	C.llama_model_meta_val_str(c, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return string(buf[:n]), true
}

// leakf reports a handle that became unreachable without Close, found by
// its cleanup (runtime.AddCleanup). Cleanups only report leaks; they never
// free C memory behind the owner's back, which may still be in use by
// another handle (a leaked Context keeps its Model's weights in use).
func leakf(format string, args ...any) {
	if l := logger.Load(); l != nil {
		l.Warn(fmt.Sprintf("llama: "+format, args...))
	}
}

var errVocabOnly = errors.New("model was loaded with WithVocabOnly")
