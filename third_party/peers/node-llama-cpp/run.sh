#!/usr/bin/env bash
# make peer: compares our binding with node-llama-cpp 3.22.1 (its own
# prebuilt llama.cpp) on the same GGUF files:
#   1. greedy text from "Hello" on the model `mkmodel -seed 1` writes: must be
#      identical (that model's vocabulary is one token per byte, so token ids
#      are the bytes our generate command prints);
#   2. prompt throughput on the same 512 tokens with the same threads, on
#      PEER_MODEL (the first argument) or a generated 8-layer F16 model
#      (n_embd 512), the one `make bench` uses.
# node-llama-cpp is installed once into .work/peer (its CPU build, ~30 MB).
set -euo pipefail
cd "$(dirname "$0")/../../.."
peer=third_party/peers/node-llama-cpp
work=$(pwd)/${WORK:-.work}/peer
threads=${RLM_BENCH_THREADS:-$(nproc)}
mkdir -p "$work"

command -v npm >/dev/null || { echo "peer: npm is needed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$work/node_modules/@node-llama-cpp/linux-x64" ]; then
	cp "$peer/package.json" "$work/"
	# The prebuilt CPU binaries are a dependency of ours; the GPU variants
	# (optional dependencies of node-llama-cpp, hundreds of MB) are skipped,
	# and so is any build from source.
	(cd "$work" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional >/dev/null)
fi
cp "$peer/peer.mjs" "$work/"

seed1=$work/seed1.gguf
[ -f "$seed1" ] || go run ./examples/mkmodel -seed 1 -o "$seed1" >/dev/null
n=30
theirs=$(node "$work/peer.mjs" "$seed1" Hello "$n" 16 1 1 | sed 's/.*"greedy":\[\([^]]*\)\].*/\1/' | tr ',' ' ')
ours=$(go run ./examples/generate -model "$seed1" -prompt Hello -n "$n" -threads 1 | head -c -1 | od -An -tu1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
if [ "$ours" = "$theirs" ]; then
	echo "greedy text from \"Hello\": identical to node-llama-cpp's ($n tokens)"
else
	printf 'greedy text differs:\n  ours:   %s\n  theirs: %s\n' "$ours" "$theirs"
	exit 1
fi

model=${1:-}
if [ -z "$model" ]; then
	model=$work/bench-f16.gguf
	[ -f "$model" ] || go run ./examples/mkmodel -layers 8 -embd 512 -heads 8 -kv-heads 2 -ff 1536 -type f16 -seed 0 -o "$model" >/dev/null
fi
model=$(realpath "$model")
echo "prompt throughput, 512 tokens, $threads threads, $(basename "$model"):"
node "$work/peer.mjs" "$model" Hello 1 512 "$threads" 5 | sed 's/.*"prefill_tokens_per_second":\([0-9.]*\).*/  node-llama-cpp 3.22.1: \1 tokens\/s (median of 5)/'
RLM_BENCH_MODEL=$model RLM_BENCH_THREADS=$threads go test -run '^$' -bench 'ChunkThroughput(C)?/512$' -benchtime 5x ./llama/ | grep -E '^Benchmark'
