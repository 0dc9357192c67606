#!/usr/bin/env bash
# make peer: compares our binding with node-llama-cpp 3.22.1 on the same
# GGUF file: greedy text (must be identical) and prompt-processing
# throughput on the same 512 tokens with the same threads.
#
#   third_party/peers/node-llama-cpp/run.sh [MODEL.gguf]
#
# Without a model it writes one with examples/mkmodel. node-llama-cpp is
# installed once into .work/peer (its CPU build only, ~30 MB; the GPU
# variants are optional dependencies we skip).
set -euo pipefail
cd "$(dirname "$0")/../../.."
peer=third_party/peers/node-llama-cpp
work=${WORK:-.work}/peer
threads=${RLM_BENCH_THREADS:-$(nproc)}
mkdir -p "$work"

command -v npm >/dev/null || { echo "peer: npm is needed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$work/node_modules/node-llama-cpp" ]; then
	cp "$peer/package.json" "$work/"
	(cd "$work" && npm install --no-audit --no-fund --omit=optional >/dev/null &&
		npm install --no-audit --no-fund --no-save @node-llama-cpp/linux-x64@3.22.1 >/dev/null)
fi
cp "$peer/peer.mjs" "$work/"

model=${1:-}
generated=
if [ -z "$model" ]; then
	model=$work/seed1.gguf
	generated=1
	go run ./examples/mkmodel -seed 1 -o "$model" >/dev/null
fi

prompt="Hello"
n=30
node_out=$(node "$work/peer.mjs" "$model" "$prompt" "$n" 512 "$threads" 5)
echo "node-llama-cpp 3.22.1: $node_out"
# The generated model's vocabulary is one token per byte, so its greedy
# token ids are the bytes our generate command prints.
if [ -n "$generated" ]; then
	ours=$(go run ./examples/generate -model "$model" -prompt "$prompt" -n "$n" -threads "$threads" | head -c -1 | od -An -tu1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
	theirs=$(echo "$node_out" | sed 's/.*"greedy":\[\([^]]*\)\].*/\1/' | tr ',' ' ')
	if [ "$ours" = "$theirs" ]; then
		echo "greedy text: identical ($n tokens)"
	else
		printf 'greedy text differs:\n  ours:   %s\n  theirs: %s\n' "$ours" "$theirs"
		exit 1
	fi
fi
RLM_BENCH_MODEL=$model RLM_BENCH_THREADS=$threads go test -run '^$' -bench 'ChunkThroughput(C)?/512$' -benchtime 5x ./llama/
