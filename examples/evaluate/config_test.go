package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

func testConfig() Config {
	return Config{
		Dataset: oolong.DnD, Split: oolong.Test, QuestionTypes: []oolong.QuestionType{oolong.MultiDocRolls},
		ContextTokens: oolong.OfficialTokenRange(), ContextTokenizer: workerTokenizer,
		Shard: Shard{1, 4}, Controller: "hf://Qwen/Qwen2.5-Coder-14B-Instruct-GGUF:q4_k_m", Worker: "w.gguf",
		ControllerContext: 32768, ControllerMaxTokens: 2048, WorkerContext: 32768, WorkerMaxTokens: 1024,
		Iterations: 30, Depth: 1, TimeLimit: Duration(20 * time.Minute), ChunkChars: 94_464, Baseline: true,
	}
}

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	_, ok, err := loadConfig(dir)
	require.NoError(t, err)
	assert.False(t, ok, "no configuration yet")
	c := testConfig()
	require.NoError(t, saveConfig(dir, c))
	got, ok, err := loadConfig(dir)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, c, got)
	data, err := os.ReadFile(filepath.Join(dir, configName))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"time_limit": "20m0s"`)

	require.NoError(t, os.WriteFile(filepath.Join(dir, configName), []byte(`{"dataset": "dnd", "surprise": 1}`), 0o644))
	_, _, err = loadConfig(dir)
	assert.ErrorContains(t, err, "surprise", "a configuration from another version is not taken for this one")
}

func TestConfigDiff(t *testing.T) {
	a := testConfig()
	assert.Empty(t, configDiff(a, a))
	b := a
	b.Iterations, b.Baseline, b.WorkerGrammar = 10, false, "root ::= [0-9]+"
	b.QuestionTypes = nil
	assert.Equal(t, []string{
		"baseline: true then false",
		"iterations: 30 then 10",
		`question_types: ["multidoc_rolls"] then unset`,
		`worker_grammar: unset then "root ::= [0-9]+"`,
	}, configDiff(a, b))
}

func TestConfigValidate(t *testing.T) {
	c := testConfig()
	require.NoError(t, c.validate())
	c.Dataset, c.Depth, c.ChunkChars = "trec", 0, 0
	c.ContextTokens, c.BaselineFit = oolong.TokenRange{Min: 5000, Max: 4000}, "shrink"
	err := c.validate()
	assert.ErrorContains(t, err, `-config "trec"`)
	assert.ErrorContains(t, err, "-depth")
	assert.ErrorContains(t, err, "-max-context-tokens (4000) must be above -min-context-tokens (5000)")
	assert.ErrorContains(t, err, `-baseline-fit "shrink"`)
	assert.ErrorContains(t, err, "-chunk-chars", "every problem is named at once")
}
