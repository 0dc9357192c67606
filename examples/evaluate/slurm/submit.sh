#!/usr/bin/env bash
# Submits an OOLONG-real evaluation to SLURM: an array job that runs one
# shard per task (shard.sbatch), and a merge that runs once every task has
# ended (merge.sbatch).
#
#   examples/evaluate/slurm/submit.sh OUT [evaluate flags...]
#   SHARDS=32 examples/evaluate/slurm/submit.sh runs/dnd -preset reference -baseline
#   GPUS_PER_TASK=0 CPUS_PER_TASK=32 examples/evaluate/slurm/submit.sh runs/toy -preset laptop
#
# Run it from anywhere in the repository, on a login node with Go. It builds
# the evaluate command once into OUT/bin (GOFLAGS reaches the build), and
# every task runs that binary with the flags given here plus
# -shard k/N, -out OUT/shard-k-of-N and -threads CPUS_PER_TASK. The merged
# journal and reports go to OUT/merged, the jobs' logs to OUT/logs.
#
# Variables (default):
#   SHARDS         number of shards, one array task each (16)
#   GPUS_PER_TASK  GPUs per task, asked as --gres=gpu:N (2: the controller on
#                  the first, the worker on the second); 0 asks for none,
#                  and the models run on the CPUs
#   CPUS_PER_TASK  CPUs per task, and evaluate's -threads (16)
#   MEM_PER_TASK   memory per task, as --mem (96G)
#   TIME_PER_TASK  time limit per task, as --time (24:00:00); a task near
#                  its limit requeues itself to go on (see shard.sbatch)
#   JOB_NAME       the array job's name; the merge is JOB_NAME-merge
#                  (rlm-evaluate)
# sbatch's own variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, ...)
# reach both jobs.
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
gpus=${GPUS_PER_TASK:-2}
cpus=${CPUS_PER_TASK:-16}
mem=${MEM_PER_TASK:-96G}
time_limit=${TIME_PER_TASK:-24:00:00}
name=${JOB_NAME:-rlm-evaluate}

# The Makefile's flags: ggml's kernels for this machine's CPU. Build on a
# node like the compute nodes, or set CGO_CFLAGS and CGO_CXXFLAGS to
# "-O3 -march=x86-64-v3" (say) for a binary that runs on older ones.
export CGO_CFLAGS=${CGO_CFLAGS:--O3 -march=native} CGO_CXXFLAGS=${CGO_CXXFLAGS:--O3 -march=native}
make headers >/dev/null
go build -o "$out/bin/evaluate" ./examples/evaluate
if [ "$gpus" -gt 0 ] && [ ! -f third_party/lib/libggml-cuda.so ]; then
	echo "note: third_party/lib/libggml-cuda.so is missing: run 'make cuda' on a GPU node, or the models run on CPUs" >&2
fi
mkdir -p "$out/logs"

resources=(--cpus-per-task="$cpus" --mem="$mem" --time="$time_limit")
if [ "$gpus" -gt 0 ]; then
	resources+=(--gres="gpu:$gpus")
fi
export EVALUATE_BIN="$out/bin/evaluate" EVALUATE_OUT="$out" SHARDS="$shards"
array=$(sbatch --parsable --array="0-$((shards - 1))" --job-name="$name" \
	--output="$out/logs/$name-%A_%a.out" "${resources[@]}" "$here/shard.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterany:$array" --job-name="$name-merge" \
	--output="$out/logs/$name-merge-%j.out" "$here/merge.sbatch")
merge=${merge%%;*}
echo "array job $array: $shards shards, logs in $out/logs/$name-${array}_K.out"
echo "merge job $merge: once they end, into $out/merged"
