package oolong

import (
	"slices"
	"unicode/utf8"
)

// Option configures a [Reader]: which rows it returns, and how it reads.
type Option func(*readerConfig)

type readerConfig struct {
	questionTypes []QuestionType // nil: all
	minEpisodes   int
	maxEpisodes   int // 0: no limit
	minLength     int
	maxLength     int // 0: no limit
	length        func(string) int
	batchRows     int
}

func newReaderConfig(opts []Option) readerConfig {
	c := readerConfig{length: utf8.RuneCountInString, batchRows: 1}
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// WithQuestionTypes keeps only rows of the given question types. By default
// every type is kept.
func WithQuestionTypes(types ...QuestionType) Option {
	return func(c *readerConfig) { c.questionTypes = slices.Clone(types) }
}

// WithEpisodes keeps only rows whose context window holds between min and max
// episodes, both included; max ≤ 0 means no upper bound. By default every row
// is kept (the dataset has 1 to 24).
func WithEpisodes(min, max int) Option {
	return func(c *readerConfig) { c.minEpisodes, c.maxEpisodes = min, max }
}

// WithContextLength keeps only rows whose context window is longer than min
// and at most max, the bounds the official evaluation applies
// (min_context_len < context_len <= max_context_len); max ≤ 0 means no upper
// bound. Length is measured by the function set with [WithLengthFunc]. By
// default every row is kept.
func WithContextLength(min, max int) Option {
	return func(c *readerConfig) { c.minLength, c.maxLength = min, max }
}

// WithLengthFunc sets how [WithContextLength] measures a context window, for
// instance a tokenizer's token count (the official evaluation counts the
// evaluated model's tokens). The function is called once per distinct
// context window. The default counts Unicode code points, as Python's len().
func WithLengthFunc(length func(text string) int) Option {
	return func(c *readerConfig) {
		if length != nil {
			c.length = length
		}
	}
}

// WithParquetBatchRows sets how many rows a Parquet reader decodes at a time.
// Each row carries its context window (megabytes), so memory grows with it.
// The default is 4; values below 1 are taken as 1. JSONL readers ignore it.
func WithParquetBatchRows(n int) Option {
	return func(c *readerConfig) { c.batchRows = max(n, 1) }
}

// keepHeader reports whether a row passes the filters that do not need its
// context window text.
func (c *readerConfig) keepHeader(e *Example) bool {
	if c.questionTypes != nil && !slices.Contains(c.questionTypes, e.QuestionType) {
		return false
	}
	n := len(e.Episodes)
	return n >= c.minEpisodes && (c.maxEpisodes <= 0 || n <= c.maxEpisodes)
}

// filtersLength reports whether rows are filtered by context length.
func (c *readerConfig) filtersLength() bool { return c.minLength > 0 || c.maxLength > 0 }

// keepLength reports whether a context window of the given length passes.
func (c *readerConfig) keepLength(n int) bool {
	return n > c.minLength && (c.maxLength <= 0 || n <= c.maxLength)
}
