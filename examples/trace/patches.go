package main

import (
	"context"
	"strconv"

	"github.com/go-rlm/rlm/examples/internal/cli"
	"github.com/go-rlm/rlm/interp"
	"github.com/go-rlm/rlm/interp/trace"
	"github.com/go-rlm/rlm/llama"
)

// patchSubCalls re-runs the first cfg.patch sub-calls that have a recorded
// prompt with the residual stream after layer cfg.layer zeroed at the last
// prompt token: how much of the answer rests on that one state.
func patchSubCalls(ctx context.Context, m *llama.Model, subCalls []trace.SubCall, cfg config, sampling llama.Sampling) ([]*trace.PatchResult, error) {
	var out []*trace.PatchResult
	for _, sc := range subCalls {
		if len(out) == cfg.patch {
			break
		}
		if len(sc.Prompt) == 0 {
			continue
		}
		zero := interp.Zero(interp.ActName("resid_post", cfg.layer), interp.AtPositions(sc.PromptLast()))
		res, err := trace.PatchSubCall(ctx, m, sc, []interp.Patch{zero},
			trace.WithSampling(sampling), trace.WithMaxTokens(cfg.maxTokens), trace.WithThreads(cfg.threads))
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// writePatches writes the patch results as CSV.
func writePatches(results []*trace.PatchResult, path string) error {
	records := [][]string{{"sub_call", "patch", "answer_before", "answer_after", "changed", "logp_before", "logp_after"}}
	for _, r := range results {
		patch := ""
		if len(r.Patches) > 0 {
			patch = r.Patches[0]
		}
		records = append(records, []string{strconv.FormatInt(r.SubCall, 10), patch, r.Before.Text, r.After.Text, strconv.FormatBool(r.Changed()),
			strconv.FormatFloat(r.LogProbBefore, 'f', 4, 64), strconv.FormatFloat(r.LogProbAfter, 'f', 4, 64)})
	}
	return cli.WriteCSV(path, records)
}
