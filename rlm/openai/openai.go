package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-rlm/rlm/rlm"
)

// DefaultBaseURL is the API root used when neither [WithBaseURL] nor
// OPENAI_BASE_URL gives one.
const DefaultBaseURL = "https://api.openai.com/v1"

// Client is an [rlm.LM] that talks to a server speaking OpenAI's
// /v1/chat/completions protocol. It is safe for concurrent use.
type Client struct {
	model       string
	endpoint    string
	apiKey      string
	http        *http.Client
	timeout     time.Duration
	retries     int
	backoff     time.Duration
	maxBackoff  time.Duration
	temperature *float64
	maxTokens   int
	extra       map[string]any
	log         *slog.Logger
}

var _ rlm.LM = (*Client)(nil)

// Option configures [New].
type Option func(*Client)

// WithBaseURL sets the API root, such as http://127.0.0.1:8080/v1 for
// llama.cpp's server; /chat/completions is appended. Default:
// $OPENAI_BASE_URL, else [DefaultBaseURL].
func WithBaseURL(url string) Option { return func(c *Client) { c.endpoint = url } }

// WithAPIKey sets the bearer token. Default: $OPENAI_API_KEY; none when
// that is empty too (local servers need none).
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient sets the HTTP client. Default: a client of its own with
// no overall timeout (see [WithTimeout]).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout bounds each attempt; an attempt that times out is retried.
// Default 10 minutes, as long completions on local hardware are slow.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a failed attempt is retried: after a 429,
// a 5xx, a timeout or a network error. Other errors are returned at once.
// Default 4.
func WithRetries(n int) Option { return func(c *Client) { c.retries = n } }

// WithBackoff sets the wait before the first retry and the most any wait
// grows to; each retry doubles the wait, with jitter, unless the server
// says how long in Retry-After. Default 1 s and 30 s.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *Client) { c.backoff, c.maxBackoff = initial, max }
}

// WithTemperature sets the sampling temperature. Default: the server's.
func WithTemperature(t float64) Option { return func(c *Client) { c.temperature = &t } }

// WithMaxTokens caps the reply's length in tokens. Default: the server's.
func WithMaxTokens(n int) Option { return func(c *Client) { c.maxTokens = n } }

// WithExtraBody adds fields to every request body, for server-specific
// settings such as llama.cpp's "cache_prompt" or vLLM's "top_k". Default:
// none.
func WithExtraBody(fields map[string]any) Option {
	return func(c *Client) {
		if c.extra == nil {
			c.extra = map[string]any{}
		}
		for k, v := range fields {
			c.extra[k] = v
		}
	}
}

// WithLogger sets the logger for retries. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New returns a client for model. The model may be empty for servers that
// serve one model and ignore the field, such as llama.cpp's.
func New(model string, opts ...Option) (*Client, error) {
	c := &Client{
		model:      model,
		endpoint:   os.Getenv("OPENAI_BASE_URL"),
		apiKey:     os.Getenv("OPENAI_API_KEY"),
		timeout:    10 * time.Minute,
		retries:    4,
		backoff:    time.Second,
		maxBackoff: 30 * time.Second,
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.endpoint == "" {
		c.endpoint = DefaultBaseURL
	}
	if !strings.HasPrefix(c.endpoint, "http://") && !strings.HasPrefix(c.endpoint, "https://") {
		return nil, fmt.Errorf("openai: new: base URL %q is not http(s)", c.endpoint)
	}
	if c.retries < 0 || c.timeout <= 0 || c.backoff < 0 || c.maxBackoff < c.backoff {
		return nil, errors.New("openai: new: invalid retry or timeout settings")
	}
	c.endpoint = strings.TrimRight(c.endpoint, "/") + "/chat/completions"
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// APIError is a response other than 200 from the server.
type APIError struct {
	StatusCode int
	// Type, Code and Message come from the body's "error" object when
	// there is one; otherwise Message is the start of the body.
	Type    string
	Code    string
	Message string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Type != "" || e.Code != "" {
		msg += " (" + strings.Trim(e.Type+" "+e.Code, " ") + ")"
	}
	return msg
}

// Retryable reports whether the server may answer a later attempt: a 429
// or a 5xx.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// ErrNoChoices is returned when a 200 response holds no choice.
var ErrNoChoices = errors.New("openai: response has no choices")

type chatRequest struct {
	Model       string        `json:"model,omitempty"`
	Messages    []rlm.Message `json:"messages"`
	Temperature *float64      `json:"temperature,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
}

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

type errorBody struct {
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// Complete sends one chat completion request, retrying as [WithRetries]
// says. The returned Completion's Duration covers the successful attempt.
func (c *Client) Complete(ctx context.Context, messages []rlm.Message) (rlm.Completion, error) {
	body, err := c.requestBody(messages)
	if err != nil {
		return rlm.Completion{}, fmt.Errorf("openai: complete: %w", err)
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		completion, retryAfter, err := c.attempt(ctx, body)
		if err == nil {
			completion.Duration = time.Since(start)
			return completion, nil
		}
		if ctx.Err() != nil {
			return rlm.Completion{}, fmt.Errorf("openai: complete: %w", ctx.Err())
		}
		if !retryable(err) || attempt >= c.retries {
			if attempt > 0 {
				return rlm.Completion{}, fmt.Errorf("openai: complete: after %d attempts: %w", attempt+1, err)
			}
			return rlm.Completion{}, fmt.Errorf("openai: complete: %w", err)
		}
		wait := c.wait(attempt, retryAfter)
		c.log.Warn("openai: retrying", "attempt", attempt+1, "wait", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return rlm.Completion{}, fmt.Errorf("openai: complete: %w", ctx.Err())
		case <-timer.C:
		}
	}
}

func (c *Client) requestBody(messages []rlm.Message) ([]byte, error) {
	req, err := json.Marshal(chatRequest{
		Model: c.model, Messages: messages, Temperature: c.temperature, MaxTokens: c.maxTokens,
	})
	if err != nil || len(c.extra) == 0 {
		return req, err
	}
	var fields map[string]any
	if err := json.Unmarshal(req, &fields); err != nil {
		return nil, err
	}
	for k, v := range c.extra {
		fields[k] = v
	}
	return json.Marshal(fields)
}

// attempt makes one request. retryAfter is the server's Retry-After, or 0.
func (c *Client) attempt(ctx context.Context, body []byte) (_ rlm.Completion, retryAfter time.Duration, _ error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return rlm.Completion{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return rlm.Completion{}, 0, &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return rlm.Completion{}, 0, &transportError{err}
	}
	if resp.StatusCode != http.StatusOK {
		return rlm.Completion{}, parseRetryAfter(resp.Header.Get("Retry-After")), apiError(resp.StatusCode, data)
	}
	var parsed chatResponse
	if err := json.Unmarshal(data, &parsed); err != nil {
		return rlm.Completion{}, 0, fmt.Errorf("decode response: %w", err)
	}
	if len(parsed.Choices) == 0 {
		return rlm.Completion{}, 0, ErrNoChoices
	}
	text := ""
	if content := parsed.Choices[0].Message.Content; content != nil {
		text = *content
	}
	return rlm.Completion{
		Text:             text,
		PromptTokens:     parsed.Usage.PromptTokens,
		CompletionTokens: parsed.Usage.CompletionTokens,
	}, 0, nil
}

// transportError is a failure to exchange a request and response: a
// refused connection, a reset, an attempt's timeout.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var api *APIError
	if errors.As(err, &api) {
		return api.Retryable()
	}
	var transport *transportError
	return errors.As(err, &transport)
}

func apiError(status int, body []byte) *APIError {
	e := &APIError{StatusCode: status}
	var parsed errorBody
	if json.Unmarshal(body, &parsed) == nil && parsed.Error != nil {
		e.Message, e.Type = parsed.Error.Message, parsed.Error.Type
		if parsed.Error.Code != nil {
			e.Code = fmt.Sprint(parsed.Error.Code)
		}
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	e.Message = msg
	return e
}

// wait is the pause before retry number attempt+1.
func (c *Client) wait(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.maxBackoff)
	}
	d := c.backoff << min(attempt, 30)
	if d > c.maxBackoff || d <= 0 {
		d = c.maxBackoff
	}
	// Jitter in [d/2, d] keeps concurrent callers from retrying in step.
	if half := int64(d / 2); half > 0 {
		d = time.Duration(half + rand.Int64N(half+1))
	}
	return d
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
