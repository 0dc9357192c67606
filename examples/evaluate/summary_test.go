package main

import (
	"bytes"
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
		{ID: "a", QuestionType: "singledoc_rolls", ContextChars: 100_000, Score: 1, Stop: "final",
			SubCalls: 4, CodeBlocks: 2, Seconds: 10, Baseline: &BaselineRecord{Score: 0.5, Seconds: 1}},
		{ID: "b", QuestionType: "singledoc_spells", ContextChars: 300_000, Score: 0.5, Stop: "max_iterations",
			SubCalls: 2, CodeBlocks: 3, CodeBlocksFailed: 1, Seconds: 20, Baseline: &BaselineRecord{Score: 0, Seconds: 3}},
		{ID: "c", QuestionType: "multidoc_rolls", ContextChars: 3_500_000, Score: 0, Stop: "error", Error: "rlm: run: boom",
			Seconds: 30},
		{ID: "d", QuestionType: "singledoc_rolls", ContextChars: 256_000, Score: 0.25, Stop: "final",
			SubCalls: 0, Seconds: 20},
	}
}

func TestSummarize(t *testing.T) {
	s := summarize(Config{Dataset: oolong.DnD, Split: oolong.Test}, summaryRecords(), defaultBins)
	half, quarter := 0.5, 0.25
	assert.Equal(t, 4, s.Examples)
	assert.Equal(t, 1, s.Failed)
	assert.InDelta(t, (1+0.5+0+0.25)/4, s.Accuracy, 1e-12)
	assert.Equal(t, 2, s.BaselineExamples)
	assert.Equal(t, &quarter, s.BaselineAccuracy, "over the examples that have a baseline")
	assert.Equal(t, []Group{
		{Name: "singledoc_rolls", Examples: 2, Accuracy: 0.625, BaselineExamples: 1, BaselineAccuracy: &half},
		{Name: "singledoc_spells", Examples: 1, Accuracy: 0.5, BaselineExamples: 1, BaselineAccuracy: new(float64)},
		{Name: "multidoc_rolls", Examples: 1, Accuracy: 0},
	}, s.ByType, "in the dataset's order")
	assert.Equal(t, []Group{
		{Name: "0-256K", Max: 256_000, Examples: 2, Accuracy: 0.625, BaselineExamples: 1, BaselineAccuracy: &half},
		{Name: "256K-512K", Min: 256_000, Max: 512_000, Examples: 1, Accuracy: 0.5, BaselineExamples: 1, BaselineAccuracy: new(float64)},
		{Name: ">3M", Min: 3_000_000, Examples: 1, Accuracy: 0},
	}, s.ByContextLength, "bins hold lengths above their lower edge up to their upper one; empty bins are left out")
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
		"| **All** | 4 | 43.8 | 25.0 |",
		"| singledoc_spells | 1 | 50.0 | 0.0 |",
		"| >3M | 1 | 0.0 | – |",
		"(1 failed with an error, scored 0)",
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
	s := summarize(Config{Dataset: oolong.ToyDnD, Split: oolong.Validation}, records, []int{1_000_000})
	assert.Nil(t, s.BaselineAccuracy)
	assert.Nil(t, s.BaselineSecondsPerExample)
	require.Len(t, s.ByContextLength, 2)
	assert.Equal(t, ">1M", s.ByContextLength[1].Name)
	var md bytes.Buffer
	require.NoError(t, s.writeMarkdown(&md))
	assert.NotContains(t, md.String(), "Baseline")
	assert.Contains(t, md.String(), "# OOLONG-real: toy_dnd/validation")
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
		require.NoError(t, writePlot(&buf, summarize(Config{Dataset: oolong.DnD, Split: oolong.Test}, records, defaultBins)))
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
