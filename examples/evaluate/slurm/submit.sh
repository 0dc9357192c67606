#!/usr/bin/env bash
# Submits an OOLONG-real evaluation to SLURM: an array job that runs one
# shard per task on a node with two GPUs (shard.sbatch), and a merge that
# starts once every shard has finished (merge.sbatch).
#
#   examples/evaluate/slurm/submit.sh OUT [evaluate flags...]
#   SHARDS=32 examples/evaluate/slurm/submit.sh runs/dnd -preset reference -baseline
#
# Run it from anywhere in the repository on a login node with Go. It builds
# the evaluate command once into OUT/bin, and every task runs that binary
# with the flags given here plus -shard k/N and -out OUT/shard-k-of-N. The
# merged journal and reports go to OUT/merged. SHARDS (default 16) is the
# number of shards; sbatch's own environment variables (SBATCH_PARTITION,
# SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...) reach both jobs. A task that is
# preempted or killed resumes where it stopped when it runs again
# (shard.sbatch asks SLURM to requeue it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."
if [ $# -lt 1 ]; then
	echo "usage: $0 OUT [evaluate flags...]" >&2
	exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
shards=${SHARDS:-16}

make headers
go build -o "$out/bin/evaluate" ./examples/evaluate
if [ ! -f third_party/lib/libggml-cuda.so ]; then
	echo "note: third_party/lib/libggml-cuda.so is missing: run 'make cuda' on a GPU node, or the models run on CPUs" >&2
fi

export EVALUATE_BIN="$out/bin/evaluate" EVALUATE_OUT="$out" SHARDS="$shards"
array=$(sbatch --parsable --array="0-$((shards - 1))" "$here/shard.sbatch" "$@")
merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" "$here/merge.sbatch")
echo "submitted shards as job $array and the merge as job $merge; results in $out/merged"
