package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// caller identifies who sent a request: the SHA-256 of its bearer token,
// or the zero value when the server takes no tokens.
type caller [sha256.Size]byte

// tokens is the set of bearer tokens the server accepts, kept as hashes so
// that comparing one takes the same time whatever it shares with another.
type tokens struct {
	hashes []caller
}

func newTokens(list []string) *tokens {
	t := &tokens{}
	for _, tok := range list {
		t.hashes = append(t.hashes, sha256.Sum256([]byte(tok)))
	}
	return t
}

// enabled reports whether requests need a token.
func (t *tokens) enabled() bool { return len(t.hashes) > 0 }

// identify returns the caller of r, and false when the server takes tokens
// and r carries none of them.
func (t *tokens) identify(r *http.Request) (caller, bool) {
	if !t.enabled() {
		return caller{}, true
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return caller{}, false
	}
	h := caller(sha256.Sum256([]byte(strings.TrimSpace(token))))
	found := 0
	for _, known := range t.hashes {
		found |= subtle.ConstantTimeCompare(h[:], known[:])
	}
	return h, found == 1
}
