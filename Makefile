# rlm: the two commands a newcomer needs are `make run` (the main job) and
# `make test` (the whole test suite). Each installs or builds what it needs.

GO ?= go
# The flags llama.cpp's own code is compiled with. ggml's CPU kernels come
# from the libraries `make kernels` builds, whatever these say; they matter
# for the kernels compiled into the binary only when those run instead
# (RLM_KERNELS=linked). Override for portable binaries: CGO_CFLAGS=-O2.
CGO_CFLAGS ?= -O3 -march=native
CGO_CXXFLAGS ?= -O3 -march=native
export CGO_ENABLED = 1
export CGO_CFLAGS
export CGO_CXXFLAGS

OLLAMA_MODULE := github.com/ollama/ollama
HEADERS := third_party/include
# Where generated models and downloads for `make run` and `make bench` go.
WORK ?= $(CURDIR)/.work
TEST_TIMEOUT ?= 60m
BENCH ?= .
BENCHTIME ?= 5x

.PHONY: all deps build-deps headers build vet test bench peer peer-shapes run cuda clean

all: build

# deps installs the system packages the build and the tests need when they
# are missing (Debian/Ubuntu): a C/C++ toolchain for cgo, Python 3 for the
# REPL, Node.js/npm for the independent Parquet reader, Chromium for the
# trajectory page test, SLURM and MUNGE for the test that runs the
# evaluation's job scripts. Tests that need an optional tool skip cleanly
# without it, so a failed optional install is not fatal.
deps:
	@./third_party/deps.sh

# build-deps installs only what building and running need (for make run).
build-deps:
	@./third_party/deps.sh --required

.PHONY: setup kernels

# setup is what a clone needs once before `go build`, `go run` and `go test`
# work at full speed without make: the headers, and the CPU kernels.
setup: deps headers kernels

headers: $(HEADERS)/.staged

# Copy llama.cpp's and ggml's public headers out of the pinned module so that
# our cgo code can include them. Depends on go.mod: moving the pin restages.
$(HEADERS)/.staged: go.mod
	@set -e; $(GO) mod download $(OLLAMA_MODULE); \
	dir=$$($(GO) list -m -f '{{.Dir}}' $(OLLAMA_MODULE)); \
	rm -rf $(HEADERS); mkdir -p $(HEADERS); \
	cp $$dir/llama/llama.cpp/include/llama.h $(HEADERS)/; \
	cp $$dir/ml/backend/ggml/ggml/include/*.h $(HEADERS)/; \
	chmod u+w $(HEADERS)/*.h; touch $@; \
	echo "staged llama.cpp headers from $$dir into $(HEADERS)"

# kernels builds llama.cpp's CPU kernels once per machine (ggml's CPU backend
# for each x86-64 instruction-set level, from the pinned sources, with CMake)
# into the user's cache directory, where every program that uses package
# llama finds them, however it was built. A no-op when they are there.
kernels:
	@$(GO) run ./cmd/rlm-kernels

build: headers kernels
	$(GO) build ./...

vet: headers
	$(GO) vet ./...

# The whole suite runs under the race detector: the C code of llama.cpp is
# not instrumented, so it compiles once more for -race (a few minutes, then
# cached) but runs at full speed, while every Go path that crosses into C
# (hooks, callbacks, several contexts in several goroutines) is checked.
test: deps headers kernels
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || \
	  { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# Benchmarks run without the race detector. RLM_BENCH_MODEL=path.gguf
# measures a model of your own; RLM_BENCH_THREADS sets the threads.
bench: headers kernels
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) ./...

# peer compares our binding with node-llama-cpp (prebuilt llama.cpp) on the
# same GGUF: identical greedy text, and prompt throughput side by side.
# PEER_MODEL=path.gguf uses your model (throughput only).
peer: headers kernels
	./third_party/peers/node-llama-cpp/run.sh $(PEER_MODEL)

# peer-shapes compares with node-llama-cpp on shape-true Qwen2.5 models with
# random weights and Qwen's real tokenizer: the laptop preset's worker
# (0.5B shape, F16) and controller (1.5B shape, Q4_K_M), written once into
# $(WORK)/qwen (about 2 GB): prefill, decode in 1 and 8 sequences, memory.
peer-shapes: headers kernels
	./third_party/peers/node-llama-cpp/shapes.sh

# run evaluates a Recursive Language Model on OOLONG-real and prints where
# the summary and the plot are. PRESET=laptop (the default) downloads small
# models that run on a laptop's CPU: a Qwen2.5-Coder-1.5B-Instruct Q4_K_M
# controller and a Qwen2.5-0.5B-Instruct FP16 worker, about 1 GB each.
# PRESET=reference runs Qwen2.5-Coder-14B-Instruct Q4_K_M on GPU 0 and
# Qwen2.5-7B-Instruct FP16 on GPU 1 (build the CUDA backend with `make cuda`
# first; it is loaded when present). The default RUN_ARGS evaluate the
# first 5 toy_dnd examples of the official evaluation's selection (windows
# of 1024 < tokens <= 131072 of the worker's tokenizer, sorted by
# context_window_id): a smoke test, not comparable with published numbers.
# RUN_ARGS="-config dnd -baseline" runs the whole official selection of the
# test split, the one comparable with OOLONG's paper; add
# -max-context-tokens 0 for every window, up to 1.3M tokens. Results go to
# $(WORK)/evaluate-$(PRESET); running it again resumes there. Offline it
# stops at once with the Hub's message. See examples/evaluate/README.md.
PRESET ?= laptop
RUN_ARGS ?= -config toy_dnd -n 5
CUDA_LIB := third_party/lib/libggml-cuda.so

run: build-deps headers kernels
	@mkdir -p $(WORK)/bin
	$(GO) build -o $(WORK)/bin/evaluate ./examples/evaluate
	$(WORK)/bin/evaluate -preset $(PRESET) $(if $(wildcard $(CUDA_LIB)),-cuda-lib $(CUDA_LIB)) $(RUN_ARGS) -out $(WORK)/evaluate-$(PRESET)

# cuda builds ggml's CUDA backend as a loadable library from the pinned
# sources, for llama.LoadBackend("third_party/lib/libggml-cuda.so").
cuda: headers
	@./third_party/build-cuda.sh

clean:
	rm -rf $(HEADERS) third_party/lib third_party/build $(WORK)
