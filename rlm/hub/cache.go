package hub

// The cache layout is huggingface_hub's (file_download.py):
//
//	<cache>/models--owner--name/
//	    blobs/<etag>                       file contents, named by git SHA-1 or LFS SHA-256
//	    refs/<revision>                    the commit a branch or tag pointed to when last seen
//	    snapshots/<commit>/<path>          relative symlink to ../../blobs/<etag>
//	<cache>/.locks/models--owner--name/<etag>.lock
//
// A download in progress lives in blobs/<etag>.incomplete and is resumed
// from there, as huggingface_hub did until version 1.0.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// repoCache is one repository's folder in the cache.
type repoCache struct {
	dir   string // <cache>/models--owner--name
	locks string // <cache>/.locks/models--owner--name
}

func (c *Client) repoCache(t RepoType, repo string) repoCache {
	folder := repoFolder(t, repo)
	return repoCache{dir: filepath.Join(c.cacheDir, folder), locks: filepath.Join(c.cacheDir, ".locks", folder)}
}

func (rc repoCache) blob(etag string) string { return filepath.Join(rc.dir, "blobs", etag) }

func (rc repoCache) pointer(commit, file string) string {
	return filepath.Join(rc.dir, "snapshots", commit, filepath.FromSlash(file))
}

func (rc repoCache) lock(etag string) string { return filepath.Join(rc.locks, etag+".lock") }

// commit returns the commit a revision resolves to in the cache: the
// revision itself if it is a commit hash, else what refs/<revision> holds.
func (rc repoCache) commit(revision string) (string, bool) {
	if commitHash.MatchString(revision) {
		return revision, true
	}
	data, err := os.ReadFile(filepath.Join(rc.dir, "refs", filepath.FromSlash(revision)))
	if err != nil {
		return "", false
	}
	commit := strings.TrimSpace(string(data))
	return commit, commit != ""
}

// cached returns the snapshot path of a file at a revision if the cache has
// it (the symlink and its blob both present).
func (rc repoCache) cached(revision, file string) (string, bool) {
	commit, ok := rc.commit(revision)
	if !ok {
		return "", false
	}
	p := rc.pointer(commit, file)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// setRef records that revision points to commit, atomically, so that a
// concurrent reader never sees half a hash.
func (rc repoCache) setRef(revision, commit string) error {
	if revision == commit {
		return nil
	}
	ref := filepath.Join(rc.dir, "refs", filepath.FromSlash(revision))
	if data, err := os.ReadFile(ref); err == nil && string(data) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(ref, []byte(commit))
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// link points the snapshot path of a file at its blob with a relative
// symlink, as huggingface_hub does, or copies the blob where symlinks are
// not supported.
func (rc repoCache) link(commit, file, etag string) (string, error) {
	pointer, blob := rc.pointer(commit, file), rc.blob(etag)
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return "", err
	}
	err = os.Symlink(rel, pointer)
	switch {
	case err == nil:
		return pointer, nil
	case errors.Is(err, fs.ErrExist):
		if target, rerr := os.Readlink(pointer); rerr == nil && target == rel {
			return pointer, nil
		}
		if rerr := os.Remove(pointer); rerr != nil {
			return "", rerr
		}
		return pointer, os.Symlink(rel, pointer)
	default: // no symlinks here: copy, as huggingface_hub does
		data, rerr := os.ReadFile(blob)
		if rerr != nil {
			return "", fmt.Errorf("%w (and reading the blob to copy it: %w)", err, rerr)
		}
		return pointer, writeFileAtomic(pointer, data)
	}
}

// files lists the files of the snapshot a revision resolves to, in lexical
// order of their paths.
func (rc repoCache) files(revision string) ([]File, bool) {
	commit, ok := rc.commit(revision)
	if !ok {
		return nil, false
	}
	root := filepath.Join(rc.dir, "snapshots", commit)
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // through the symlink
		if err != nil {
			return nil // a dangling link: the blob is gone
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, File{Path: filepath.ToSlash(rel), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, false
	}
	return files, true
}
