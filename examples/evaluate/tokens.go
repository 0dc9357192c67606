package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"
)

// tokenCountsName is the file in which an output directory keeps the length
// of each context window it has measured.
const tokenCountsName = "context_tokens.jsonl"

// windowLength is the length of a context window: a line of the token
// counts file. Bytes and CRC identify the text it was measured on, so that
// a count is never taken for another text under the same id.
type windowLength struct {
	ID     string `json:"context_window_id"`
	Bytes  int    `json:"bytes"`
	CRC    uint32 `json:"crc32c"`
	Chars  int    `json:"chars"`
	Tokens int    `json:"tokens"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tokenCounts measures context windows, counting the tokens of each one
// once: tokenizing a window of a million tokens takes seconds, and a split
// asks many questions about each window. Counts are appended to a file as
// they are made (one line each, synced), so that a run killed while
// counting keeps what it counted, and a rerun reads them back.
//
// A tokenCounts is safe for concurrent use.
type tokenCounts struct {
	count func(text string) (int, error)

	mu      sync.Mutex
	f       *os.File
	path    string
	known   map[string]windowLength
	counted int           // windows counted by this process
	elapsed time.Duration // spent counting them, summed over threads
}

// openTokenCounts opens the token counts file at path, creating it when it
// does not exist, and reads the counts it holds (cutting off a torn last
// line). count counts the tokens of a text.
func openTokenCounts(path string, count func(text string) (int, error)) (*tokenCounts, error) {
	f, created, err := openLog(path)
	if err != nil {
		return nil, fmt.Errorf("token counts: %w", err)
	}
	t := &tokenCounts{count: count, f: f, path: path, known: map[string]windowLength{}}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("token counts: %w", err)
		}
	}
	data, _, err := cutTornLine(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("token counts: %s: %w", path, err)
	}
	for lineNo, line := range bytes.Split(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var w windowLength
		if err := json.Unmarshal(line, &w); err != nil || w.ID == "" {
			f.Close()
			return nil, fmt.Errorf("token counts: %s line %d: not a window's length", path, lineNo+1)
		}
		t.known[w.ID] = w
	}
	return t, nil
}

// measure returns the length of the context window id whose text is text:
// from the file when it holds a count of this very text, else counted now
// and appended to the file.
func (t *tokenCounts) measure(id, text string) (windowLength, error) {
	w := windowLength{ID: id, Bytes: len(text), CRC: crc32.Checksum([]byte(text), castagnoli)}
	t.mu.Lock()
	known, ok := t.known[id]
	t.mu.Unlock()
	if ok && known.Bytes == w.Bytes && known.CRC == w.CRC {
		return known, nil
	}
	start := time.Now()
	tokens, err := t.count(text)
	if err != nil {
		return windowLength{}, fmt.Errorf("count the tokens of context window %s: %w", id, err)
	}
	w.Tokens, w.Chars = tokens, utf8.RuneCountInString(text)
	line, err := json.Marshal(w)
	if err != nil {
		return windowLength{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counted++
	t.elapsed += time.Since(start)
	t.known[id] = w
	if t.f == nil {
		return windowLength{}, fmt.Errorf("token counts: %w", os.ErrClosed)
	}
	if _, err := t.f.Write(append(line, '\n')); err != nil {
		return windowLength{}, fmt.Errorf("token counts: %w", err)
	}
	if err := t.f.Sync(); err != nil {
		return windowLength{}, fmt.Errorf("token counts: %w", err)
	}
	return w, nil
}

// Close closes the file; it is safe to call more than once.
func (t *tokenCounts) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// measureEach measures the windows received on jobs (id and text), with
// threads goroutines, until jobs is closed, and returns their lengths by id
// and the first error, which it also passes to stop. After an error it takes
// the other jobs without measuring them, so that the sender never blocks.
func (t *tokenCounts) measureEach(jobs <-chan [2]string, threads int, stop func(error)) (map[string]windowLength, error) {
	var (
		mu      sync.Mutex
		lengths = map[string]windowLength{}
		first   error
		wg      sync.WaitGroup
	)
	for range max(threads, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					continue
				}
				w, err := t.measure(job[0], job[1])
				mu.Lock()
				if err != nil && first == nil {
					first = err
					stop(err)
				}
				lengths[job[0]] = w
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lengths, first
}

// stats says how many windows this process counted and the time it took,
// summed over threads.
func (t *tokenCounts) stats() (counted int, elapsed time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counted, t.elapsed
}
