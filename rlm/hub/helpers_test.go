package hub_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/hub/hubtest"
)

// gguf makes a valid GGUF v3 file without tensors: the header, then the
// metadata general.architecture, general.name and a general.description of
// descriptionBytes bytes to give it size.
func gguf(name string, descriptionBytes int) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	const typeString = 8
	b.WriteString("GGUF")
	le(uint32(3)) // version
	le(uint64(0)) // tensors
	le(uint64(3)) // metadata pairs
	description := strings.Repeat(fmt.Sprintf("%s, a generated test model. ", name), descriptionBytes/30+1)[:descriptionBytes]
	for _, kv := range [][2]string{{"general.architecture", "qwen2"}, {"general.name", name}, {"general.description", description}} {
		str(kv[0])
		le(uint32(typeString))
		str(kv[1])
	}
	return b.Bytes()
}

// dataset is a small split in OOLONG-real's JSONL shape.
func dataset(rows int) []byte {
	var b bytes.Buffer
	for i := range rows {
		fmt.Fprintf(&b, `{"id": "row-%d", "context_window_id": "w", "context_window_text": "[START OF EPISODE]\nMatt: Roll.\n[END OF EPISODE]", `+
			`"question": "Total number of rolls in this episode?", "answer": "%d", "question_type": "singledoc_rolls", "episodes": [1], "campaign": "campaign1"}`+"\n", i, i)
	}
	return b.Bytes()
}

// fixture is a loopback Hub with a model and a dataset repository.
type fixture struct {
	srv      *hubtest.Server
	cacheDir string
	// Contents.
	readme, model, big, split1, split2, data, parquet []byte
	modelCommit, dataCommit, parquetCommit            string
}

const (
	modelRepo   = "Qwen/Tiny-GGUF"
	datasetRepo = "oolongbench/oolong-real"
)

func newFixture(t *testing.T) *fixture {
	f := &fixture{srv: hubtest.NewServer(), cacheDir: t.TempDir()}
	t.Cleanup(f.srv.Close)
	f.readme = []byte("# Tiny GGUF\n")
	f.model = gguf("tiny-f16", 4<<10)
	f.big = gguf("tiny-q4", 300<<10)
	f.split1, f.split2 = gguf("tiny-q8-part1", 50<<10), gguf("tiny-q8-part2", 60<<10)
	f.modelCommit = f.srv.Commit(hub.Model, modelRepo, "main",
		hubtest.File{Path: "README.md", Content: f.readme},
		hubtest.File{Path: "tiny-BF16.gguf", Content: gguf("tiny-bf16", 1<<10), LFS: true},
		hubtest.File{Path: "tiny-F16.gguf", Content: f.model, LFS: true},
		hubtest.File{Path: "tiny-Q4_K_M.gguf", Content: f.big, LFS: true},
		hubtest.File{Path: "Q8_0/tiny-Q8_0-00001-of-00002.gguf", Content: f.split1, LFS: true},
		hubtest.File{Path: "Q8_0/tiny-Q8_0-00002-of-00002.gguf", Content: f.split2, LFS: true},
		hubtest.File{Path: "mmproj-tiny-F16.gguf", Content: gguf("projector", 1<<10), LFS: true},
	)
	f.data = dataset(20)
	f.dataCommit = f.srv.Commit(hub.Dataset, datasetRepo, "main",
		hubtest.File{Path: "README.md", Content: []byte("---\nconfigs: [dnd, toy_dnd]\n---\n")},
		hubtest.File{Path: "dnd/test.jsonl", Content: f.data, LFS: true},
		hubtest.File{Path: "toy_dnd/test.jsonl", Content: dataset(2)},
	)
	f.parquet = []byte("PAR1 not really parquet, but bytes the Hub serves PAR1")
	f.parquetCommit = f.srv.Commit(hub.Dataset, datasetRepo, "refs/convert/parquet",
		hubtest.File{Path: "dnd/test/0000.parquet", Content: f.parquet, LFS: true})
	return f
}

// client returns a Client of the fixture's Hub and cache, quiet unless a
// test logs.
func (f *fixture) client(opts ...hub.Option) *hub.Client {
	base := []hub.Option{
		hub.WithEndpoint(f.srv.URL), hub.WithCacheDir(f.cacheDir), hub.WithToken(""), hub.WithOffline(false),
		hub.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	return hub.New(append(base, opts...)...)
}

// requests counts the fixture's requests of a method to a server.
func (f *fixture) requests(server, method string) []hubtest.Request {
	var out []hubtest.Request
	for _, r := range f.srv.Requests() {
		if r.Server == server && r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return data
}

// cachePath is a path in the fixture's cache.
func (f *fixture) cachePath(parts ...string) string {
	return filepath.Join(append([]string{f.cacheDir}, parts...)...)
}
