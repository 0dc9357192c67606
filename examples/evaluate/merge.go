package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// mergeCommand merges the output directories of the shards of one
// evaluation into the reports of the whole: the shards must share one
// configuration but for the shard, and each must have finished (written
// its reports), unless -partial asks for a look at a run in progress.
func mergeCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evaluate merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: evaluate merge -out DIR SHARD_DIR...\n\n"+
			"Merges the results of the shards of one evaluation. Flags:\n\n")
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "directory for the merged journal and reports (required)")
	binsFlag := fs.String("bins", "", "upper edges of the summary's context-length bins, in characters; default "+formatBins(defaultBins))
	tokenBinsFlag := fs.String("token-bins", "", "upper edges of the summary's context-length bins, in tokens; default "+formatBins(defaultTokenBins))
	partial := fs.Bool("partial", false, "merge shards that are missing or unfinished too, for a look at a run in progress")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	bins, err := parseBins(*binsFlag, defaultBins)
	if err != nil {
		return usagef("-bins: %v", err)
	}
	tokenBins, err := parseBins(*tokenBinsFlag, defaultTokenBins)
	if err != nil {
		return usagef("-token-bins: %v", err)
	}
	switch {
	case *out == "":
		return usagef("merge: -out is required")
	case fs.NArg() == 0:
		return usagef("merge: name the shards' output directories")
	}
	merged, records, err := readShards(*out, fs.Args(), *partial)
	if err != nil {
		return err
	}

	if previous, ok, err := loadConfig(*out); err != nil {
		return err
	} else if ok {
		if diff := configDiff(previous, merged); len(diff) > 0 {
			return fmt.Errorf("merge: %s holds another evaluation (%s)", *out, strings.Join(diff, "; "))
		}
	} else if err := checkFreshDir(*out); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := removeStaleTemps(*out); err != nil {
		return err
	}
	if err := saveConfig(*out, merged); err != nil {
		return err
	}
	slices.SortFunc(records, func(a, b Record) int { return a.Index - b.Index })
	if err := writeFileAtomic(filepath.Join(*out, journalName), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range records {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("merge: write journal: %w", err)
	}
	written, err := writeReports(*out, merged, records, bins, tokenBins)
	if err != nil {
		return err
	}
	printReports(stdout, written)
	return nil
}

// readShards reads the configuration and journal of each shard directory
// and checks that together they are one evaluation, each shard once. The
// merged Config is the shards' with the shard cleared (0/1); trajectory
// paths are rewritten relative to out.
func readShards(out string, dirs []string, partial bool) (Config, []Record, error) {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return Config{}, nil, err
	}
	var (
		merged  Config
		count   int // of shards
		records []Record
		byShard = map[int]string{}
		ids     = map[string]string{}
	)
	for i, dir := range dirs {
		c, ok, err := loadConfig(dir)
		if err != nil {
			return Config{}, nil, fmt.Errorf("merge: %w", err)
		}
		if !ok {
			return Config{}, nil, fmt.Errorf("merge: %s has no %s: not an evaluation's output directory", dir, configName)
		}
		if absDir, _ := filepath.Abs(dir); absDir == absOut {
			return Config{}, nil, fmt.Errorf("merge: -out %s is one of the shards: merge into another directory", out)
		}
		shard := c.Shard
		c.Shard = Shard{Index: 0, Count: 1}
		if i == 0 {
			merged, count = c, shard.Count
			byShard[shard.Index] = dir
		} else {
			if diff := configDiff(merged, c); len(diff) > 0 {
				return Config{}, nil, fmt.Errorf("merge: %s and %s are different evaluations (%s)", dirs[0], dir, strings.Join(diff, "; "))
			}
			if shard.Count != count {
				return Config{}, nil, fmt.Errorf("merge: %s is shard %s, but %s splits the run %d ways", dir, shard, dirs[0], count)
			}
			if first := byShard[shard.Index]; first != "" {
				return Config{}, nil, fmt.Errorf("merge: %s and %s are both shard %s", first, dir, shard)
			}
			byShard[shard.Index] = dir
		}

		shardRecords, err := readJournal(filepath.Join(dir, journalName))
		if err != nil {
			return Config{}, nil, fmt.Errorf("merge: %w", err)
		}
		if !partial && !finished(dir, len(shardRecords)) {
			return Config{}, nil, fmt.Errorf("merge: shard %s in %s has not finished (no %s for its %d results): rerun it, or merge with -partial",
				shard, dir, summaryJSONName, len(shardRecords))
		}
		for _, r := range shardRecords {
			if other, ok := ids[r.ID]; ok {
				return Config{}, nil, fmt.Errorf("merge: example %s is in both %s and %s", r.ID, other, dir)
			}
			ids[r.ID] = dir
			if r.Trajectory != "" {
				if rel, err := filepath.Rel(absOut, absPath(filepath.Join(dir, filepath.FromSlash(r.Trajectory)))); err == nil {
					r.Trajectory = filepath.ToSlash(rel)
				}
			}
			records = append(records, r)
		}
	}
	var missing []string
	for k := range count {
		if byShard[k] == "" {
			missing = append(missing, Shard{Index: k, Count: count}.String())
		}
	}
	if len(missing) > 0 && !partial {
		return Config{}, nil, fmt.Errorf("merge: shards %s are missing; name every shard's directory, or merge with -partial", strings.Join(missing, ", "))
	}
	return merged, records, nil
}

// finished reports whether the shard in dir wrote its reports for all its
// records: a shard writes them only once every example of it is done.
func finished(dir string, records int) bool {
	data, err := os.ReadFile(filepath.Join(dir, summaryJSONName))
	if err != nil {
		return false
	}
	var s Summary
	return json.Unmarshal(data, &s) == nil && s.Examples == records
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
