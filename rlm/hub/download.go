package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-rlm/rlm/rlm/progress"
)

// Download returns the local path of a file of a repository at a revision
// (a branch, tag or commit; "" means main), downloading it into the cache
// unless it is there. repoType "" means [Model].
//
// As huggingface_hub does, it first asks the Hub which commit the revision
// is at and what the file's ETag (content hash) and size are; a file cached
// under that commit is returned at once. Otherwise the content is
// downloaded, resuming a partial download left by an earlier attempt (HTTP
// ranges), retried where the connection drops, checked against the size and
// hash, and renamed into place atomically. When the Hub cannot be reached, or
// in offline mode, the cached copy of the revision is returned; if there is
// none, the error is a [*NotCachedError] naming the file, the URL and the
// ways out.
//
// The path returned is in the cache's snapshots folder: a symlink to the
// blob, to be read and not written.
func (c *Client) Download(ctx context.Context, repo string, repoType RepoType, revision, file string) (string, error) {
	if repoType == "" {
		repoType = Model
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := c.check(repo, repoType, revision); err != nil {
		return "", err
	}
	if err := checkFilePath(file); err != nil {
		return "", err
	}
	rc := c.repoCache(repoType, repo)
	fileURL := c.resolveURL(repoType, repo, revision, file)
	notCached := func(err error) error {
		return &NotCachedError{Repo: repo, RepoType: repoType, Revision: revision, Files: []string{file},
			URL: fileURL, CacheDir: rc.dir, Offline: c.offline, Err: err}
	}

	// A commit names content that never changes: a cached copy is it.
	if commitHash.MatchString(revision) || c.offline {
		if p, ok := rc.cached(revision, file); ok {
			c.logger.Debug("hub: cached", "repo", repo, "file", file, "path", p)
			return p, nil
		}
		if c.offline {
			return "", notCached(nil)
		}
	}

	meta, err := c.head(ctx, fileURL)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("hub: download %s from %s: %w", file, repo, ctx.Err())
		}
		var herr *HTTPError
		isHTTP := errors.As(err, &herr)
		if isHTTP && (herr.Code == "EntryNotFound" || herr.Code == "RevisionNotFound") {
			return "", fmt.Errorf("hub: download %s from %s: %w", file, repo, err)
		}
		// Unreachable, failing or refusing: a cached copy will do.
		if p, ok := rc.cached(revision, file); ok {
			c.logger.Warn("hub: using the cached copy", "repo", repo, "file", file, "error", err)
			return p, nil
		}
		if isHTTP && !herr.transient() {
			return "", fmt.Errorf("hub: download %s from %s: %w", file, repo, err)
		}
		return "", notCached(err)
	}

	if err := rc.setRef(revision, meta.commit); err != nil {
		return "", fmt.Errorf("hub: download %s: record revision: %w", file, err)
	}
	pointer := rc.pointer(meta.commit, file)
	if _, err := os.Stat(pointer); err == nil {
		return pointer, nil
	}
	if _, err := os.Stat(rc.blob(meta.etag)); err != nil {
		if err := c.fetch(ctx, rc, file, meta); err != nil {
			return "", err
		}
	}
	pointer, err = rc.link(meta.commit, file, meta.etag)
	if err != nil {
		return "", fmt.Errorf("hub: download %s: link snapshot: %w", file, err)
	}
	return pointer, nil
}

func (c *Client) check(repo string, repoType RepoType, revision string) error {
	if !repoType.valid() {
		return fmt.Errorf("hub: invalid repository type %q", repoType)
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	return checkRevision(revision)
}

// fileMeta is what the Hub says about a file at a revision.
type fileMeta struct {
	commit   string // the commit the revision is at
	etag     string // git SHA-1 of a regular file, SHA-256 of an LFS file
	size     int64
	location string // where to GET the content: the CDN for LFS files
}

// head asks the Hub about a file, following the relative redirects of a
// renamed repository but not the absolute one to the CDN, whose headers
// (X-Linked-Etag, X-Linked-Size) describe the file.
func (c *Client) head(ctx context.Context, fileURL string) (fileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	client := *c.http
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	target := fileURL
	for redirects := 0; ; redirects++ {
		req, err := c.newRequest(ctx, http.MethodHead, target)
		if err != nil {
			return fileMeta{}, err
		}
		req.Header.Set("Accept-Encoding", "identity") // the real size, not a compressed one
		resp, err := client.Do(req)
		if err != nil {
			return fileMeta{}, err
		}
		resp.Body.Close()
		location := ""
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				return fileMeta{}, fmt.Errorf("%s: redirect without a valid Location", target)
			}
			next := resp.Request.URL.ResolveReference(loc).String()
			if loc.Host == "" && redirects < 10 {
				target = next
				continue
			}
			location = next
		} else if resp.StatusCode != http.StatusOK {
			return fileMeta{}, httpError(resp)
		}
		return metaFromHeaders(resp, target, location)
	}
}

func metaFromHeaders(resp *http.Response, target, location string) (fileMeta, error) {
	h := resp.Header
	meta := fileMeta{commit: h.Get("X-Repo-Commit"), location: location}
	if meta.location == "" {
		meta.location = target
	}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	meta.etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	size := h.Get("X-Linked-Size")
	if size == "" && location == "" {
		size = h.Get("Content-Length")
	}
	var err error
	if meta.size, err = strconv.ParseInt(size, 10, 64); err != nil || meta.size < 0 {
		return fileMeta{}, fmt.Errorf("%s: no file size in the response (Content-Length, X-Linked-Size)", target)
	}
	if meta.commit == "" {
		return fileMeta{}, fmt.Errorf("%s: not a Hugging Face Hub response (no X-Repo-Commit header): check HF_ENDPOINT and the proxy", target)
	}
	if meta.etag == "" || strings.ContainsAny(meta.etag, `/\`) || strings.Contains(meta.etag, "..") {
		return fileMeta{}, fmt.Errorf("%s: no usable ETag in the response (%q)", target, etag)
	}
	return meta, nil
}

// newRequest builds a request with the client's User-Agent, and its token
// when the request goes to the Hub itself (never to the CDN).
func (c *Client) newRequest(ctx context.Context, method, target string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		if endpoint, err := url.Parse(c.endpoint); err == nil && endpoint.Host == req.URL.Host {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
	}
	return req, nil
}

func httpError(resp *http.Response) *HTTPError {
	e := &HTTPError{StatusCode: resp.StatusCode, URL: resp.Request.URL.String(),
		Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message")}
	if e.Message == "" && resp.Request.Method != http.MethodHead {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// fetch downloads a file's content into its blob, under the blob's lock.
func (c *Client) fetch(ctx context.Context, rc repoCache, file string, meta fileMeta) error {
	fail := func(err error) error { return fmt.Errorf("hub: download %s: %w", file, err) }
	unlock, err := lockFile(ctx, rc.lock(meta.etag))
	if err != nil {
		return fail(err)
	}
	defer unlock()
	blob := rc.blob(meta.etag)
	if _, err := os.Stat(blob); err == nil {
		return nil // another process downloaded it while this one waited
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return fail(err)
	}
	partial := blob + ".incomplete"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	defer f.Close()

	check := newChecksum(meta.etag, meta.size)
	offset, err := resumeOffset(f, meta.size, check)
	if err != nil {
		return fail(err)
	}
	var bar *progress.Bar
	if c.progress != nil {
		bar = progress.New(c.progress, path.Base(file), meta.size,
			progress.WithUnit(progress.Bytes), progress.WithInitial(offset))
	}
	if offset > 0 {
		c.logger.Info("hub: resuming download", "file", file, "from", offset, "size", meta.size)
	} else {
		c.logger.Info("hub: downloading", "file", file, "size", meta.size, "url", meta.location)
	}

	for attempt := 1; offset < meta.size || meta.size == 0; attempt++ {
		before := offset
		offset, err = c.get(ctx, meta, offset, f, check, bar)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fail(ctx.Err()) // the partial file stays, to resume
		}
		var herr *HTTPError
		if errors.As(err, &herr) && !herr.transient() {
			return fail(err)
		}
		if offset > before {
			attempt = 1 // progress: the retries count again
		}
		if attempt > c.retries {
			return fail(fmt.Errorf("giving up after %d attempts: %w", attempt, err))
		}
		c.logger.Warn("hub: download interrupted, resuming", "file", file, "at", offset, "error", err)
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(c.retryDelay * time.Duration(attempt)):
		}
	}
	bar.Finish()

	if offset != meta.size || !check.matches() {
		f.Close()
		os.Remove(partial)
		return fail(fmt.Errorf("%w: got %d bytes of %d, want %s", ErrIntegrity, offset, meta.size, meta.etag))
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(partial, blob); err != nil {
		return fail(err)
	}
	return nil
}

// resumeOffset returns how much of the file a partial download already
// has, feeding it to the checksum; a partial file longer than the file is
// started over.
func resumeOffset(f *os.File, size int64, check *checksum) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	offset := info.Size()
	if offset > size {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		offset = 0
	}
	if offset > 0 {
		if _, err := io.Copy(check, io.NewSectionReader(f, 0, offset)); err != nil {
			return 0, err
		}
	}
	_, err = f.Seek(offset, io.SeekStart)
	return offset, err
}

// errStalled is the cause of a download cancelled for receiving nothing.
var errStalled = errors.New("download stalled")

// get requests the content from offset on and appends it to f, returning
// the new offset. A server that ignores the range sends the whole file,
// which then replaces what f had.
func (c *Client) get(ctx context.Context, meta fileMeta, offset int64, f *os.File, check *checksum, bar *progress.Bar) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := c.newRequest(ctx, http.MethodGet, meta.location)
	if err != nil {
		return offset, err
	}
	// Uncompressed, so that byte ranges and sizes are the file's own.
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return offset, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			return offset, fmt.Errorf("%s: asked for bytes from %d, got %q", meta.location, offset, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK:
		if offset > 0 { // the range was ignored: start over
			if err := restart(f, check); err != nil {
				return offset, err
			}
			offset = 0
			bar.Set(0)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if offset == meta.size {
			return offset, nil
		}
		if err := restart(f, check); err != nil {
			return offset, err
		}
		return 0, fmt.Errorf("%s: range from %d not satisfiable: starting over", meta.location, offset)
	default:
		return offset, httpError(resp)
	}

	stall := time.AfterFunc(c.stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	body := readerFunc(func(p []byte) (int, error) {
		n, err := resp.Body.Read(p)
		stall.Reset(c.stallTimeout)
		return n, err
	})
	n, err := io.Copy(io.MultiWriter(f, check, bar), body)
	offset += n
	if err != nil && errors.Is(context.Cause(ctx), errStalled) {
		err = fmt.Errorf("%w: nothing received for %v", errStalled, c.stallTimeout)
	}
	return offset, err
}

type readerFunc func([]byte) (int, error)

func (r readerFunc) Read(p []byte) (int, error) { return r(p) }

func restart(f *os.File, check *checksum) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	check.reset()
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// rangeStart parses the first byte of "bytes 100-199/200".
func rangeStart(contentRange string) (int64, bool) {
	rest, ok := strings.CutPrefix(contentRange, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// checksum verifies content against an ETag: the SHA-256 of an LFS file,
// or the git blob SHA-1 of a regular one. Other ETags are not checked.
type checksum struct {
	h    hash.Hash
	git  bool
	size int64
	want string
}

func newChecksum(etag string, size int64) *checksum {
	c := &checksum{size: size, want: strings.ToLower(etag)}
	if _, err := hex.DecodeString(c.want); err == nil {
		switch len(c.want) {
		case 64:
			c.h = sha256.New()
		case 40:
			c.h, c.git = sha1.New(), true
		}
	}
	c.reset()
	return c
}

func (c *checksum) reset() {
	if c.h == nil {
		return
	}
	c.h.Reset()
	if c.git {
		fmt.Fprintf(c.h, "blob %d\x00", c.size)
	}
}

func (c *checksum) Write(p []byte) (int, error) {
	if c.h != nil {
		c.h.Write(p)
	}
	return len(p), nil
}

func (c *checksum) matches() bool {
	return c.h == nil || hex.EncodeToString(c.h.Sum(nil)) == c.want
}
