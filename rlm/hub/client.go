package hub

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Client downloads files from the Hugging Face Hub into the cache layout of
// the huggingface_hub Python library, which it shares: files already cached
// by Python (or llama.cpp) are used as they are, and files this client
// downloads are visible to Python.
//
// A Client is safe for concurrent use. Downloads of the same file, from this
// process or another, are serialised by a lock file, as huggingface_hub does.
type Client struct {
	endpoint     string
	token        string
	cacheDir     string
	offline      bool
	http         *http.Client
	progress     io.Writer
	logger       *slog.Logger
	timeout      time.Duration // metadata requests
	stallTimeout time.Duration // a download receiving nothing this long is retried
	retries      int
	retryDelay   time.Duration
	userAgent    string
}

// Option configures a [Client].
type Option func(*Client)

// WithEndpoint sets the Hub's address (a mirror, a local server). The
// default is $HF_ENDPOINT, else https://huggingface.co.
func WithEndpoint(endpoint string) Option {
	return func(c *Client) { c.endpoint = strings.TrimRight(endpoint, "/") }
}

// WithToken sets the access token sent to the Hub for private and gated
// repositories; "" sends none. The default is $HF_TOKEN, else
// $HUGGING_FACE_HUB_TOKEN, else the token file huggingface-cli login writes
// ($HF_TOKEN_PATH, else $HF_HOME/token).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithCacheDir sets the cache folder (the one holding models--owner--name
// folders). The default is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else
// $HF_HOME/hub, with HF_HOME defaulting to $XDG_CACHE_HOME/huggingface or
// ~/.cache/huggingface: the folder huggingface_hub uses.
func WithCacheDir(dir string) Option { return func(c *Client) { c.cacheDir = dir } }

// WithOffline sets offline mode: nothing is requested from the Hub and
// everything comes from the cache. The default is on when $HF_HUB_OFFLINE
// (or $TRANSFORMERS_OFFLINE) is 1, ON, YES or TRUE.
func WithOffline(offline bool) Option { return func(c *Client) { c.offline = offline } }

// WithHTTPClient sets the HTTP client. The default gives up connecting
// after 5s, so that an unreachable Hub fails fast, and waits at most 30s
// for a response to start; it uses the proxy settings of the environment.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithProgress sets where download progress is reported: a bar redrawn in
// place on a terminal, a line every 10s otherwise. The default, nil,
// reports nothing.
func WithProgress(w io.Writer) Option { return func(c *Client) { c.progress = w } }

// WithLogger sets the logger: downloads started, resumed and retried, cache
// fallbacks. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithTimeout sets how long a metadata request (a file's HEAD, a listing)
// may take before the Hub counts as unreachable and the cache is used. The
// default is $HF_HUB_ETAG_TIMEOUT seconds, else 10s.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times an interrupted or failed download is
// retried, resuming where it stopped. The default is 3.
func WithRetries(n int) Option { return func(c *Client) { c.retries = max(n, 0) } }

// New returns a Client configured from the environment as huggingface_hub
// is (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, ...),
// then from opts.
func New(opts ...Option) *Client {
	c := &Client{
		endpoint:     strings.TrimRight(envOr("HF_ENDPOINT", DefaultEndpoint), "/"),
		token:        envToken(),
		cacheDir:     envCacheDir(),
		offline:      envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
		timeout:      10 * time.Second,
		stallTimeout: 30 * time.Second,
		retries:      3,
		retryDelay:   time.Second,
		userAgent:    "go-rlm-hub/1",
	}
	if s, err := strconv.ParseFloat(os.Getenv("HF_HUB_ETAG_TIMEOUT"), 64); err == nil && s > 0 {
		c.timeout = time.Duration(s * float64(time.Second))
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// Endpoint returns the Hub's address the Client uses.
func (c *Client) Endpoint() string { return c.endpoint }

// CacheDir returns the cache folder the Client uses.
func (c *Client) CacheDir() string { return c.cacheDir }

// Offline reports whether the Client is in offline mode.
func (c *Client) Offline() bool { return c.offline }

func defaultHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.TLSHandshakeTimeout = 10 * time.Second
	transport.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: transport}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envTrue(name string) bool {
	switch strings.ToUpper(os.Getenv(name)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// hfHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func hfHome() string {
	if home := os.Getenv("HF_HOME"); home != "" {
		return expandHome(home)
	}
	if xdg := os.Getenv("XDG_CACHE_HOME"); xdg != "" {
		return filepath.Join(expandHome(xdg), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~"); ok && (rest == "" || rest[0] == '/') {
		if home, err := os.UserHomeDir(); err == nil {
			return home + rest
		}
	}
	return p
}

func envCacheDir() string {
	for _, name := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if dir := os.Getenv(name); dir != "" {
			return expandHome(dir)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

func envToken() string {
	for _, name := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if token := strings.TrimSpace(os.Getenv(name)); token != "" {
			return token
		}
	}
	tokenFile := os.Getenv("HF_TOKEN_PATH")
	if tokenFile == "" {
		tokenFile = filepath.Join(hfHome(), "token")
	}
	data, err := os.ReadFile(expandHome(tokenFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
