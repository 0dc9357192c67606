// Package hub downloads models and datasets from the Hugging Face Hub, in
// Go, into the cache the huggingface_hub Python library uses.
//
// # Downloads
//
// [Client.Download] fetches one file of a repository at a revision:
//
//	c := hub.New() // HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE honoured
//	path, err := c.Download(ctx, "oolongbench/oolong-real", hub.Dataset, "main", "dnd/test.jsonl")
//
// A download resumes a partial one (HTTP ranges), is retried where the
// connection drops, is checked against the size and hash (SHA-256 for LFS
// files, git blob SHA-1 otherwise) that the Hub announces, and is renamed
// into place atomically. [WithProgress] shows a bar with rate and ETA.
//
// # Models
//
// [Client.ResolveModel] turns a model spec into local GGUF paths:
// "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF:F16" picks the F16 file from the
// repository's listing ([Client.ListFiles]) as llama.cpp's "-hf repo:quant"
// does, with every part of a split model; "hf://owner/repo/file.gguf" names
// a file; anything else is a local path.
//
// # Cache
//
// The cache is huggingface_hub's: <cache>/models--owner--name/ (or
// datasets--...) holds blobs/<etag>, refs/<revision> and
// snapshots/<commit>/<path> symlinks. Files Python downloaded are used as
// they are and files downloaded here are visible to Python. The cache folder
// is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
//
// # Offline and unreachable
//
// In offline mode ($HF_HUB_OFFLINE=1 or [WithOffline]) nothing is
// requested; files and listings come from the cache. When the Hub cannot be
// reached (connections give up after 5s) the cache is used too. What the
// cache lacks then fails at once with a [*NotCachedError] that names the
// files, the URL and the ways out: a reachable HF_ENDPOINT, a local path, or
// filling the cache folder. Errors match [ErrOffline], [ErrUnreachable],
// [ErrNotFound], [ErrUnauthorized], [ErrIntegrity] and [ErrNoMatch] with
// errors.Is.
//
// # Testing
//
// Package hubtest runs a Hub on loopback, with the redirects, ranges and
// ETags clients depend on.
//
// # Concurrency
//
// A [Client] is safe for concurrent use; downloads of one file, from any
// number of goroutines or processes, are serialised by a lock file.
package hub
