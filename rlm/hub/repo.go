package hub

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// RepoType is the kind of a repository on the Hub.
type RepoType string

const (
	Model   RepoType = "model"
	Dataset RepoType = "dataset"
	Space   RepoType = "space"
)

// DefaultRevision is the branch used when no revision is given.
const DefaultRevision = "main"

func (t RepoType) valid() bool { return t == Model || t == Dataset || t == Space }

// urlPrefix is the path prefix of the repository's pages and files.
func (t RepoType) urlPrefix() string {
	if t == Model {
		return ""
	}
	return string(t) + "s/"
}

var (
	repoNamePart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	commitHash   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// checkRepo validates a repository id, "owner/name" or a legacy "name", as
// the Hub allows them: letters, digits, '_', '.', '-', and no "--" or "..",
// which would make cache folder names ambiguous or escape them.
func checkRepo(repo string) error {
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return fmt.Errorf("hub: invalid repository %q: want owner/name", repo)
	}
	for _, p := range parts {
		if !repoNamePart.MatchString(p) || strings.Contains(p, "--") || strings.Contains(p, "..") ||
			strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.HasPrefix(p, "-") {
			return fmt.Errorf("hub: invalid repository %q", repo)
		}
	}
	return nil
}

// checkFilePath validates the path of a file in a repository: relative,
// slash-separated, with no empty, "." or ".." parts.
func checkFilePath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return fmt.Errorf("hub: invalid file path %q", p)
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("hub: invalid file path %q", p)
		}
	}
	return nil
}

// checkRevision validates a revision (branch, tag or commit): it becomes a
// path under refs/ in the cache.
func checkRevision(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "/") || path.Clean(rev) != rev || strings.HasPrefix(rev, "..") {
		return fmt.Errorf("hub: invalid revision %q", rev)
	}
	return nil
}

// repoFolder is the repository's folder name in the cache, as
// huggingface_hub names it: models--owner--name.
func repoFolder(t RepoType, repo string) string {
	return string(t) + "s--" + strings.ReplaceAll(repo, "/", "--")
}

// escapePath escapes each part of a slash-separated path for a URL.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	return strings.Join(parts, "/")
}

// resolveURL is the address of a file at a revision:
// {endpoint}/[datasets/]{repo}/resolve/{revision}/{path}, the revision
// escaped whole (refs/convert/parquet becomes refs%2Fconvert%2Fparquet).
func (c *Client) resolveURL(t RepoType, repo, revision, file string) string {
	return c.endpoint + "/" + t.urlPrefix() + repo + "/resolve/" + url.PathEscape(revision) + "/" + escapePath(file)
}

// treeURL is the address of the file listing of a revision.
func (c *Client) treeURL(t RepoType, repo, revision string) string {
	return c.endpoint + "/api/" + string(t) + "s/" + repo + "/tree/" + url.PathEscape(revision) +
		"?recursive=true&expand=false"
}
