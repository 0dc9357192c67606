package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/oolong"
)

// locateData returns the files of the split, in order: the -data file, the
// split's files in a -data directory laid out as the Hub's repository, or
// the split downloaded from the Hub (its JSONL file, else the Parquet
// shards of the Hub's conversion).
func locateData(ctx context.Context, c Config, hc *hub.Client) ([]string, error) {
	if c.Data != "" {
		return localData(c)
	}
	path, err := hc.Download(ctx, oolong.Repo, hub.Dataset, "", oolong.JSONLPath(c.Dataset, c.Split))
	if err == nil {
		return []string{path}, nil
	}
	if !errors.Is(err, hub.ErrNotFound) {
		return nil, fmt.Errorf("%w; or give the split as a local file with -data", err)
	}
	listing, lerr := hc.ListFiles(ctx, oolong.Repo, hub.Dataset, oolong.ParquetRevision)
	if lerr != nil {
		return nil, fmt.Errorf("%w (and no Parquet conversion: %v)", err, lerr)
	}
	var names []string
	for _, f := range listing {
		names = append(names, f.Path)
	}
	shards := oolong.ParquetShards(names, c.Dataset, c.Split)
	if len(shards) == 0 {
		return nil, fmt.Errorf("%w (and no Parquet shards of %s/%s)", err, c.Dataset, c.Split)
	}
	var files []string
	for _, shard := range shards {
		path, err := hc.Download(ctx, oolong.Repo, hub.Dataset, oolong.ParquetRevision, shard)
		if err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// localData finds the split under -data: the file itself, or in a
// directory CONFIG/SPLIT.jsonl (or .jsonl.gz), else the Parquet shards
// CONFIG/SPLIT/*.parquet.
func localData(c Config) ([]string, error) {
	info, err := os.Stat(c.Data)
	if err != nil {
		return nil, fmt.Errorf("-data: %w", err)
	}
	if !info.IsDir() {
		return []string{c.Data}, nil
	}
	jsonl := filepath.Join(c.Data, filepath.FromSlash(oolong.JSONLPath(c.Dataset, c.Split)))
	for _, name := range []string{jsonl, jsonl + ".gz"} {
		if _, err := os.Stat(name); err == nil {
			return []string{name}, nil
		}
	}
	shards, _ := filepath.Glob(filepath.Join(c.Data, string(c.Dataset), string(c.Split), "*.parquet"))
	if len(shards) == 0 {
		return nil, fmt.Errorf("-data %s: found neither %s nor Parquet shards in %s", c.Data, jsonl,
			filepath.Join(c.Data, string(c.Dataset), string(c.Split)))
	}
	slices.Sort(shards)
	return shards, nil
}

// selected is an example of the selection: its place in it (see
// Record.Index), its id, and its context window's id and length.
type selected struct {
	index  int
	id     string
	window string
	length windowLength
}

// selection reads the split once and returns the examples of the Config's
// shard, in the order of the selection. The selection is the official
// evaluation's rule on what the filters keep (-types, -max-context): the
// rows whose window has a token count in the Config's range, sorted by
// context_window_id (oolong.Select); then -offset and -n; then the shard's
// windows (Shard.Of). counts measures the windows, with threads goroutines.
// total is the size of the whole selection, all shards together: a shard
// may hold nothing of a selection that is not empty.
func selection(ctx context.Context, files []string, c Config, counts *tokenCounts, threads int) (mine []selected, total int, err error) {
	rows, lengths, err := readSplit(ctx, files, c, counts, threads)
	if err != nil {
		return nil, 0, err
	}
	tokens := make(map[string]int, len(lengths))
	for id, w := range lengths {
		tokens[id] = w.Tokens
	}
	kept, err := oolong.Select(rows, c.ContextTokens, tokens)
	if err != nil {
		return nil, 0, err
	}
	kept = kept[min(c.Offset, len(kept)):]
	if c.N > 0 && len(kept) > c.N {
		kept = kept[:c.N]
	}
	all := make([]selected, len(kept))
	for i, e := range kept {
		all[i] = selected{index: i, id: e.ID, window: e.ContextWindowID, length: lengths[e.ContextWindowID]}
	}
	return c.Shard.Of(all), len(all), nil
}

// readerOptions are the reader's filters that need no token count.
func readerOptions(c Config) []oolong.Option {
	var opts []oolong.Option
	if len(c.QuestionTypes) > 0 {
		opts = append(opts, oolong.WithQuestionTypes(c.QuestionTypes...))
	}
	if c.MaxContext > 0 {
		opts = append(opts, oolong.WithContextLength(0, c.MaxContext))
	}
	return opts
}

// readSplit reads the rows the reader's filters keep, without their text,
// and measures each of their context windows once (with threads
// goroutines, while it reads on).
func readSplit(ctx context.Context, files []string, c Config, counts *tokenCounts, threads int) ([]oolong.Example, map[string]windowLength, error) {
	r, err := oolong.OpenAll(files, readerOptions(c)...)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan [2]string)
	type measured struct {
		lengths map[string]windowLength
		err     error
	}
	done := make(chan measured, 1)
	go func() {
		lengths, err := counts.measureEach(jobs, threads, cancel)
		done <- measured{lengths, err}
	}()

	var (
		rows    []oolong.Example
		ids     = map[string]bool{}
		windows = map[string]bool{}
		readErr error
	)
read:
	for e, err := range r.All(ctx) {
		switch {
		case err != nil:
			readErr = err
			break read
		case ids[e.ID]:
			readErr = fmt.Errorf("the split has example %s twice", e.ID)
			break read
		}
		ids[e.ID] = true
		if !windows[e.ContextWindowID] {
			windows[e.ContextWindowID] = true
			select {
			case jobs <- [2]string{e.ContextWindowID, e.ContextWindowText}:
			case <-ctx.Done():
				readErr = context.Cause(ctx)
				break read
			}
		}
		e.ContextWindowText = ""
		rows = append(rows, e)
	}
	close(jobs)
	m := <-done
	switch {
	case m.err != nil:
		return nil, nil, m.err
	case readErr != nil:
		return nil, nil, readErr
	}
	return rows, m.lengths, nil
}

// windowRow is an example to evaluate, with its place in the selection.
type windowRow struct {
	selected
	example oolong.Example
}

// eachWindow reads the split again and calls fn with the examples of todo,
// in the order of the file, grouped by context window: each call has the
// consecutive rows of one window (the dataset stores a window's questions
// together; a window whose rows are apart comes in several calls).
func eachWindow(ctx context.Context, files []string, c Config, todo map[string]selected, fn func(rows []windowRow) error) error {
	var opts []oolong.Option
	if len(c.QuestionTypes) > 0 {
		opts = append(opts, oolong.WithQuestionTypes(c.QuestionTypes...))
	}
	r, err := oolong.OpenAll(files, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	var group []windowRow
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		rows := group
		group = nil
		return fn(rows)
	}
	for e, err := range r.All(ctx) {
		if err != nil {
			return err
		}
		sel, ok := todo[e.ID]
		if !ok {
			continue
		}
		if len(group) > 0 && group[0].window != e.ContextWindowID {
			if err := flush(); err != nil {
				return err
			}
		}
		group = append(group, windowRow{selected: sel, example: e})
	}
	return flush()
}
