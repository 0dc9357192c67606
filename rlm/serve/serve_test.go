package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/rlmtest"
	"github.com/go-rlm/rlm/rlm/serve"
)

func TestChatCompletion(t *testing.T) {
	controller, worker := readingController(), constant("1")
	ts := start(t, model(controller, worker))
	before := time.Now().Unix()
	resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", false, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	c := decode[completion](t, body)
	assert.True(t, strings.HasPrefix(c.ID, "chatcmpl-"), c.ID)
	assert.Equal(t, "chat.completion", c.Object)
	assert.Equal(t, "rlm", c.Model)
	assert.InDelta(t, before, c.Created, 60)
	require.Len(t, c.Choices, 1)
	assert.Equal(t, "assistant", c.Choices[0].Message.Role)
	assert.Equal(t, "3 chunks read for: "+question, c.Choices[0].Message.Content)
	assert.Equal(t, "stop", *c.Choices[0].FinishReason)

	info := c.info(t)
	assert.Equal(t, "final", info.Stop)
	assert.True(t, info.Final)
	assert.Equal(t, 1, info.Iterations)
	assert.Equal(t, 3, info.SubCalls)
	assert.Equal(t, 1, info.Usage.Controller.Calls)
	assert.Equal(t, 3, info.Usage.Worker.Calls)
	assert.Equal(t, 3, info.Usage.Worker.CompletionTokens, "the worker said 1 three times")
	require.NotNil(t, c.Usage)
	assert.Equal(t, info.Usage.Controller.PromptTokens+info.Usage.Worker.PromptTokens, c.Usage.PromptTokens)
	assert.Equal(t, info.Usage.Controller.CompletionTokens+info.Usage.Worker.CompletionTokens, c.Usage.CompletionTokens)
	assert.Equal(t, c.Usage.PromptTokens+c.Usage.CompletionTokens, c.Usage.TotalTokens)
	assert.Positive(t, info.Seconds)
	assert.Equal(t, "/v1/trajectories/"+c.ID, info.Trajectory)

	// The worker read the document's chunks, and the controller the
	// question but never the document.
	var chunks []string
	for _, conv := range worker.Calls() {
		chunks = append(chunks, conv[len(conv)-1].Content)
	}
	assert.Len(t, chunks, 3)
	assert.Contains(t, strings.Join(chunks, ""), transcript[64:128])
	first := controller.Calls()[0]
	assert.Contains(t, first[len(first)-1].Content, question)
	assert.NotContains(t, first[len(first)-1].Content, "Natural 20")

	// The trajectory, as JSONL and as a page.
	resp, body = call(t, t.Context(), "GET", ts.root+info.Trajectory, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/jsonl; charset=utf-8", resp.Header.Get("Content-Type"))
	tr, err := rlm.ReadTrajectory(bytes.NewReader(body))
	require.NoError(t, err)
	res, ok := tr.Result()
	require.True(t, ok)
	assert.Equal(t, c.Choices[0].Message.Content, res.Answer)
	require.Equal(t, rlm.RecordRunStart, tr.Records[0].Type)
	assert.Equal(t, question, tr.Records[0].RunStart.Question)
	assert.Equal(t, len(transcript), tr.Records[0].RunStart.DocumentLength, "the lone pasted message is the document, verbatim")

	resp, body = call(t, t.Context(), "GET", ts.root+info.Trajectory+"/html", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	_, err = html.Parse(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Contains(t, string(body), question)

	st := ts.Stats()
	assert.Equal(t, serve.Stats{Completed: 1}, st)
}

func TestStreaming(t *testing.T) {
	ts := start(t, model(nil, nil))
	req := chatBody("rlm", true, map[string]any{"stream_options": map[string]any{"include_usage": true}})
	resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", req)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	events := readEvents(t, bytes.NewReader(body), nil)
	require.NotEmpty(t, events)
	assert.Equal(t, "[DONE]", events[len(events)-1].data, "the stream ends with [DONE]")
	var (
		chunks   []completion
		progress []string
		content  string
		finish   []string
		info     serve.RunInfo
		usage    int
	)
	for _, e := range events[:len(events)-1] {
		require.NotEmpty(t, e.data, "no comment in a short stream")
		c := decode[completion](t, []byte(e.data))
		chunks = append(chunks, c)
		assert.Equal(t, chunks[0].ID, c.ID, "every chunk has the completion's id")
		assert.Equal(t, "chat.completion.chunk", c.Object)
		assert.Equal(t, "rlm", c.Model)
		if c.Usage != nil {
			assert.Empty(t, c.Choices, "the usage chunk has no choice")
			usage = c.Usage.TotalTokens
			continue
		}
		require.Len(t, c.Choices, 1)
		if c.Choices[0].Delta.Content != nil {
			content += *c.Choices[0].Delta.Content
		}
		if p, ok := progressOf(t, c); ok {
			assert.Nil(t, c.Choices[0].Delta.Content, "a progress chunk has no content")
			progress = append(progress, p.Event)
		}
		if f := c.Choices[0].FinishReason; f != nil {
			finish = append(finish, *f)
			info = c.info(t)
		}
	}
	assert.Equal(t, "assistant", chunks[0].Choices[0].Delta.Role)
	assert.Equal(t, "3 chunks read for: "+question, content)
	assert.Equal(t, []string{"stop"}, finish)
	assert.Equal(t, "final", info.Stop)
	assert.Equal(t, 3, info.SubCalls)
	assert.Equal(t, info.Usage.Controller.TotalTokens+info.Usage.Worker.TotalTokens, usage)
	assert.Equal(t, []string{"started", "sub_call", "sub_call", "sub_call", "code_block", "iteration"}, progress)
}

func TestHeartbeat(t *testing.T) {
	ts := start(t, model(readingController(rlmtest.WithDelay(400*time.Millisecond)), nil),
		serve.WithHeartbeat(50*time.Millisecond))
	resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", true, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var comments int
	for _, e := range readEvents(t, bytes.NewReader(body), nil) {
		if e.comment != "" {
			assert.Equal(t, "keep-alive", e.comment)
			comments++
		}
	}
	assert.Positive(t, comments, "a stream waiting on the controller sends comments")
}

func TestLimits(t *testing.T) {
	talker := constant("Let me think about it some more.") // never writes code or FINAL
	ts := start(t, []serve.Model{
		{Name: "talker", Controller: talker},
		{Name: "looper", Controller: constant(rlmtest.Code(`while True: llm_query("roll")`)),
			Worker: constant("1", rlmtest.WithDelay(20*time.Millisecond))},
		{Name: "reader", Controller: readingController(), Worker: constant("1")},
	}, serve.WithLimits(serve.Limits{MaxIterations: 4, TimeLimit: time.Minute}))

	tests := []struct {
		name, model  string
		rlm          map[string]any
		stop, finish string
		iterations   int
		subCalls     int
	}{
		{"the server's iterations", "talker", nil, "max_iterations", "length", 5, 0},
		{"fewer iterations asked", "talker", map[string]any{"max_iterations": 2}, "max_iterations", "length", 3, 0},
		{"more iterations asked than allowed", "talker", map[string]any{"max_iterations": 100}, "max_iterations", "length", 5, 0},
		{"a time limit", "looper", map[string]any{"time_limit": 0.3}, "time_limit", "length", 0, 0},
		// The third sub-call is refused (Python gets an error string);
		// FINAL in the same block still answers.
		{"a sub-call budget", "reader", map[string]any{"max_sub_calls": 2}, "final", "stop", 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra map[string]any
			if tt.rlm != nil {
				extra = map[string]any{"rlm": tt.rlm}
			}
			begin := time.Now()
			resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody(tt.model, false, extra))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			c := decode[completion](t, body)
			assert.Equal(t, tt.finish, *c.Choices[0].FinishReason)
			info := c.info(t)
			assert.Equal(t, tt.stop, info.Stop)
			if tt.stop == "time_limit" {
				assert.Less(t, time.Since(begin), 30*time.Second)
				assert.Positive(t, info.SubCalls)
				return
			}
			assert.Equal(t, tt.iterations, info.Iterations, "the iterations and the last request for an answer")
			assert.Equal(t, tt.subCalls, info.SubCalls)
		})
	}
}

func TestBadRequests(t *testing.T) {
	ts := start(t, model(nil, nil), serve.WithMaxRequestBytes(4096))
	valid := func(change func(map[string]any)) map[string]any {
		b := chatBody("rlm", false, nil)
		change(b)
		return b
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, message      string
	}{
		{"unknown model", "POST", "/v1/chat/completions", chatBody("gpt-9", false, nil), 404, "model_not_found", `"gpt-9" does not exist`},
		{"no model", "POST", "/v1/chat/completions", chatBody("", false, nil), 400, "", "model: missing"},
		{"not JSON", "POST", "/v1/chat/completions", "Roll for initiative", 400, "", "not a chat completion request"},
		{"too large", "POST", "/v1/chat/completions", valid(func(b map[string]any) {
			b["messages"] = []map[string]any{{"role": "user", "content": strings.Repeat("x", 5000)}}
		}), 413, "request_too_large", "4096 bytes"},
		{"several answers", "POST", "/v1/chat/completions", valid(func(b map[string]any) { b["n"] = 2 }), 400, "", "one answer"},
		{"tools", "POST", "/v1/chat/completions", valid(func(b map[string]any) {
			b["tools"] = []any{map[string]any{"type": "function"}}
		}), 400, "", "does not call tools"},
		{"no question", "POST", "/v1/chat/completions", valid(func(b map[string]any) {
			b["messages"] = []map[string]any{{"role": "system", "content": "Be brief."}}
		}), 400, "", "no user message"},
		{"a misspelt limit", "POST", "/v1/chat/completions", valid(func(b map[string]any) {
			b["rlm"] = map[string]any{"max_iteration": 3}
		}), 400, "", `unknown field "max_iteration"`},
		{"no such model", "GET", "/v1/models/gpt-9", nil, 404, "model_not_found", "does not exist"},
		{"no such trajectory", "GET", "/v1/trajectories/chatcmpl-none", nil, 404, "trajectory_not_found", "no trajectory"},
		{"no such endpoint", "POST", "/v1/completions", chatBody("rlm", false, nil), 404, "not_found", "no endpoint POST /v1/completions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, t.Context(), tt.method, ts.root+tt.path, "", tt.body)
			assert.Equal(t, tt.status, resp.StatusCode, "%s", body)
			e := decode[apiError](t, body)
			assert.Equal(t, tt.code, e.Error.Code)
			assert.Contains(t, e.Error.Message, tt.message)
			if tt.status == 400 || tt.status == 413 {
				assert.Equal(t, "false", resp.Header.Get("X-Should-Retry"), "a retry would fail the same way")
			}
		})
	}
	assert.Equal(t, serve.Stats{}, ts.Stats(), "no run started")
}

func TestModels(t *testing.T) {
	ts := start(t, []serve.Model{
		{Name: "rlm-small", Controller: readingController()},
		{Name: "team/rlm-large", Controller: readingController(), Options: []rlm.Option{rlm.WithMaxDepth(2)}},
	})
	resp, body := call(t, t.Context(), "GET", ts.URL+"/models", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Object string
		Data   []struct {
			ID, Object string
			OwnedBy    string `json:"owned_by"`
		}
	}
	require.NoError(t, json.Unmarshal(body, &list))
	assert.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 2)
	assert.Equal(t, []string{"rlm-small", "team/rlm-large"}, []string{list.Data[0].ID, list.Data[1].ID})
	assert.Equal(t, "model", list.Data[0].Object)

	resp, body = call(t, t.Context(), "GET", ts.URL+"/models/team/rlm-large", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `"team/rlm-large"`, string(must(json.Marshal(decode[map[string]any](t, body)["id"]))))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestNewRefuses(t *testing.T) {
	c := readingController()
	tests := []struct {
		name   string
		models []serve.Model
		opts   []serve.Option
		want   string
	}{
		{"no model", nil, nil, "no model"},
		{"no name", []serve.Model{{Controller: c}}, nil, "without a name"},
		{"a name twice", []serve.Model{{Name: "a", Controller: c}, {Name: "a", Controller: c}}, nil, `two models named "a"`},
		{"no controller", []serve.Model{{Name: "a"}}, nil, "no controller"},
		{"bad engine options", []serve.Model{{Name: "a", Controller: c, Options: []rlm.Option{rlm.WithMaxIterations(0)}}}, nil, "iterations 0 < 1"},
		{"no run at once", model(c, nil), []serve.Option{serve.WithMaxRuns(0)}, "0 runs at once"},
		{"an empty token", model(c, nil), []serve.Option{serve.WithTokens("")}, "empty bearer token"},
		{"negative limits", model(c, nil), []serve.Option{serve.WithLimits(serve.Limits{MaxSubCalls: -1})}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serve.New(tt.models, tt.opts...)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestTokens(t *testing.T) {
	ts := start(t, model(nil, nil), serve.WithTokens("alice-token", "bob-token"))
	url := ts.URL + "/chat/completions"
	for _, token := range []string{"", "mallory-token"} {
		resp, body := call(t, t.Context(), "POST", url, token, chatBody("rlm", false, nil))
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, `Bearer realm="rlm"`, resp.Header.Get("WWW-Authenticate"))
		assert.Equal(t, "invalid_api_key", decode[apiError](t, body).Error.Code)
		resp, _ = call(t, t.Context(), "GET", ts.URL+"/models", token, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "even the model list needs a token")
	}
	resp, body := call(t, t.Context(), "POST", url, "alice-token", chatBody("rlm", false, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	path := ts.root + decode[completion](t, body).info(t).Trajectory

	resp, _ = call(t, t.Context(), "GET", path, "alice-token", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the creator reads its trajectory")
	for _, token := range []string{"bob-token", ""} {
		resp, body = call(t, t.Context(), "GET", path, token, nil)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusUnauthorized}, resp.StatusCode)
		assert.NotContains(t, string(body), question, "another caller learns nothing of it")
		resp, _ = call(t, t.Context(), "GET", path+"/html", token, nil)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusUnauthorized}, resp.StatusCode)
	}
	resp, _ = call(t, t.Context(), "GET", path, "bob-token", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "to another token the trajectory does not exist")
}

func TestTrajectoriesRetained(t *testing.T) {
	ts := start(t, model(nil, nil), serve.WithTrajectories(2))
	var paths []string
	for range 3 {
		resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", false, nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		paths = append(paths, decode[completion](t, body).info(t).Trajectory)
	}
	var status []int
	for _, p := range paths {
		resp, _ := call(t, t.Context(), "GET", ts.root+p, "", nil)
		status = append(status, resp.StatusCode)
	}
	assert.Equal(t, []int{404, 200, 200}, status, "the oldest is dropped")
}

func TestQueueFull(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	ts := start(t, model(blockingController(started, release), nil), serve.WithMaxRuns(1), serve.WithQueue(1))
	url := ts.URL + "/chat/completions"

	type answer struct {
		status int
		body   []byte
	}
	running := make(chan answer, 1)
	go func() {
		resp, body := call(t, context.Background(), "POST", url, "", chatBody("rlm", false, nil))
		running <- answer{resp.StatusCode, body}
	}()
	<-started

	// The second waits, and its stream says where it is in the queue.
	req, err := http.NewRequestWithContext(t.Context(), "POST", url,
		strings.NewReader(`{"model":"rlm","stream":true,"messages":[{"role":"user","content":"q"}]}`))
	require.NoError(t, err)
	queuedResp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer queuedResp.Body.Close()
	position := make(chan int, 1)
	queuedDone := make(chan []event, 1)
	go func() {
		queuedDone <- readEvents(t, queuedResp.Body, func(e event) bool {
			if e.data == "" || e.data == "[DONE]" {
				return true
			}
			if p, ok := progressOf(t, decode[completion](t, []byte(e.data))); ok && p.Event == "queued" {
				position <- p.Position
			}
			return true
		})
	}()
	assert.Equal(t, 1, <-position)
	eventually(t, func() bool { return ts.Stats().Queued == 1 }, "the second request waits")

	// The third finds the queue full.
	resp, body := call(t, t.Context(), "POST", url, "", chatBody("rlm", false, nil))
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"), "no run has ended: a guess of 5 s for one run")
	assert.Equal(t, "queue_full", decode[apiError](t, body).Error.Code)

	close(release)
	first := <-running
	assert.Equal(t, http.StatusOK, first.status, "%s", first.body)
	events := <-queuedDone
	assert.Equal(t, "[DONE]", events[len(events)-1].data, "the queued request ran once the slot freed")
	st := ts.Stats()
	assert.Equal(t, serve.Stats{Completed: 2, Rejected: 1}, st)
}

// TestClientDisconnect checks that a client that goes away stops its run:
// the sub-calls stop, the REPL's process ends, the run ends cancelled, and
// its slot frees.
func TestClientDisconnect(t *testing.T) {
	worker := constant("1", rlmtest.WithDelay(20*time.Millisecond))
	ts := start(t, model(constant(rlmtest.Code(`while True: llm_query("roll")`)), worker))

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "POST", ts.URL+"/chat/completions",
		strings.NewReader(`{"model":"rlm","stream":true,"messages":[{"role":"user","content":"doc"},{"role":"user","content":"q"}]}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var id string
	subCalls := 0
	readEvents(t, resp.Body, func(e event) bool {
		c := decode[completion](t, []byte(e.data))
		id = c.ID
		if p, ok := progressOf(t, c); ok && p.Event == "sub_call" {
			subCalls++
		}
		return subCalls < 3
	})
	pythons, canCount := pythonChildren()
	if canCount {
		assert.NotEmpty(t, pythons, "the run's REPL is a python child process")
	}
	cancel() // the client goes away mid-run
	resp.Body.Close()
	eventually(t, func() bool { return ts.Stats().Cancelled == 1 }, "the run ends")
	if canCount {
		eventually(t, func() bool { p, _ := pythonChildren(); return len(p) == 0 }, "the REPL is closed")
	}
	assert.Equal(t, serve.Stats{Cancelled: 1}, ts.Stats())
	calls := worker.CallCount()
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, calls, worker.CallCount(), "no sub-call after the run ended")

	resp2, body := call(t, t.Context(), "GET", ts.URL+"/trajectories/"+id, "", nil)
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	tr, err := rlm.ReadTrajectory(bytes.NewReader(body))
	require.NoError(t, err)
	res, ok := tr.Result()
	require.True(t, ok, "the run ended")
	assert.Equal(t, rlm.StopCancelled, res.Stop)
}

// TestShutdownFinishesRuns checks that a run in flight when shutdown
// starts finishes within the grace and its client gets the answer, while
// a queued request is refused.
func TestShutdownFinishesRuns(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	ts := start(t, model(blockingController(started, release), nil),
		serve.WithMaxRuns(1), serve.WithShutdownGrace(time.Minute))
	url := ts.URL + "/chat/completions"
	type answer struct {
		status int
		body   []byte
	}
	answers := make(chan answer, 2)
	send := func() {
		resp, body := call(t, context.Background(), "POST", url, "", chatBody("rlm", false, nil))
		answers <- answer{resp.StatusCode, body}
	}
	go send()
	<-started
	go send()
	eventually(t, func() bool { return ts.Stats().Queued == 1 }, "the second request waits")

	stopped := make(chan error, 1)
	go func() { stopped <- ts.shutdown() }()
	queued := <-answers
	assert.Equal(t, http.StatusServiceUnavailable, queued.status, "the queued request is refused")
	assert.Equal(t, "shutting_down", decode[apiError](t, queued.body).Error.Code)
	select {
	case <-stopped:
		t.Fatal("Serve returned while a run was going on")
	case <-time.After(100 * time.Millisecond):
	}
	_, err := http.Get(ts.URL + "/models")
	assert.Error(t, err, "no new connection is accepted")

	close(release)
	running := <-answers
	assert.Equal(t, http.StatusOK, running.status, "%s", running.body)
	assert.Equal(t, "3 chunks read for: "+question, decode[completion](t, running.body).Choices[0].Message.Content)
	require.NoError(t, <-stopped)
}

// TestShutdownCancelsRuns checks that runs still going when the grace
// passes are cancelled, their clients told, within the grace.
func TestShutdownCancelsRuns(t *testing.T) {
	started, never := make(chan struct{}, 2), make(chan struct{})
	ts := start(t, model(blockingController(started, never), nil),
		serve.WithMaxRuns(2), serve.WithShutdownGrace(300*time.Millisecond))
	url := ts.URL + "/chat/completions"
	plain := make(chan []byte, 1)
	go func() {
		resp, body := call(t, context.Background(), "POST", url, "", chatBody("rlm", false, nil))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		plain <- body
	}()
	streamed := make(chan []event, 1)
	go func() {
		resp, body := call(t, context.Background(), "POST", url, "", chatBody("rlm", true, nil))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		streamed <- readEvents(t, bytes.NewReader(body), nil)
	}()
	<-started
	<-started

	begin := time.Now()
	require.NoError(t, ts.shutdown())
	assert.Less(t, time.Since(begin), 10*time.Second, "Serve returns soon after the grace")
	assert.Equal(t, "shutting_down", decode[apiError](t, <-plain).Error.Code)
	events := <-streamed
	last := events[len(events)-1].data
	assert.Equal(t, "shutting_down", decode[apiError](t, []byte(last)).Error.Code, "the stream ends with an error event")
	assert.Equal(t, serve.Stats{Cancelled: 2}, ts.Stats())
}

// TestSandbox checks that the code a served run executes is contained by
// the repl package's sandbox: it reads no host file, opens no socket, and
// sees none of the server's secrets.
func TestSandbox(t *testing.T) {
	t.Setenv("SERVE_TEST_SECRET", "hunter2")
	hostile := rlmtest.Code(`
import os
results = []
for attempt in (lambda: open("/etc/passwd").read(), lambda: __import__("socket").socket()):
    try:
        attempt()
        results.append("allowed")
    except BaseException:
        results.append("refused")
results.append(str(os.environ.get("SERVE_TEST_SECRET")))
FINAL(",".join(results))`)
	ts := start(t, model(constant(hostile), nil))
	resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", false, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "refused,refused,None", decode[completion](t, body).Choices[0].Message.Content)
}

// TestPanickingModel checks that an adapter that panics fails its request
// alone and frees its run slot.
func TestPanickingModel(t *testing.T) {
	panicky := rlmtest.Func(func(context.Context, int, []rlm.Message) (string, error) { panic("adapter bug") })
	ts := start(t, model(panicky, nil), serve.WithMaxRuns(1))
	for _, stream := range []bool{false, true} {
		resp, body := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", stream, nil))
		if !stream {
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Equal(t, "false", resp.Header.Get("X-Should-Retry"))
		}
		assert.Contains(t, string(body), "run panicked: adapter bug")
	}
	assert.Equal(t, serve.Stats{Failed: 2}, ts.Stats(), "both slots were freed")
}
