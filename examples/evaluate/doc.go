// Command evaluate runs a Recursive Language Model on OOLONG-real, the
// benchmark of questions about Critical Role episodes, and reports how it
// did: a Parquet table of every example, a summary in Markdown and JSON,
// and a plot of accuracy by context length against the worker alone.
//
//	go run ./examples/evaluate -preset laptop -config toy_dnd -n 5 -out runs/toy
//	go run ./examples/evaluate -preset reference -baseline -out runs/dnd
//	go run ./examples/evaluate merge -out runs/dnd runs/dnd-shard-*
//
// # Models
//
// The controller is a GGUF model (-controller, a file or an hf:// spec such
// as hf://Qwen/Qwen2.5-Coder-14B-Instruct-GGUF:q4_k_m) run in process, or
// an OpenAI-compatible server (-controller-url, -controller-model). The
// worker is a GGUF model run in process, its sub-calls decoded in parallel
// (-worker-parallel). With two GPUs the controller goes on the first and the
// worker on the second (-controller-device, -worker-device, -ngl); with one
// GPU both go on it; without, on the CPU. -cuda-lib loads the CUDA backend
// that `make cuda` builds. -preset fills in a documented configuration:
// laptop (small models on a CPU) or reference (Qwen2.5-Coder-14B-Instruct
// Q4_K_M and Qwen2.5-7B-Instruct FP16 on two GPUs).
//
// # Data
//
// The split (-config dnd or toy_dnd, -split test or validation) comes from
// the Hugging Face Hub (oolongbench/oolong-real, through the Hub's cache),
// or from a local file or directory (-data). The selection is the official
// evaluation's: context windows of 1024 < tokens <= 131072, counted once
// per window by the worker's tokenizer and kept in the output directory,
// the rows sorted by context_window_id (-min-context-tokens,
// -max-context-tokens; 0 for no upper bound). Filters (-types,
// -max-context) come before it, -offset and -n after it; -shard k/N keeps
// some of the selection's context windows, each with all its questions
// (see [Shard.Of]).
//
// # Scoring
//
// The RLM's final answer and the baseline's reply are scored by one rule
// (see score): the official OOLONG-real score of the text as it is
// ([oolong.Score]), and ours beside it, labelled lenient
// ([oolong.LenientScore]: an answer without a box read as if boxed). With
// -baseline the worker also answers alone, as the official evaluation asks
// a plain model; a window that does not fit its context is excluded and
// counted, or with -baseline-fit truncate cut to fit and named.
//
// # The task and shared work
//
// The controller is told the task: OOLONG-real's layout and answer form
// ([oolong.TaskPreamble]) in its system prompt, and each window's
// instructions and player map ([oolong.WindowHeader]) in its first message.
// With -share (the default) the questions of a context window are answered
// in one REPL session with the window bound once, each question starting
// as if alone ([rlm.WithIndependentQuestions]), and the worker's answers are
// memoized ([rlm.WithSubCallCache]) in memory and in subcalls.jsonl, so
// that the same sub-call is not asked twice, within a run or across
// restarts (see openSubCallCache).
//
// # Durability
//
// The output directory (-out) holds the run's configuration (config.json),
// the journal (results.jsonl: one line per finished example, appended and
// synced to disk before the next example starts) and each example's
// trajectory (trajectories/, JSONL, and HTML with -html). A run killed at
// any moment loses at most the example in flight; rerun the same command
// and it resumes, never recording an example twice. A rerun with another
// configuration is refused. Downloads and model loading come before the
// output directory is touched, so a run that cannot start (offline, say)
// leaves nothing behind. When every example is done the reports are written,
// each atomically: results.parquet, summary.md, summary.json and
// accuracy.png.
//
// # Sharding
//
// Each shard of a run writes its own output directory; `evaluate merge`
// checks that they are the shards of one run, each once and finished, and
// writes the journal and reports of the whole. The examples/evaluate/slurm
// scripts run the shards as a SLURM array job on two-GPU nodes and merge
// them when all have ended; slurm/localcluster.sh runs a one-node SLURM
// cluster to try them on, which the tests use (see README.md).
//
// On an error the command prints one line to standard error and exits with
// status 1 (2 for a malformed command line). A run that SIGINT or SIGTERM
// interrupted exits with status 75 (EX_TEMPFAIL): rerun it and it resumes,
// which a scheduler may do by itself (SLURM's RequeueExit=75), while status
// 1 would come back.
package main
