package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
)

// File is a file of a repository, as the Hub lists it.
type File struct {
	Path string // slash-separated path in the repository
	Size int64  // bytes
	// OID is the git blob id. It is empty for files listed from the cache.
	OID string
	// LFS describes a file stored with Git LFS (large files), nil for
	// regular files and files listed from the cache.
	LFS *LFS
}

// LFS is what the Hub knows of a file stored with Git LFS.
type LFS struct {
	SHA256 string
	Size   int64
}

// treeEntry is an entry of the Hub's /api/{type}s/{repo}/tree listing.
type treeEntry struct {
	Type string `json:"type"` // "file" or "directory"
	OID  string `json:"oid"`
	Size int64  `json:"size"`
	Path string `json:"path"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// ListFiles lists the files of a repository at a revision ("" means main),
// all folders included, in the Hub's order (by path). In offline mode, or
// when the Hub cannot be reached, it lists the cached snapshot of the
// revision instead (paths and sizes only); with none cached the error is a
// [*NotCachedError].
func (c *Client) ListFiles(ctx context.Context, repo string, repoType RepoType, revision string) ([]File, error) {
	if repoType == "" {
		repoType = Model
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := c.check(repo, repoType, revision); err != nil {
		return nil, err
	}
	rc := c.repoCache(repoType, repo)
	listURL := c.treeURL(repoType, repo, revision)
	fromCache := func(cause error) ([]File, error) {
		if files, ok := rc.files(revision); ok {
			if cause != nil {
				c.logger.Warn("hub: listing the cached snapshot", "repo", repo, "error", cause)
			}
			return files, nil
		}
		return nil, &NotCachedError{Repo: repo, RepoType: repoType, Revision: revision, URL: listURL,
			CacheDir: rc.dir, Offline: c.offline, Err: cause}
	}
	if c.offline {
		return fromCache(nil)
	}
	files, err := c.listTree(ctx, listURL)
	if err != nil {
		var herr *HTTPError
		if ctx.Err() != nil || (errors.As(err, &herr) && !herr.transient()) {
			return nil, fmt.Errorf("hub: list %s: %w", repo, err)
		}
		return fromCache(err)
	}
	return files, nil
}

// nextLink finds the URL of the next page in a Link header.
var nextLink = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// listTree reads every page of a tree listing.
func (c *Client) listTree(ctx context.Context, pageURL string) ([]File, error) {
	var files []File
	for pageURL != "" {
		entries, next, err := c.listPage(ctx, pageURL)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type != "file" {
				continue
			}
			f := File{Path: e.Path, Size: e.Size, OID: e.OID}
			if e.LFS != nil {
				f.LFS = &LFS{SHA256: e.LFS.OID, Size: e.LFS.Size}
			}
			files = append(files, f)
		}
		pageURL = next
	}
	return files, nil
}

func (c *Client) listPage(ctx context.Context, pageURL string) ([]treeEntry, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, pageURL)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", httpError(resp)
	}
	var entries []treeEntry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		return nil, "", fmt.Errorf("%s: not a file listing: %w", pageURL, err)
	}
	next := ""
	if m := nextLink.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
		u, err := resp.Request.URL.Parse(m[1])
		if err != nil {
			return nil, "", fmt.Errorf("%s: bad next link %q: %w", pageURL, m[1], err)
		}
		next = u.String()
	}
	return entries, next, nil
}
