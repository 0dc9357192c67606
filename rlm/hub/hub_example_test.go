package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/hub/hubtest"
)

// A loopback Hub stands in for huggingface.co in the examples. It returns
// the server, a cache folder and the dataset's commit.
func exampleHub() (*hubtest.Server, string, string) {
	srv := hubtest.NewServer()
	commit := srv.Commit(hub.Dataset, "oolongbench/oolong-real", "main",
		hubtest.File{Path: "dnd/test.jsonl", Content: dataset(3), LFS: true})
	srv.Commit(hub.Model, "Qwen/Tiny-GGUF", "main",
		hubtest.File{Path: "tiny-F16.gguf", Content: gguf("tiny-f16", 1000), LFS: true},
		hubtest.File{Path: "tiny-Q8_0-00001-of-00002.gguf", Content: gguf("part 1", 1000), LFS: true},
		hubtest.File{Path: "tiny-Q8_0-00002-of-00002.gguf", Content: gguf("part 2", 1000), LFS: true})
	cache, err := os.MkdirTemp("", "hub-example-")
	if err != nil {
		panic(err)
	}
	return srv, cache, commit
}

func ExampleClient_Download() {
	srv, cache, commit := exampleHub()
	defer srv.Close()
	defer os.RemoveAll(cache)

	c := hub.New(hub.WithEndpoint(srv.URL), hub.WithCacheDir(cache),
		hub.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	path, err := c.Download(context.Background(), "oolongbench/oolong-real", hub.Dataset, "main", "dnd/test.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	rel, _ := filepath.Rel(cache, path)
	fmt.Println(strings.Replace(filepath.ToSlash(rel), commit, "<commit>", 1))
	data, _ := os.ReadFile(path)
	fmt.Println(bytes.Count(data, []byte("\n")), "rows")
	// Output:
	// datasets--oolongbench--oolong-real/snapshots/<commit>/dnd/test.jsonl
	// 3 rows
}

func ExampleClient_ResolveModel() {
	srv, cache, _ := exampleHub()
	defer srv.Close()
	defer os.RemoveAll(cache)

	c := hub.New(hub.WithEndpoint(srv.URL), hub.WithCacheDir(cache),
		hub.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	for _, spec := range []string{"hf://Qwen/Tiny-GGUF:F16", "hf://Qwen/Tiny-GGUF:q8_0"} {
		paths, err := c.ResolveModel(context.Background(), spec)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range paths {
			fmt.Println(spec, "→", filepath.Base(p))
		}
	}
	// Output:
	// hf://Qwen/Tiny-GGUF:F16 → tiny-F16.gguf
	// hf://Qwen/Tiny-GGUF:q8_0 → tiny-Q8_0-00001-of-00002.gguf
	// hf://Qwen/Tiny-GGUF:q8_0 → tiny-Q8_0-00002-of-00002.gguf
}

func ExampleNotCachedError() {
	c := hub.New(hub.WithOffline(true), hub.WithEndpoint(hub.DefaultEndpoint), hub.WithCacheDir("/nonexistent/cache"))
	_, err := c.ResolveModel(context.Background(), "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-fp16.gguf")
	fmt.Println(err)
	// Output:
	// hub: model Qwen/Qwen2.5-0.5B-Instruct-GGUF@main: cannot get qwen2.5-0.5b-instruct-fp16.gguf: offline mode is on (HF_HUB_OFFLINE) so https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-fp16.gguf was not requested, and the cache has no copy in /nonexistent/cache/models--Qwen--Qwen2.5-0.5B-Instruct-GGUF. Ways out: unset HF_HUB_OFFLINE to download; set HF_ENDPOINT to a Hub mirror you can reach; give a local file path instead of an hf:// spec; or copy the files into the cache folder above (huggingface-cli download on a connected machine fills it; HF_HOME or HF_HUB_CACHE point to it)
}
