package llamatest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-rlm/rlm/llama/gguf"
)

// generatorVersion names the way WriteModel draws a model. Bump it whenever
// the bytes written for a config change, so that cached files from before
// are not reused.
const generatorVersion = 3

// models maps a cache key to the path of a model checked in this process.
var models sync.Map // string → *cachedModel

type cachedModel struct {
	once sync.Once
	path string
	err  error
}

// Model returns the path of the model cfg describes, writing it at most once
// per process and config. Files live in a directory under the system's
// temporary directory ($TMPDIR), named after the config and generator
// version, where later test processes find and reuse them. A process that
// wants a file another process is writing waits for it rather than writing
// it too, and files are written under a temporary name and renamed, so no
// process sees a partial file. Model fails the test when the model cannot
// be written. It is safe for concurrent use.
func Model(tb testing.TB, cfg Config) string {
	tb.Helper()
	path, err := cachedPath(cfg)
	if err != nil {
		tb.Fatalf("llamatest: %v", err)
	}
	return path
}

func cachedPath(cfg Config) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	cfg = cfg.withDefaults()
	vocab := cfg.vocab().digest()
	keyed := cfg
	keyed.Vocab = nil // named by its digest instead
	sum := sha256.Sum256(fmt.Appendf(nil, "v%d %#v %s", generatorVersion, keyed, vocab))
	key := hex.EncodeToString(sum[:8])
	entry, _ := models.LoadOrStore(key, &cachedModel{})
	m := entry.(*cachedModel)
	m.once.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("rlm-llamatest-%d", os.Getuid()))
		if m.err = os.MkdirAll(dir, 0o755); m.err != nil {
			return
		}
		m.path = filepath.Join(dir, key+".gguf")
		if gguf.Validate(m.path) == nil {
			return // written by an earlier process
		}
		// Test processes of several packages, started at once by go test,
		// often want the same model: one writes it while the others wait.
		unlock, err := lockFile(m.path + ".lock")
		if err != nil {
			m.err = err
			return
		}
		defer unlock()
		if gguf.Validate(m.path) == nil {
			return // written by another process meanwhile
		}
		m.err = WriteModel(m.path, cfg)
	})
	return m.path, m.err
}
