package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

func summaryRecords() []Record {
	return []Record{
		{ID: "a", QuestionType: "singledoc_rolls", ContextChars: 100_000, ContextTokens: 25_000, Score: 1, LenientScore: 1, Stop: "final",
			SubCalls: 4, CodeBlocks: 2, Seconds: 10, Baseline: &BaselineRecord{Score: 0.5, LenientScore: 0.75, Seconds: 1}},
		{ID: "b", QuestionType: "singledoc_spells", ContextChars: 300_000, ContextTokens: 131_072, Score: 0, LenientScore: 0.5, Stop: "max_iterations",
			SubCalls: 2, CodeBlocks: 3, CodeBlocksFailed: 1, Seconds: 20, Baseline: &BaselineRecord{Score: 0, Truncated: true, Seconds: 3}},
		{ID: "c", QuestionType: "multidoc_rolls", ContextChars: 3_500_000, ContextTokens: 1_000_000, Score: 0, Stop: "error", Error: "rlm: run: boom",
			Seconds: 30, Baseline: &BaselineRecord{Excluded: "too long"}},
		{ID: "d", QuestionType: "singledoc_rolls", ContextChars: 256_000, ContextTokens: 64_000, Score: 0.25, LenientScore: 0.25, Stop: "final",
			SubCalls: 0, Seconds: 20},
	}
}

func TestSummarize(t *testing.T) {
	c := Config{Dataset: oolong.DnD, Split: oolong.Test, ContextTokens: oolong.OfficialTokenRange(), ContextTokenizer: workerTokenizer}
	s := summarize(c, summaryRecords(), defaultBins, defaultTokenBins)
	f := func(x float64) *float64 { return &x }
	assert.Equal(t, 4, s.Examples)
	assert.True(t, s.OfficialSelection)
	assert.Equal(t, "context windows of 1024 < tokens <= 131072 (the worker's tokenizer), sorted by context_window_id", s.Selection)
	assert.Equal(t, 1, s.Failed)
	assert.InDelta(t, (1+0+0+0.25)/4, s.Accuracy, 1e-12)
	assert.InDelta(t, (1+0.5+0+0.25)/4, s.LenientAccuracy, 1e-12)
	assert.Equal(t, 2, s.BaselineExamples, "the excluded baseline is left out")
	assert.Equal(t, 1, s.BaselineExcluded)
	assert.Equal(t, 1, s.BaselineTruncated)
	assert.Equal(t, f(0.25), s.BaselineAccuracy, "over the examples the baseline answered")
	assert.Equal(t, f(0.375), s.BaselineLenientAccuracy)
	assert.Equal(t, f(0.5), s.PairedAccuracy, "the RLM on the baseline's examples")
	assert.Equal(t, []Group{
		{Name: "singledoc_rolls", Examples: 2, Accuracy: 0.625, LenientAccuracy: 0.625,
			BaselineExamples: 1, BaselineAccuracy: f(0.5), BaselineLenientAccuracy: f(0.75), PairedAccuracy: f(1)},
		{Name: "singledoc_spells", Examples: 1, Accuracy: 0, LenientAccuracy: 0.5,
			BaselineExamples: 1, BaselineAccuracy: f(0), BaselineLenientAccuracy: f(0), PairedAccuracy: f(0)},
		{Name: "multidoc_rolls", Examples: 1, Accuracy: 0},
	}, s.ByType, "in the dataset's order")
	assert.Equal(t, []Group{
		{Name: "0-256K", Max: 256_000, Examples: 2, Accuracy: 0.625, LenientAccuracy: 0.625,
			BaselineExamples: 1, BaselineAccuracy: f(0.5), BaselineLenientAccuracy: f(0.75), PairedAccuracy: f(1)},
		{Name: "256K-512K", Min: 256_000, Max: 512_000, Examples: 1, Accuracy: 0, LenientAccuracy: 0.5,
			BaselineExamples: 1, BaselineAccuracy: f(0), BaselineLenientAccuracy: f(0), PairedAccuracy: f(0)},
		{Name: ">3M", Min: 3_000_000, Examples: 1, Accuracy: 0},
	}, s.ByContextLength, "bins hold lengths above their lower edge up to their upper one; empty bins are left out")
	var names []string
	for _, g := range s.ByContextTokens {
		names = append(names, fmt.Sprintf("%s:%d", g.Name, g.Examples))
	}
	assert.Equal(t, []string{"0-64Ki:2", "64Ki-128Ki:1", "512Ki-1Mi:1"}, names, "131072 tokens is in the bin it closes")
	assert.InDelta(t, 1.5, s.MeanSubCalls, 1e-12)
	assert.Equal(t, 5, s.CodeBlocks)
	assert.InDelta(t, 0.8, s.CodeSuccessRate, 1e-12)
	assert.InDelta(t, 20, s.SecondsPerExample, 1e-12)
	assert.InDelta(t, 80, s.TotalSeconds, 1e-12)
	require.NotNil(t, s.BaselineSecondsPerExample)
	assert.InDelta(t, 2, *s.BaselineSecondsPerExample, 1e-12)
	assert.Equal(t, map[string]int{"final": 2, "max_iterations": 1, "error": 1}, s.StopReasons)

	var md bytes.Buffer
	require.NoError(t, s.writeMarkdown(&md))
	for _, want := range []string{
		"This is the official evaluation's selection.",
		"| **All** | 4 | 31.2 | 43.8 | 2 | 25.0 | 37.5 | 50.0 |",
		"| singledoc_spells | 1 | 0.0 | 50.0 | 1 | 0.0 | 0.0 | 0.0 |",
		"| >3M | 1 | 0.0 | 0.0 | 0 | – | – | – |",
		"| 64Ki-128Ki | 1 |",
		"(1 failed with an error, scored 0)",
		"1 more excluded because their window does not fit",
		"**1 of them on a window cut to fit the worker's context**",
		"| Code blocks without an exception | 80.0 |",
		"| Stop reasons | error 1, final 2, max_iterations 1 |",
	} {
		assert.Contains(t, md.String(), want)
	}
}

func TestSummarizeWithoutBaseline(t *testing.T) {
	records := summaryRecords()
	for i := range records {
		records[i].Baseline = nil
	}
	c := Config{Dataset: oolong.ToyDnD, Split: oolong.Validation, N: 4, ContextTokenizer: workerTokenizer}
	s := summarize(c, records, []int{1_000_000}, defaultTokenBins)
	assert.Nil(t, s.BaselineAccuracy)
	assert.Nil(t, s.BaselineSecondsPerExample)
	assert.False(t, s.OfficialSelection)
	require.Len(t, s.ByContextLength, 2)
	assert.Equal(t, ">1M", s.ByContextLength[1].Name)
	var md bytes.Buffer
	require.NoError(t, s.writeMarkdown(&md))
	assert.NotContains(t, md.String(), "Baseline")
	assert.Contains(t, md.String(), "# OOLONG-real: toy_dnd/validation")
	assert.Contains(t, md.String(), "sorted by context_window_id, at most 4 examples. This is not the official evaluation's selection")
}

func TestPlot(t *testing.T) {
	for _, baseline := range []bool{true, false} {
		records := summaryRecords()
		if !baseline {
			for i := range records {
				records[i].Baseline = nil
			}
		}
		var buf bytes.Buffer
		require.NoError(t, writePlot(&buf, summarize(Config{Dataset: oolong.DnD, Split: oolong.Test}, records, defaultBins, defaultTokenBins)))
		img, err := png.Decode(&buf)
		require.NoError(t, err)
		assert.Equal(t, 7*96, img.Bounds().Dx(), "7 inches at 96 dpi")
		assert.True(t, hasColor(img, rlmColor), "the RLM's bars are drawn")
		assert.Equal(t, baseline, hasColor(img, baselineColor), "the baseline's bars are drawn when there is one")
	}
}

func hasColor(img image.Image, want color.RGBA) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == want {
				return true
			}
		}
	}
	return false
}
