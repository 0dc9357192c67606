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

// selected is an example of the selection: its index (see Record.Index)
// and id.
type selected struct {
	index int
	id    string
}

// eachSelected reads the split and calls fn for each example of the
// selection that belongs to the Config's shard, with its index. Filters
// come first (question types, context length), then -offset and -n, then
// the shard.
func eachSelected(ctx context.Context, files []string, c Config, fn func(index int, e oolong.Example) error) error {
	var opts []oolong.Option
	if len(c.QuestionTypes) > 0 {
		opts = append(opts, oolong.WithQuestionTypes(c.QuestionTypes...))
	}
	if c.MaxContext > 0 {
		opts = append(opts, oolong.WithContextLength(0, c.MaxContext))
	}
	r, err := oolong.OpenAll(files, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	position := 0
	for e, err := range r.All(ctx) {
		if err != nil {
			return err
		}
		index := position - c.Offset
		position++
		if index < 0 {
			continue
		}
		if c.N > 0 && index >= c.N {
			break
		}
		if c.Shard.Has(index) {
			if err := fn(index, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// selection lists the examples of the Config's shard, without their text.
func selection(ctx context.Context, files []string, c Config) ([]selected, error) {
	var list []selected
	seen := map[string]bool{}
	err := eachSelected(ctx, files, c, func(index int, e oolong.Example) error {
		if seen[e.ID] {
			return fmt.Errorf("the split has example %s twice", e.ID)
		}
		seen[e.ID] = true
		list = append(list, selected{index: index, id: e.ID})
		return nil
	})
	return list, err
}
