// Package crd3test finds real Critical Role transcripts for tests: the full
// set beside the checkout when it is there (see oolong.TranscriptDir), else
// the excerpt the repository carries in testdata/crd3 (campaign 1, episodes
// 1 to 4, CC BY-SA 4.0), so that tests needing a few real episodes run in a
// clone made anywhere.
//
// Its functions are safe for concurrent use.
package crd3test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// Excerpt is what testdata/crd3 holds: these episodes of campaign 1.
var Excerpt = []int{1, 2, 3, 4}

// Dir returns a directory in the CRD3 layout (campaignN/CNE%03d.txt and
// characters.tsv) that holds the given episodes of campaign 1: the full set
// of transcripts when [oolong.TranscriptDir] finds it, else the excerpt
// under testdata/crd3 at the module root when the episodes are among
// [Excerpt]. Otherwise it skips the test, saying why.
func Dir(tb testing.TB, episodes ...int) string {
	tb.Helper()
	full, fullErr := oolong.TranscriptDir()
	if fullErr == nil {
		return full
	}
	for _, ep := range episodes {
		if ep < Excerpt[0] || ep > Excerpt[len(Excerpt)-1] {
			tb.Skipf("episode %d of campaign 1 is not in the excerpt and the full transcripts are not here: %v", ep, fullErr)
		}
	}
	dir, err := excerptDir()
	if err != nil {
		tb.Skipf("no transcripts: %v; and the excerpt: %v", fullErr, err)
	}
	return dir
}

// Episode returns the text of one episode of campaign 1, found as [Dir]
// finds it.
func Episode(tb testing.TB, episode int) string {
	tb.Helper()
	path := filepath.Join(Dir(tb, episode), "campaign1", fmt.Sprintf("C1E%03d.txt", episode))
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("crd3test: %v", err)
	}
	return string(data)
}

// excerptDir returns testdata/crd3 under the root of the module the working
// directory is in.
func excerptDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			excerpt := filepath.Join(dir, "testdata", "crd3")
			if _, err := os.Stat(filepath.Join(excerpt, "campaign1", "characters.tsv")); err != nil {
				return "", err
			}
			return excerpt, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
		dir = parent
	}
}
