package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// TestOneScoringRule checks that the RLM's answer and the baseline's
// output go through the same function: the official score of the text as
// it is, and ours beside it.
func TestOneScoringRule(t *testing.T) {
	for _, tt := range []struct {
		gold, output      string
		official, lenient float64
	}{
		{"42", "42", 0, 1}, // a bare FINAL(42): 0 officially, as for a plain model
		{"42", " 42\n", 0, 1},
		{"42", `\boxed{42}`, 1, 1},
		{"42", `So \boxed{40}.`, 0.75 * 0.75, 0.75 * 0.75},
		{"Fire Bolt, Shield", "Shield, Fire Bolt", 0, 1},
		{"Percy", "percy", 1, 1},
		{"42", "forty-two", 0, 0},
		{"42", "", 0, 0},
	} {
		official, lenient := score(tt.gold, tt.output)
		assert.Equal(t, tt.official, official, "%q against %q", tt.output, tt.gold)
		assert.Equal(t, tt.lenient, lenient, "%q against %q", tt.output, tt.gold)
		assert.Equal(t, oolong.Score(tt.gold, tt.output), official)
	}
}

func TestSetResult(t *testing.T) {
	res := rlm.Result{Answer: "7", Final: true, Stop: rlm.StopFinal, Stats: rlm.Stats{
		Iterations: 3, SubCalls: 5, SubCallsFailed: 1, CodeBlocks: 4, CodeBlocksFailed: 2,
		Controller: rlm.Usage{PromptTokens: 100, CompletionTokens: 10},
		Worker:     rlm.Usage{PromptTokens: 1000, CompletionTokens: 20},
	}}
	r := Record{Gold: "8"}
	r.setResult(res, nil)
	assert.Equal(t, Record{Gold: "8", Answer: "7", Score: 0, LenientScore: 0.75, Final: true, Stop: "final",
		Iterations: 3, SubCalls: 5, SubCallsFailed: 1, CodeBlocks: 4, CodeBlocksFailed: 2,
		ControllerPromptTokens: 100, ControllerCompletionTokens: 10,
		WorkerPromptTokens: 1000, WorkerCompletionTokens: 20}, r)
	assert.Empty(t, r.failure())

	// A run that failed scores 0, whatever answer it got to.
	r = Record{Gold: "7"}
	r.setResult(rlm.Result{Answer: "7", Stop: rlm.StopError}, errors.New("rlm: run: controller down"))
	assert.Zero(t, r.Score)
	assert.Equal(t, "error", r.Stop)
	assert.Equal(t, "rlm: run: controller down", r.Error)
	assert.Equal(t, "rlm: run: controller down", r.failure())
	r = Record{Baseline: &BaselineRecord{Error: "no chat template"}}
	assert.Equal(t, "baseline: no chat template", r.failure())
}
