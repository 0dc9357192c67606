package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// configName is the file an output directory keeps its Config in.
const configName = "config.json"

// Config is what decides an evaluation's results: which examples it runs
// and how it answers them. It is written to the output directory when the
// run starts, and a run that resumes there must have the same Config.
// Settings that change only where and how fast the work runs (devices,
// threads, the controller server's address) are not part of it. A Config
// is a plain value.
type Config struct {
	Dataset oolong.Config `json:"dataset"`
	Split   oolong.Split  `json:"split"`
	// Data is a local file or directory of the split; "" downloads it from
	// the Hugging Face Hub.
	Data          string                `json:"data,omitempty"`
	QuestionTypes []oolong.QuestionType `json:"question_types,omitempty"`
	// MaxContext drops context windows longer than this many characters;
	// 0 keeps all.
	MaxContext int `json:"max_context,omitempty"`
	// ContextTokens keeps the context windows whose length in tokens of
	// ContextTokenizer is in the range; the official evaluation keeps
	// 1024 < tokens ≤ 131072 (oolong.OfficialTokenRange).
	ContextTokens oolong.TokenRange `json:"context_tokens"`
	// ContextTokenizer names the tokenizer that counts them: "worker", the
	// worker model's own, which is the model the baseline evaluates.
	ContextTokenizer string `json:"context_tokenizer"`
	Offset           int    `json:"offset"`
	N                int    `json:"n"`
	Shard            Shard  `json:"shard"`

	// Controller is a GGUF model (a path or hf:// spec); ControllerModel
	// is the model name asked of an OpenAI-compatible server instead.
	Controller      string `json:"controller,omitempty"`
	ControllerModel string `json:"controller_model,omitempty"`
	Worker          string `json:"worker"`
	// WorkerGrammar is a GBNF grammar the worker's replies must follow.
	WorkerGrammar       string `json:"worker_grammar,omitempty"`
	ControllerContext   int    `json:"controller_context"`
	ControllerMaxTokens int    `json:"controller_max_tokens"`
	WorkerContext       int    `json:"worker_context"`
	WorkerMaxTokens     int    `json:"worker_max_tokens"`
	// ExtraWorkers are more workers, each run as the worker is, that the
	// controller's code reaches by name (llm_query(p, model="NAME")).
	ExtraWorkers []cli.NamedModel `json:"extra_workers,omitempty"`
	// Protocol is how the controller is taught to submit its answer, by
	// rlm.Protocol's name: "answer", the reference implementation's answer
	// dict, or "final", the RLM paper's FINAL and FINAL_VAR; "" is rlm's
	// default.
	Protocol string `json:"protocol,omitempty"`

	Iterations            int      `json:"iterations"`
	Depth                 int      `json:"depth"`
	SubCallBudget         int      `json:"sub_call_budget,omitempty"`
	ControllerTokenBudget int      `json:"controller_token_budget,omitempty"`
	WorkerTokenBudget     int      `json:"worker_token_budget,omitempty"`
	TimeLimit             Duration `json:"time_limit,omitempty"`
	ChunkChars            int      `json:"chunk_chars"`
	Baseline              bool     `json:"baseline"`
	// BaselineFit says what the baseline does with a window longer than
	// the worker's context: exclude it (counted in the summary), or
	// truncate it to fit (named in the summary).
	BaselineFit string `json:"baseline_fit,omitempty"`
	// Share answers the questions of a context window in one REPL session
	// and memoizes the worker's answers (see evaluator.window). With a
	// greedy worker the answers are those of unshared runs; with sampling,
	// a repeated sub-call gets the first answer again.
	Share bool `json:"share"`
}

// The ways of fitting a long window to the baseline (Config.BaselineFit).
const (
	fitExclude  = "exclude"
	fitTruncate = "truncate"
)

// workerTokenizer is the ContextTokenizer of every run: the worker's.
const workerTokenizer = "worker"

// describeSelection says how the Config chooses and orders its examples,
// for the summary.
func (c *Config) describeSelection() string {
	var parts []string
	if c.ContextTokens != (oolong.TokenRange{}) {
		parts = append(parts, fmt.Sprintf("context windows of %s (the %s's tokenizer)", c.ContextTokens, c.ContextTokenizer))
	}
	if len(c.QuestionTypes) > 0 {
		parts = append(parts, "question types "+joinTypes(c.QuestionTypes))
	}
	if c.MaxContext > 0 {
		parts = append(parts, fmt.Sprintf("at most %d characters", c.MaxContext))
	}
	parts = append(parts, "sorted by context_window_id")
	if c.Offset > 0 {
		parts = append(parts, fmt.Sprintf("from example %d", c.Offset))
	}
	if c.N > 0 {
		parts = append(parts, fmt.Sprintf("at most %d examples", c.N))
	}
	return strings.Join(parts, ", ")
}

// officialSelection reports whether the Config selects the examples as the
// official evaluation does: its token range, no other filter, all of them.
func (c *Config) officialSelection() bool {
	return c.ContextTokens == oolong.OfficialTokenRange() && len(c.QuestionTypes) == 0 &&
		c.MaxContext == 0 && c.Offset == 0 && c.N == 0
}

// Duration is a time.Duration written as text ("90s") in JSON.
type Duration time.Duration

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what time.ParseDuration reads.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	*d = Duration(v)
	return err
}

// validate reports settings that cannot work.
func (c *Config) validate() error {
	var problems []string
	check := func(bad bool, format string, args ...any) {
		if bad {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(c.Dataset != oolong.DnD && c.Dataset != oolong.ToyDnD, "-config %q: want dnd or toy_dnd", c.Dataset)
	check(c.Split != oolong.Test && c.Split != oolong.Validation, "-split %q: want test or validation", c.Split)
	for _, t := range c.QuestionTypes {
		check(!slices.Contains(oolong.QuestionTypes, t), "-types: unknown question type %q (want some of %s)", t, joinTypes(oolong.QuestionTypes))
	}
	if c.Protocol != "" {
		_, err := rlm.ParseProtocol(c.Protocol)
		check(err != nil, "-protocol %q: want answer or final", c.Protocol)
	}
	check(c.Worker == "", "-worker is required: a GGUF file or an hf:// spec (or choose a -preset)")
	check(c.N < 0 || c.Offset < 0 || c.MaxContext < 0, "-n, -offset and -max-context must not be negative")
	check(c.ContextTokens.Min < 0 || c.ContextTokens.Max < 0, "-min-context-tokens and -max-context-tokens must not be negative")
	check(c.ContextTokens.Max > 0 && c.ContextTokens.Max <= c.ContextTokens.Min,
		"-max-context-tokens (%d) must be above -min-context-tokens (%d), or 0 for no bound", c.ContextTokens.Max, c.ContextTokens.Min)
	check(c.ContextTokenizer != workerTokenizer, "context tokenizer %q: want %q", c.ContextTokenizer, workerTokenizer)
	check(c.BaselineFit != "" && c.BaselineFit != fitExclude && c.BaselineFit != fitTruncate,
		"-baseline-fit %q: want %s or %s", c.BaselineFit, fitExclude, fitTruncate)
	check(c.ControllerContext < 256 || c.WorkerContext < 256, "-controller-ctx and -worker-ctx must be at least 256 tokens")
	check(c.ControllerMaxTokens < 1 || c.WorkerMaxTokens < 1, "-controller-max-tokens and -worker-max-tokens must be positive")
	check(c.WorkerMaxTokens >= c.WorkerContext, "-worker-max-tokens (%d) must be below -worker-ctx (%d)", c.WorkerMaxTokens, c.WorkerContext)
	check(c.Iterations < 1 || c.Depth < 1, "-iterations and -depth must be at least 1")
	check(c.SubCallBudget < 0 || c.ControllerTokenBudget < 0 || c.WorkerTokenBudget < 0 || c.TimeLimit < 0,
		"budgets must not be negative")
	check(c.ChunkChars < 1, "-chunk-chars must be positive")
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func joinTypes(types []oolong.QuestionType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return strings.Join(names, ",")
}

// saveConfig writes c into dir atomically.
func saveConfig(dir string, c Config) error {
	return writeFileAtomic(filepath.Join(dir, configName), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	})
}

// loadConfig reads the Config of an output directory; ok is false when the
// directory has none.
func loadConfig(dir string) (c Config, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, configName))
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, false, nil
	}
	if err != nil {
		return Config{}, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, false, fmt.Errorf("%s: %w", filepath.Join(dir, configName), err)
	}
	return c, true, nil
}

// configDiff lists, field by field, how b differs from a: "iterations: 30
// then 10". It is empty when they are equal.
func configDiff(a, b Config) []string {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	fields := func(c Config) map[string]string {
		data, _ := json.Marshal(c) // a Config always marshals
		var m map[string]json.RawMessage
		_ = json.Unmarshal(data, &m)
		out := map[string]string{}
		for k, v := range m {
			out[k] = string(v)
		}
		return out
	}
	fa, fb := fields(a), fields(b)
	var keys []string
	for k := range fa {
		keys = append(keys, k)
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diff []string
	for _, k := range keys {
		va, vb := fa[k], fb[k]
		if va == vb {
			continue
		}
		if va == "" {
			va = "unset"
		}
		if vb == "" {
			vb = "unset"
		}
		diff = append(diff, fmt.Sprintf("%s: %s then %s", k, va, vb))
	}
	return diff
}
