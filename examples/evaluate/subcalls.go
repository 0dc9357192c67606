package main

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/go-rlm/rlm/rlm"
)

// subCallsName is the file in which an output directory keeps the worker's
// answers (-share), so that a rerun does not ask the worker again.
const subCallsName = "subcalls.jsonl"

// openSubCallCache opens the memo of the worker's answers in dir: the
// answers its file holds, and the file appended to with every new answer.
// A last line cut short by a kill is cut off the file before it is read,
// so that no answer comes from a torn entry and the next entry starts a
// fresh line. The evaluation holds the journal's lock, so no other process
// writes the file. Call closeFile when done.
func openSubCallCache(dir string) (cache *rlm.MemoryCache, closeFile func() error, err error) {
	path := filepath.Join(dir, subCallsName)
	f, created, err := openLog(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sub-call cache: %w", err)
	}
	if created {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("sub-call cache: %w", err)
		}
	}
	data, _, err := cutTornLine(f)
	if err == nil {
		cache, err = rlm.ReadMemoryCache(bytes.NewReader(data))
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("sub-call cache: %s: %w", path, err)
	}
	cache.SetJournal(f)
	return cache, f.Close, nil
}
