package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// journalName is the journal's file name in an output directory.
const journalName = "results.jsonl"

// errBusy is returned by openJournal when another process holds the
// journal.
var errBusy = errors.New("another evaluate process is writing this output directory")

// Journal is the durable record of finished examples: one JSON line per
// example, each appended and synced to disk before the next example begins.
// A process killed at any moment leaves at most a torn last line, which
// openJournal cuts off, so the example in flight is lost and none is
// recorded twice. An open Journal holds an exclusive lock on its file, so
// that two processes never append to one journal.
//
// A Journal is not safe for concurrent use.
type Journal struct {
	f       *os.File
	path    string
	records []Record
	done    map[string]bool
	unlock  func()
	// torn is the length of the torn last line openJournal cut off.
	torn int
}

// openJournal opens the journal at path, creating it (and syncing its
// directory, so that the new entry survives a crash) when it does not
// exist, and reads the records it holds. A last line without its newline is
// the trace of a process killed while appending: it is cut off. Any other
// malformed line, or an example recorded twice, is an error.
func openJournal(path string) (*Journal, error) {
	f, created, err := openLog(path)
	if err != nil {
		return nil, fmt.Errorf("journal: open: %w", err)
	}
	j := &Journal{f: f, path: path, done: map[string]bool{}}
	if j.unlock, err = lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			j.Close()
			return nil, fmt.Errorf("journal: create: %w", err)
		}
	}
	if err := j.load(); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// load reads the records and cuts off a torn last line.
func (j *Journal) load() error {
	data, torn, err := cutTornLine(j.f)
	if err != nil {
		return fmt.Errorf("journal: %s: %w", j.path, err)
	}
	j.torn = torn
	records, err := parseJournal(j.path, data)
	if err != nil {
		return err
	}
	for _, r := range records {
		j.done[r.ID] = true
	}
	j.records = records
	return nil
}

// Done reports whether the example is recorded.
func (j *Journal) Done(id string) bool { return j.done[id] }

// Records returns the records in the order they were appended.
func (j *Journal) Records() []Record { return append([]Record(nil), j.records...) }

// Append writes r as one line, in one write, and syncs the file before it
// returns.
func (j *Journal) Append(r Record) error {
	if j.f == nil {
		return fmt.Errorf("journal: append: %w", os.ErrClosed)
	}
	if j.done[r.ID] {
		return fmt.Errorf("journal: append: example %s is already recorded", r.ID)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: append: %w", err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal: append: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: append: sync: %w", err)
	}
	j.done[r.ID] = true
	j.records = append(j.records, r)
	return nil
}

// Close releases the lock and closes the file. It is safe to call more
// than once, and on a nil Journal.
func (j *Journal) Close() error {
	if j == nil || j.f == nil {
		return nil
	}
	if j.unlock != nil {
		j.unlock()
	}
	err := j.f.Close()
	j.f = nil
	if err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// readJournal reads the records of a journal without locking it or
// changing it (a torn last line is skipped), for merging the journals of
// shards.
func readJournal(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return parseJournal(path, data[:bytes.LastIndexByte(data, '\n')+1])
}

// parseJournal parses complete journal lines: each a record with an id,
// no id twice.
func parseJournal(path string, data []byte) ([]Record, error) {
	var records []Record
	seen := map[string]bool{}
	for lineNo, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("journal: %s line %d: %w", path, lineNo+1, err)
		}
		if r.ID == "" {
			return nil, fmt.Errorf("journal: %s line %d: record without an id", path, lineNo+1)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("journal: %s line %d: example %s recorded twice", path, lineNo+1, r.ID)
		}
		seen[r.ID] = true
		records = append(records, r)
	}
	return records, nil
}
