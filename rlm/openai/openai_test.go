package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/openai"
)

// chatServer is a loopback server that speaks /v1/chat/completions. Each
// request is answered by respond, which gets the attempt number from 0.
type chatServer struct {
	*httptest.Server
	attempts atomic.Int64
	mu       sync.Mutex
	requests []map[string]any
	headers  []http.Header
}

func newChatServer(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, attempt int)) *chatServer {
	t.Helper()
	s := &chatServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt := int(s.attempts.Add(1) - 1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, body)
		s.headers = append(s.headers, r.Header.Clone())
		s.mu.Unlock()
		respond(w, r, attempt)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *chatServer) baseURL() string { return s.URL + "/v1" }

// reply writes a successful completion echoing the last message.
func reply(w http.ResponseWriter, text string, promptTokens, completionTokens int) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		text, promptTokens, completionTokens, promptTokens+completionTokens)
}

func apiErrorBody(w http.ResponseWriter, status int, message, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":%q,"code":null}}`, message, typ)
}

var hello = []rlm.Message{{Role: rlm.RoleSystem, Content: "Be brief."}, {Role: rlm.RoleUser, Content: "Hi there"}}

func fastRetries() []openai.Option {
	return []openai.Option{openai.WithBackoff(time.Millisecond, 5*time.Millisecond), openai.WithLogger(slog.New(slog.DiscardHandler))}
}

func TestCompleteSendsRequestAndReadsReply(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		reply(w, "Hello!", 12, 3)
	})
	c, err := openai.New("qwen", append(fastRetries(),
		openai.WithBaseURL(s.baseURL()+"/"), openai.WithAPIKey("sk-test"),
		openai.WithTemperature(0), openai.WithMaxTokens(64),
		openai.WithExtraBody(map[string]any{"cache_prompt": true}))...)
	require.NoError(t, err)

	got, err := c.Complete(context.Background(), hello)
	require.NoError(t, err)

	assert.Equal(t, "Hello!", got.Text)
	assert.Equal(t, 12, got.PromptTokens)
	assert.Equal(t, 3, got.CompletionTokens)
	assert.Positive(t, got.Duration)
	require.Len(t, s.requests, 1)
	req := s.requests[0]
	assert.Equal(t, "qwen", req["model"])
	assert.Equal(t, float64(0), req["temperature"], "a zero temperature is sent, not dropped")
	assert.Equal(t, float64(64), req["max_tokens"])
	assert.Equal(t, true, req["cache_prompt"])
	assert.Equal(t, []any{
		map[string]any{"role": "system", "content": "Be brief."},
		map[string]any{"role": "user", "content": "Hi there"},
	}, req["messages"])
	assert.Equal(t, "Bearer sk-test", s.headers[0].Get("Authorization"))
	assert.Equal(t, "application/json", s.headers[0].Get("Content-Type"))
}

func TestNewReadsEnvironment(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { reply(w, "ok", 1, 1) })
	t.Setenv("OPENAI_BASE_URL", s.baseURL())
	t.Setenv("OPENAI_API_KEY", "sk-env")
	c, err := openai.New("", fastRetries()...)
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), hello)
	require.NoError(t, err)
	assert.Equal(t, "Bearer sk-env", s.headers[0].Get("Authorization"))
	_, hasModel := s.requests[0]["model"]
	assert.False(t, hasModel, "an empty model is left out for single-model servers")
	_, hasTemperature := s.requests[0]["temperature"]
	assert.False(t, hasTemperature, "no temperature unless set")
}

func TestNoKeyNoAuthorization(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { reply(w, "ok", 1, 1) })
	t.Setenv("OPENAI_API_KEY", "")
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), hello)
	require.NoError(t, err)
	assert.Empty(t, s.headers[0].Get("Authorization"))
}

func TestRetriesRateLimitsAndServerErrors(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		switch attempt {
		case 0:
			w.Header().Set("Retry-After", "0")
			apiErrorBody(w, http.StatusTooManyRequests, "slow down", "rate_limit")
		case 1:
			apiErrorBody(w, http.StatusServiceUnavailable, "loading model", "server_error")
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			reply(w, "finally", 5, 1)
		}
	})
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
	require.NoError(t, err)
	got, err := c.Complete(context.Background(), hello)
	require.NoError(t, err)
	assert.Equal(t, "finally", got.Text)
	assert.EqualValues(t, 4, s.attempts.Load())
}

func TestGivesUpAfterRetries(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		apiErrorBody(w, http.StatusInternalServerError, "boom", "server_error")
	})
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()), openai.WithRetries(2))...)
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), hello)
	require.Error(t, err)
	assert.EqualValues(t, 3, s.attempts.Load())
	var apiErr *openai.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusInternalServerError, apiErr.StatusCode)
	assert.Equal(t, "boom", apiErr.Message)
	assert.True(t, apiErr.Retryable())
	assert.Contains(t, err.Error(), "openai: complete: after 3 attempts: status 500")
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		message string
		typ     string
	}{
		{"json error", http.StatusUnauthorized, `{"error":{"message":"invalid api key","type":"invalid_request_error","code":"invalid_api_key"}}`,
			"invalid api key", "invalid_request_error"},
		{"plain text error", http.StatusBadRequest, "context length exceeded", "context length exceeded", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
			require.NoError(t, err)
			_, err = c.Complete(context.Background(), hello)
			var apiErr *openai.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.EqualValues(t, 1, s.attempts.Load(), "not retried")
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, tt.message, apiErr.Message)
			assert.Equal(t, tt.typ, apiErr.Type)
			assert.False(t, apiErr.Retryable())
			assert.NotContains(t, err.Error(), "attempts")
		})
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		if attempt == 0 {
			<-r.Context().Done() // hang until the client gives up on this attempt
			return
		}
		reply(w, "second try", 1, 1)
	})
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()),
		openai.WithTimeout(100*time.Millisecond))...)
	require.NoError(t, err)
	got, err := c.Complete(context.Background(), hello)
	require.NoError(t, err)
	assert.Equal(t, "second try", got.Text)
	assert.EqualValues(t, 2, s.attempts.Load())
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	url := s.URL
	s.Close() // nothing listens there now
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(url+"/v1"), openai.WithRetries(1))...)
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), hello)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 2 attempts")
	var apiErr *openai.APIError
	assert.False(t, errors.As(err, &apiErr))
}

func TestCancelStopsRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		cancel() // the caller gives up while the server asks for a long wait
		w.Header().Set("Retry-After", "3600")
		apiErrorBody(w, http.StatusTooManyRequests, "slow down", "rate_limit")
	})
	c, err := openai.New("m", openai.WithBaseURL(s.baseURL()), openai.WithLogger(slog.New(slog.DiscardHandler)),
		openai.WithBackoff(time.Hour, time.Hour))
	require.NoError(t, err)
	_, err = c.Complete(ctx, hello)
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualValues(t, 1, s.attempts.Load())
}

func TestNoChoices(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		io.WriteString(w, `{"choices":[],"usage":{}}`)
	})
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
	require.NoError(t, err)
	_, err = c.Complete(context.Background(), hello)
	assert.ErrorIs(t, err, openai.ErrNoChoices)
}

func TestNullContentIsEmpty(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":null}}],"usage":{"prompt_tokens":2,"completion_tokens":0}}`)
	})
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
	require.NoError(t, err)
	got, err := c.Complete(context.Background(), hello)
	require.NoError(t, err)
	assert.Empty(t, got.Text)
	assert.Equal(t, 2, got.PromptTokens)
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		opts []openai.Option
	}{
		{"not http", []openai.Option{openai.WithBaseURL("ftp://example")}},
		{"negative retries", []openai.Option{openai.WithBaseURL("http://127.0.0.1:1"), openai.WithRetries(-1)}},
		{"zero timeout", []openai.Option{openai.WithBaseURL("http://127.0.0.1:1"), openai.WithTimeout(0)}},
		{"backoff above its cap", []openai.Option{openai.WithBaseURL("http://127.0.0.1:1"), openai.WithBackoff(time.Minute, time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openai.New("m", tt.opts...)
			assert.Error(t, err)
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newChatServer(t, func(w http.ResponseWriter, r *http.Request, _ int) { reply(w, "ok", 1, 1) })
	c, err := openai.New("m", append(fastRetries(), openai.WithBaseURL(s.baseURL()))...)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Complete(context.Background(), hello)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 8, s.attempts.Load())
}
