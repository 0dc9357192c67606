package rlm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// SubCallCache stores worker answers for [WithSubCallCache], under keys
// made by [SubCallKey]. Implementations must be safe for concurrent use.
type SubCallCache interface {
	// Get returns the answer stored under key.
	Get(key string) (answer string, ok bool)
	// Put stores an answer the worker gave.
	Put(key, answer string)
}

// SubCallKey is the key a worker call is stored under: a hash of the
// worker's name, its fingerprint ([Fingerprinter], empty when it has none)
// and the messages sent.
func SubCallKey(worker, fingerprint string, messages []Message) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	// Encoding to a hash cannot fail.
	_ = enc.Encode([]any{"rlm-subcall-v1", worker, fingerprint, messages})
	return hex.EncodeToString(h.Sum(nil))
}

// fingerprintOf returns lm's fingerprint, or "".
func fingerprintOf(lm LM) string {
	if f, ok := lm.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	return ""
}

// MemoryCache is a [SubCallCache] in memory. It persists through JSONL:
// [ReadMemoryCache] loads what [MemoryCache.WriteTo] or a journal
// ([MemoryCache.SetJournal]) wrote, so that a caller can keep answers
// across restarts. It is safe for concurrent use.
type MemoryCache struct {
	mu      sync.Mutex
	answers map[string]string
	journal io.Writer
	err     error
}

// cacheLine is one stored answer in JSONL.
type cacheLine struct {
	Key    string `json:"key"`
	Answer string `json:"answer"`
}

// NewMemoryCache returns an empty cache.
func NewMemoryCache() *MemoryCache { return &MemoryCache{answers: map[string]string{}} }

// ReadMemoryCache reads a cache written as JSONL. A last line cut short, as
// a crash while journaling leaves it, is skipped; any other malformed line
// is an error.
func ReadMemoryCache(r io.Reader) (*MemoryCache, error) {
	c := NewMemoryCache()
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		last := errors.Is(err, io.EOF)
		if len(line) > 0 {
			var l cacheLine
			if jerr := json.Unmarshal(line, &l); jerr != nil || l.Key == "" {
				if last {
					return c, nil
				}
				return c, fmt.Errorf("rlm: read cache: line %d: not a cache entry", lineNo)
			}
			c.answers[l.Key] = l.Answer
		}
		if last {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("rlm: read cache: %w", err)
		}
	}
}

// SetJournal makes the cache append every answer it stores from now on to
// w as a line of JSONL, the format [ReadMemoryCache] reads: with w a file
// opened for appending, answers survive a crash.
func (c *MemoryCache) SetJournal(w io.Writer) {
	c.mu.Lock()
	c.journal = w
	c.mu.Unlock()
}

// Err returns the first error met while writing the journal; after one,
// the journal is no longer written.
func (c *MemoryCache) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Get returns the answer stored under key.
func (c *MemoryCache) Get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	answer, ok := c.answers[key]
	return answer, ok
}

// Put stores answer under key, and journals it when it is new.
func (c *MemoryCache) Put(key, answer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.answers[key]; ok && old == answer {
		return
	}
	c.answers[key] = answer
	if c.journal == nil || c.err != nil {
		return
	}
	if err := writeCacheLine(c.journal, key, answer); err != nil {
		c.err = fmt.Errorf("rlm: cache journal: %w", err)
	}
}

// Len returns the number of stored answers.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.answers)
}

// WriteTo writes every stored answer as JSONL.
func (c *MemoryCache) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	c.mu.Lock()
	for key, answer := range c.answers {
		if err := writeCacheLine(&buf, key, answer); err != nil {
			c.mu.Unlock()
			return 0, fmt.Errorf("rlm: write cache: %w", err)
		}
	}
	c.mu.Unlock()
	n, err := buf.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("rlm: write cache: %w", err)
	}
	return n, nil
}

func writeCacheLine(w io.Writer, key, answer string) error {
	line, err := json.Marshal(cacheLine{Key: key, Answer: answer})
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
