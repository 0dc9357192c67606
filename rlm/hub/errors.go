package hub

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. The errors of this package wrap one of them where it
// applies, for errors.Is; [*NotCachedError] and [*HTTPError] carry details
// for errors.As.
var (
	// ErrOffline: offline mode is on (HF_HUB_OFFLINE or [WithOffline]) and
	// what was asked for is not in the cache.
	ErrOffline = errors.New("offline and not in the cache")
	// ErrUnreachable: the Hub could not be reached (no network, DNS, refused
	// or timed-out connections, server errors) and what was asked for is not
	// in the cache.
	ErrUnreachable = errors.New("hub unreachable and not in the cache")
	// ErrNotFound: the repository, revision or file does not exist (or is
	// private and no valid token was sent).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the repository is private or gated and the token is
	// missing, invalid or without access.
	ErrUnauthorized = errors.New("not authorized")
	// ErrIntegrity: a downloaded file's size or hash differs from what the
	// Hub announced. The partial file is deleted.
	ErrIntegrity = errors.New("downloaded file does not match its size or hash")
	// ErrNoMatch: no GGUF file of a repository matches a model spec's
	// quantization tag.
	ErrNoMatch = errors.New("no matching GGUF file")
)

// HTTPError is a response of the Hub that is not a success.
type HTTPError struct {
	StatusCode int
	URL        string
	// Code is the Hub's X-Error-Code header: RepoNotFound, RevisionNotFound,
	// EntryNotFound, GatedRepo, ... It may be empty.
	Code string
	// Message is the Hub's explanation, from X-Error-Message or the body.
	Message string
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Is makes 404 and the Hub's not-found codes match [ErrNotFound], and 401
// and 403 match [ErrUnauthorized] (the Hub answers 401 RepoNotFound for a
// private repository: it matches both).
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || strings.HasSuffix(e.Code, "NotFound")
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// transient reports whether retrying the request may succeed.
func (e *HTTPError) transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode >= 500
}

// NotCachedError reports files that could be neither downloaded (offline
// mode, or the Hub unreachable) nor found in the cache. Its message names
// the files, the URL tried and the ways out.
type NotCachedError struct {
	Repo     string
	RepoType RepoType
	Revision string
	// Files are the paths in the repository that are missing (empty when a
	// file listing was asked for).
	Files []string
	// URL is the address that was (or would have been) requested.
	URL string
	// CacheDir is the repository's folder in the cache.
	CacheDir string
	// Offline reports whether offline mode was on; otherwise Err says why
	// the Hub could not be reached.
	Offline bool
	Err     error
}

func (e *NotCachedError) Error() string {
	what := "the file listing"
	if len(e.Files) > 0 {
		what = strings.Join(e.Files, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hub: %s %s@%s: cannot get %s: ", e.RepoType, e.Repo, e.Revision, what)
	if e.Offline {
		fmt.Fprintf(&b, "offline mode is on (HF_HUB_OFFLINE) so %s was not requested", e.URL)
	} else {
		fmt.Fprintf(&b, "%s is unreachable (%v)", e.URL, e.Err)
	}
	fmt.Fprintf(&b, ", and the cache has no copy in %s. Ways out: ", e.CacheDir)
	if e.Offline {
		b.WriteString("unset HF_HUB_OFFLINE to download; ")
	}
	b.WriteString("set HF_ENDPOINT to a Hub mirror you can reach; give a local file path instead of an hf:// spec; " +
		"or copy the files into the cache folder above (huggingface-cli download on a connected machine " +
		"fills it; HF_HOME or HF_HUB_CACHE point to it)")
	return b.String()
}

// Unwrap returns the cause and [ErrOffline] or [ErrUnreachable].
func (e *NotCachedError) Unwrap() []error {
	if e.Offline {
		return []error{ErrOffline}
	}
	return []error{ErrUnreachable, e.Err}
}
