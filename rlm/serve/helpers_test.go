package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/local"
	"github.com/go-rlm/rlm/rlm/rlmtest"
	"github.com/go-rlm/rlm/rlm/serve"
)

// The document most tests send: 144 characters, three chunks of 64.
var transcript = strings.Repeat("Laura: I roll a 17.\nSam: Natural 20!\n", 4)

const question = "How many rolls?"

// readingCode is what the scripted controller writes: it has the worker
// read every 64-character chunk, then answers with how many it read.
var readingCode = rlmtest.Code(`
chunks = [context[i:i + 64] for i in range(0, len(context), 64)]
answers = sub_call(chunks, question)
FINAL(f"{len(answers)} chunks read for: {question}")`)

// constant is a scripted model that answers every conversation with text.
func constant(text string, opts ...rlmtest.Option) *rlmtest.LM {
	return rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) { return text, nil }, opts...)
}

// readingController answers every conversation with readingCode.
func readingController(opts ...rlmtest.Option) *rlmtest.LM { return constant(readingCode, opts...) }

func requireTools(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
}

// testServer is a serve.Server serving on a loopback port.
type testServer struct {
	*serve.Server
	URL  string // the API root, http://127.0.0.1:PORT/v1
	root string // http://127.0.0.1:PORT

	stop     context.CancelFunc
	done     chan error
	stopOnce sync.Once
	err      error
}

// start serves models on 127.0.0.1 until the test ends.
func start(t testing.TB, models []serve.Model, opts ...serve.Option) *testServer {
	t.Helper()
	requireTools(t)
	opts = append([]serve.Option{serve.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	srv, err := serve.New(models, opts...)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, root: "http://" + l.Addr().String(), stop: cancel, done: make(chan error, 1)}
	ts.URL = ts.root + "/v1"
	go func() { ts.done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { assert.NoError(t, ts.shutdown()) })
	return ts
}

// shutdown ends Serve as SIGTERM does in a command, and returns what Serve
// returned.
func (ts *testServer) shutdown() error {
	ts.stopOnce.Do(func() {
		ts.stop()
		select {
		case ts.err = <-ts.done:
		case <-time.After(2 * time.Minute):
			panic("serve: Serve did not return after its context ended")
		}
	})
	return ts.err
}

// model is the model most tests serve: the reading controller and a
// scripted worker that answers "1".
func model(controller, worker rlm.LM) []serve.Model {
	if controller == nil {
		controller = readingController()
	}
	if worker == nil {
		worker = constant("1")
	}
	return []serve.Model{{Name: "rlm", Controller: controller, Worker: worker}}
}

// localWorker is the small generated model decoded in process by
// rlm/local, whose concurrent calls share batches; hook, if not nil, sees
// each batch.
func localWorker(t testing.TB, hook local.GenerationHook, opts ...local.Option) *local.LM {
	t.Helper()
	return localModel(t, llamatest.Model(t, llamatest.DefaultConfig()), hook, opts...)
}

// localModel decodes the GGUF file at path with rlm/local.
func localModel(t testing.TB, path string, hook local.GenerationHook, opts ...local.Option) *local.LM {
	t.Helper()
	m, err := llama.LoadModel(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	opts = append([]local.Option{local.WithThreads(1), local.WithSequences(8), local.WithSequenceSize(1024),
		local.WithMaxTokens(8), local.WithGenerationHook(hook), local.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	lm, err := local.New(m, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lm.Close()) })
	return lm
}

// chatBody is a request body with the transcript as the first user
// message and question as the second.
func chatBody(modelName string, stream bool, extra map[string]any) map[string]any {
	body := map[string]any{
		"model": modelName,
		"messages": []map[string]any{
			{"role": "user", "content": transcript},
			{"role": "user", "content": question},
		},
	}
	if stream {
		body["stream"] = true
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// call sends a request with a JSON body (nil for none) and the token (""
// for none) and returns the response with its body read.
func call(t testing.TB, ctx context.Context, method, url, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// completion is a chat.completion as OpenAI documents it, decoded here
// independently of the server's own types.
type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
	RLM json.RawMessage `json:"rlm"`
}

// info decodes the completion's "rlm" object as a RunInfo.
func (c completion) info(t testing.TB) serve.RunInfo {
	t.Helper()
	var info serve.RunInfo
	require.NoError(t, json.Unmarshal(c.RLM, &info))
	return info
}

// apiError is the body of an error response.
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}

// event is one Server-Sent Event of a stream: a data line or a comment.
type event struct {
	data    string
	comment string
}

// readEvents reads a stream's events until it ends, or until seen (which
// may be nil), given each event as it arrives, returns false.
func readEvents(t testing.TB, body io.Reader, seen func(event) bool) []event {
	t.Helper()
	var events []event
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "data: "):
			e.data = strings.TrimPrefix(line, "data: ")
		case strings.HasPrefix(line, ":"):
			e.comment = strings.TrimSpace(strings.TrimPrefix(line, ":"))
		default:
			t.Errorf("a line that is neither data nor comment: %q", line)
			continue
		}
		events = append(events, e)
		if seen != nil && !seen(e) {
			break
		}
	}
	return events
}

// progressOf returns the "rlm" object of a progress chunk, or false.
func progressOf(t testing.TB, c completion) (serve.Progress, bool) {
	var p serve.Progress
	if len(c.RLM) == 0 || json.Unmarshal(c.RLM, &p) != nil || p.Event == "" {
		return p, false
	}
	return p, true
}

// eventually waits up to a minute for cond.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, time.Minute, 10*time.Millisecond, msg)
}

// blockingController signals started when a call begins, and answers
// with readingCode once release is closed, or fails when its context ends.
func blockingController(started chan<- struct{}, release <-chan struct{}) *rlmtest.LM {
	return rlmtest.Func(func(ctx context.Context, _ int, _ []rlm.Message) (string, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return readingCode, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
}

// pythonChildren lists this process's python child processes (the REPLs),
// from /proc; ok is false where /proc does not tell.
func pythonChildren() (pids []string, ok bool) {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		return nil, false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			return nil, false
		}
		for _, pid := range strings.Fields(string(b)) {
			cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
			if err == nil && strings.Contains(string(cmdline), "python") {
				pids = append(pids, pid)
			}
		}
	}
	return pids, true
}
