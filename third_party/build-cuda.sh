#!/usr/bin/env bash
# Builds ggml's CUDA backend as a loadable shared library from the llama.cpp
# sources pinned in go.mod (the ollama module's CMake project, which builds
# ggml backends with GGML_BACKEND_DL), into third_party/lib. A program loads
# it with llama.LoadBackend("third_party/lib/libggml-cuda.so").
set -euo pipefail
cd "$(dirname "$0")/.."

nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
	echo "make cuda: skipped: nvcc not found (install the CUDA toolkit, or put nvcc on PATH)"
	exit 0
fi
command -v cmake >/dev/null || {
	echo "make cuda: cmake is required; installing it" >&2
	apt-get install -y -qq cmake >/dev/null || { echo "make cuda: install cmake and rerun" >&2; exit 1; }
}

src=$(go list -m -f '{{.Dir}}' github.com/ollama/ollama)
build=third_party/build/cuda
echo "make cuda: building ggml-cuda from $src with $nvcc"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_CUDA_COMPILER="$nvcc" \
	-DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHITECTURES:-native}" \
	-DGGML_CCACHE=OFF >/dev/null
cmake --build "$build" --target ggml-cuda --parallel "$(nproc)"
mkdir -p third_party/lib
find "$build" -name 'libggml-cuda*.so*' -exec cp -P {} third_party/lib/ \;
find "$build" -name 'libggml-base*.so*' -exec cp -P {} third_party/lib/ \;
echo "make cuda: built $(ls third_party/lib/libggml-cuda*.so | head -1)"
