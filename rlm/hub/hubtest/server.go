// Package hubtest runs a Hugging Face Hub on loopback for tests: repositories
// of models and datasets with branches and commits, regular and LFS files,
// and the Hub's HTTP behaviour that clients depend on.
//
// # Behaviour
//
//   - HEAD and GET /{repo}/resolve/{revision}/{path} (datasets/ and spaces/
//     prefixed for those types), the revision a branch (escaped:
//     refs%2Fconvert%2Fparquet) or a commit. Regular files are served there
//     with ETag (the git blob SHA-1) and X-Repo-Commit; LFS files answer
//     302 to a second server, the CDN, with X-Linked-Etag (the SHA-256),
//     X-Linked-Size and X-Repo-Commit.
//   - Range requests (206, 416) and ETags on the content.
//   - 404 with X-Error-Code RepoNotFound, RevisionNotFound or EntryNotFound;
//     401 RepoNotFound for a private repository without its token. The CDN
//     answers 400 to a request carrying an Authorization header, as a
//     pre-signed storage URL does.
//   - GET /api/{type}s/{repo}/tree/{revision}: the recursive JSON listing,
//     paginated with a Link header when [Server.SetPageSize] is set.
//
// [Server.CutNext] drops the connection in the middle of the next download
// of a file, and [Server.Requests] records what clients asked.
//
// # Concurrency
//
// A Server is safe for concurrent use.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-rlm/rlm/rlm/hub"
)

// File is a file to commit.
type File struct {
	Path    string
	Content []byte
	// LFS stores the file with Git LFS: served from the CDN.
	LFS bool
}

// Request is a request the Server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method        string
	Path          string // escaped, without the query
	Range         string // the Range header
	Authorization string // the Authorization header
}

// Server is a loopback Hub. Create it with [NewServer].
type Server struct {
	// URL is the Hub's endpoint, for HF_ENDPOINT or hub.WithEndpoint.
	URL string
	// CDN is the address of the server LFS files redirect to.
	CDN string

	hub, cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*repository // by "type:owner/name"
	renames  map[string]string      // old "type:owner/name" → new "owner/name"
	blobs    map[string][]byte      // LFS content by SHA-256
	cuts     map[string]int         // SHA-256 or git id of content → bytes to send before dropping
	requests []Request
	pageSize int
}

type repository struct {
	branches map[string]string              // branch → commit
	commits  map[string]map[string]repoFile // commit → path → file
	token    string                         // required when not empty
}

type repoFile struct {
	content []byte
	gitID   string // git blob SHA-1 of the content
	sha256  string // for LFS files
}

// NewServer starts a Server. Call Close when done.
func NewServer() *Server {
	s := &Server{repos: map[string]*repository{}, renames: map[string]string{},
		blobs: map[string][]byte{}, cuts: map[string]int{}}
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	s.URL, s.CDN = s.hub.URL, s.cdn.URL
	return s
}

// Close stops the Server.
func (s *Server) Close() {
	s.hub.Close()
	s.cdn.Close()
}

func key(t hub.RepoType, repo string) string { return string(t) + ":" + repo }

// Commit commits files to a branch of a repository, creating both if
// needed, and returns the new commit's hash. Files of the branch's previous
// commit are kept unless replaced. The hash depends only on the parent and
// the files, so that it is the same in every run.
func (s *Server) Commit(t hub.RepoType, repo, branch string, files ...File) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[key(t, repo)]
	if r == nil {
		r = &repository{branches: map[string]string{}, commits: map[string]map[string]repoFile{}}
		s.repos[key(t, repo)] = r
	}
	parent := r.branches[branch]
	tree := map[string]repoFile{}
	for p, f := range r.commits[parent] {
		tree[p] = f
	}
	h := sha1.New()
	fmt.Fprintf(h, "parent %s\n", parent)
	for _, f := range files {
		rf := repoFile{content: bytes.Clone(f.Content), gitID: gitBlobID(f.Content)}
		if f.LFS {
			sum := sha256.Sum256(f.Content)
			rf.sha256 = hex.EncodeToString(sum[:])
			s.blobs[rf.sha256] = rf.content
		}
		tree[f.Path] = rf
		fmt.Fprintf(h, "%s %s %t\n", f.Path, rf.gitID, f.LFS)
	}
	commit := hex.EncodeToString(h.Sum(nil))
	r.commits[commit] = tree
	r.branches[branch] = commit
	return commit
}

func gitBlobID(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// SetPrivate makes a repository answer only requests bearing token.
func (s *Server) SetPrivate(t hub.RepoType, repo, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[key(t, repo)]; r != nil {
		r.token = token
	}
}

// Rename moves a repository to a new name; its old name then answers with a
// relative redirect, as the Hub does for renamed repositories.
func (s *Server) Rename(t hub.RepoType, from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[key(t, to)] = s.repos[key(t, from)]
	delete(s.repos, key(t, from))
	s.renames[key(t, from)] = to
}

// SetPageSize makes listings return at most n entries per page (0: all).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// CutNext makes the next GET of content that equals content send only its
// first n bytes (counted from the start of the response) and then drop the
// connection.
func (s *Server) CutNext(content []byte, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(content)
	s.cuts[hex.EncodeToString(sum[:])] = n
	s.cuts[gitBlobID(content)] = n
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Server: server, Method: r.Method, Path: r.URL.EscapedPath(),
		Range: r.Header.Get("Range"), Authorization: r.Header.Get("Authorization")})
}

// takeCut returns and forgets the cut planned for content ids, or -1.
func (s *Server) takeCut(ids ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if n, ok := s.cuts[id]; ok {
			for _, id := range ids {
				delete(s.cuts, id)
			}
			return n
		}
	}
	return -1
}

func hubError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", message)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": message})
}

// segments splits the escaped path of r into unescaped parts.
func segments(r *http.Request) []string {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	return parts
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	parts := segments(r)
	if len(parts) >= 6 && parts[0] == "api" && parts[4] == "tree" {
		t := hub.RepoType(strings.TrimSuffix(parts[1], "s"))
		s.serveTree(w, r, t, parts[2]+"/"+parts[3], parts[5], strings.Join(parts[6:], "/"))
		return
	}
	t := hub.Model
	if len(parts) > 0 && (parts[0] == "datasets" || parts[0] == "spaces") {
		t, parts = hub.RepoType(strings.TrimSuffix(parts[0], "s")), parts[1:]
	}
	if len(parts) < 5 || parts[2] != "resolve" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	repo := parts[0] + "/" + parts[1]
	s.mu.Lock()
	renamed, ok := s.renames[key(t, repo)]
	s.mu.Unlock()
	if ok {
		prefix := ""
		if t != hub.Model {
			prefix = "/" + string(t) + "s"
		}
		rest := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), prefix+"/"), "/", 3)[2]
		http.Redirect(w, r, prefix+"/"+renamed+"/"+rest, http.StatusTemporaryRedirect)
		return
	}
	s.serveResolve(w, r, t, repo, parts[3], strings.Join(parts[4:], "/"))
}

// lookup finds a repository's commit for a revision, or writes the Hub's
// error.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, t hub.RepoType, repo, revision string) (map[string]repoFile, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[key(t, repo)]
	if rp == nil || (rp.token != "" && r.Header.Get("Authorization") != "Bearer "+rp.token) {
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return nil, "", false
	}
	commit := revision
	if c, ok := rp.branches[revision]; ok {
		commit = c
	}
	tree, ok := rp.commits[commit]
	if !ok {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+revision)
		return nil, "", false
	}
	return tree, commit, true
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, t hub.RepoType, repo, revision, file string) {
	tree, commit, ok := s.lookup(w, r, t, repo, revision)
	if !ok {
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	f, ok := tree[file]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", file+" does not exist on "+revision)
		return
	}
	if f.sha256 != "" {
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.content)))
		w.Header().Set("ETag", `"`+f.sha256+`"`)
		w.Header().Set("Location", s.CDN+"/blobs/"+f.sha256+"?X-Amz-Signature=loopback")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.gitID+`"`)
	s.serveContent(w, r, f.content, f.gitID)
}

// serveContent serves content with ranges, dropping the connection early if
// a cut is planned for it.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, content []byte, ids ...string) {
	w.Header().Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodGet {
		if n := s.takeCut(ids...); n >= 0 {
			w = &cutWriter{ResponseWriter: w, left: n}
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
}

// cutWriter passes on the first left bytes of a response, then aborts it,
// which closes the connection mid-body.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) <= c.left {
		c.left -= len(p)
		return c.ResponseWriter.Write(p)
	}
	c.ResponseWriter.Write(p[:c.left])
	http.NewResponseController(c.ResponseWriter).Flush()
	panic(http.ErrAbortHandler)
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	parts := segments(r)
	if len(parts) != 2 || parts[0] != "blobs" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "+
			"Signature query string parameter or the Authorization header should be specified", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	content, ok := s.blobs[parts[1]]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", `"`+parts[1]+`"`)
	s.serveContent(w, r, content, parts[1])
}

type treeEntry struct {
	Type string  `json:"type"`
	OID  string  `json:"oid"`
	Size int     `json:"size"`
	Path string  `json:"path"`
	LFS  *lfsRef `json:"lfs,omitempty"`
}

type lfsRef struct {
	OID         string `json:"oid"`
	Size        int    `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

func (s *Server) serveTree(w http.ResponseWriter, r *http.Request, t hub.RepoType, repo, revision, under string) {
	tree, _, ok := s.lookup(w, r, t, repo, revision)
	if !ok {
		return
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	entries := map[string]treeEntry{}
	for p, f := range tree {
		rel, ok := strings.CutPrefix(p, under)
		if under != "" && (!ok || !strings.HasPrefix(rel, "/")) {
			continue
		}
		rel = strings.TrimPrefix(rel, "/")
		// The directories on the way, then the file if in reach.
		dirs := strings.Split(rel, "/")
		for i := 1; i < len(dirs); i++ {
			dir := strings.Trim(under+"/"+strings.Join(dirs[:i], "/"), "/")
			entries[dir] = treeEntry{Type: "directory", OID: gitBlobID([]byte(dir)), Path: dir}
			if !recursive {
				break
			}
		}
		if !recursive && len(dirs) > 1 {
			continue
		}
		e := treeEntry{Type: "file", OID: f.gitID, Size: len(f.content), Path: p}
		if f.sha256 != "" {
			e.LFS = &lfsRef{OID: f.sha256, Size: len(f.content), PointerSize: 134}
		}
		entries[p] = e
	}
	list := make([]treeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b treeEntry) int { return strings.Compare(a.Path, b.Path) })

	s.mu.Lock()
	pageSize := s.pageSize
	s.mu.Unlock()
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	start = min(max(start, 0), len(list))
	end := len(list)
	if pageSize > 0 && start+pageSize < len(list) {
		end = start + pageSize
		next := *r.URL
		q := next.Query()
		q.Set("cursor", strconv.Itoa(end))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, s.URL, next.RequestURI()))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list[start:end])
}
