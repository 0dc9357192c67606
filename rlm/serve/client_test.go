package serve_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/internal/npmtest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/serve"
)

// openaiPackage is OpenAI's official Node.js client. Its 6.x line runs on
// the Node.js that Debian 12 ships; 7.x needs Node 22.
const openaiPackage = "openai@6.49.0"

const clientScript = "testdata/openai_client.cjs"

// clientRun is what testdata/openai_client.cjs reports.
type clientRun struct {
	Models     []string
	Completion struct {
		ID, Object, Content, Role, Finish string
		Usage                             struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
		RLM serve.RunInfo
	}
	File struct {
		Content string
		RLM     serve.RunInfo
	}
	Stream struct {
		IDs      []string
		Content  string
		Finish   []string
		Progress []string
		Usage    struct {
			TotalTokens int `json:"total_tokens"`
		}
		RLM serve.RunInfo
	}
	Helper     struct{ Content, Finish string }
	Trajectory struct {
		Status int
		Types  []rlm.RecordType
	}
	Errors map[string]struct {
		Status int
		Code   string
		Class  string
	}
}

// TestOpenAIClient serves a scripted controller and a generated worker
// decoded by rlm/local, and talks to it with OpenAI's own Node.js client:
// plain and streamed completions, the stream helper, a file attachment, a
// per-request limit as an extra body field, the typed errors, and the
// trajectory behind the completion's id.
func TestOpenAIClient(t *testing.T) {
	modules := npmtest.Modules(t, openaiPackage)
	ts := start(t, model(nil, localWorker(t, nil)), serve.WithTokens("test-key"))
	cfg := map[string]any{"baseURL": ts.URL, "apiKey": "test-key", "model": "rlm", "document": transcript, "question": question}
	var out clientRun
	npmtest.Run(t, modules, bytes.NewReader(must(json.Marshal(cfg))), &out, clientScript)

	want := "3 chunks read for: " + question
	assert.Equal(t, []string{"rlm"}, out.Models)

	c := out.Completion
	assert.True(t, strings.HasPrefix(c.ID, "chatcmpl-"))
	assert.Equal(t, "chat.completion", c.Object)
	assert.Equal(t, "assistant", c.Role)
	assert.Equal(t, want, c.Content)
	assert.Equal(t, "stop", c.Finish)
	assert.Equal(t, 3, c.RLM.Usage.Worker.Calls)
	assert.Positive(t, c.RLM.Usage.Worker.PromptTokens, "the generated worker counted its tokens")
	assert.Equal(t, c.RLM.Usage.Controller.TotalTokens+c.RLM.Usage.Worker.TotalTokens, c.Usage.TotalTokens)

	assert.Equal(t, want, out.File.Content, "the attached file was the document")
	assert.Equal(t, 1, out.File.RLM.SubCalls, "the limit in the body held: one sub-call made, two refused")

	s := out.Stream
	assert.Len(t, s.IDs, 1, "one id for every chunk")
	assert.Equal(t, want, s.Content)
	assert.Equal(t, []string{"stop"}, s.Finish)
	assert.Equal(t, "final", s.RLM.Stop)
	assert.Equal(t, s.RLM.Usage.Controller.TotalTokens+s.RLM.Usage.Worker.TotalTokens, s.Usage.TotalTokens)
	assert.Equal(t, []string{"started", "sub_call", "sub_call", "sub_call", "code_block", "iteration"}, s.Progress)

	assert.Equal(t, want, out.Helper.Content)
	assert.Equal(t, "stop", out.Helper.Finish)

	assert.Equal(t, 200, out.Trajectory.Status)
	require.NotEmpty(t, out.Trajectory.Types)
	assert.Equal(t, rlm.RecordRunStart, out.Trajectory.Types[0])
	assert.Equal(t, rlm.RecordRunEnd, out.Trajectory.Types[len(out.Trajectory.Types)-1])

	assert.Equal(t, "NotFoundError", out.Errors["unknown_model"].Class)
	assert.Equal(t, "model_not_found", out.Errors["unknown_model"].Code)
	assert.Equal(t, "AuthenticationError", out.Errors["bad_key"].Class)
	assert.Equal(t, 401, out.Errors["bad_key"].Status)
	assert.Equal(t, "BadRequestError", out.Errors["no_question"].Class)
}

// TestOpenAIClientRateLimited checks that the official client sees a full
// queue as its RateLimitError, with the server's Retry-After.
func TestOpenAIClientRateLimited(t *testing.T) {
	modules := npmtest.Modules(t, openaiPackage)
	started, release := make(chan struct{}, 1), make(chan struct{})
	ts := start(t, model(blockingController(started, release), nil), serve.WithMaxRuns(1), serve.WithQueue(0))
	done := make(chan int, 1)
	go func() {
		resp, _ := call(t, t.Context(), "POST", ts.URL+"/chat/completions", "", chatBody("rlm", false, nil))
		done <- resp.StatusCode
	}()
	<-started
	var out struct {
		Status     int
		RateLimit  bool
		RetryAfter string
	}
	cfg := map[string]any{"mode": "busy", "baseURL": ts.URL, "apiKey": "none", "model": "rlm", "document": transcript, "question": question}
	npmtest.Run(t, modules, bytes.NewReader(must(json.Marshal(cfg))), &out, clientScript)
	close(release)
	assert.Equal(t, 200, <-done)
	assert.Equal(t, 429, out.Status)
	assert.True(t, out.RateLimit)
	assert.Equal(t, "5", out.RetryAfter)
}

// TestCurl talks to the server with curl: a completion, a stream, the
// trajectory, and a refused token.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	ts := start(t, model(nil, localWorker(t, nil)), serve.WithTokens("test-key"))
	body := string(must(json.Marshal(chatBody("rlm", false, nil))))
	curl := func(args ...string) string {
		t.Helper()
		args = append([]string{"-sS", "--fail-with-body", "-H", "Authorization: Bearer test-key"}, args...)
		out, err := exec.CommandContext(t.Context(), "curl", args...).Output()
		require.NoError(t, err, "curl %v: %s", args, out)
		return string(out)
	}

	c := decode[completion](t, []byte(curl("-H", "Content-Type: application/json", "-d", body, ts.URL+"/chat/completions")))
	assert.Equal(t, "3 chunks read for: "+question, c.Choices[0].Message.Content)
	assert.Equal(t, "stop", *c.Choices[0].FinishReason)

	streamed := strings.Replace(body, `"model"`, `"stream":true,"model"`, 1)
	events := readEvents(t, strings.NewReader(curl("-N", "-H", "Content-Type: application/json", "-d", streamed, ts.URL+"/chat/completions")), nil)
	assert.Equal(t, "[DONE]", events[len(events)-1].data)
	var content string
	for _, e := range events[:len(events)-1] {
		if d := decode[completion](t, []byte(e.data)).Choices[0].Delta.Content; d != nil {
			content += *d
		}
	}
	assert.Equal(t, "3 chunks read for: "+question, content)

	tr, err := rlm.ReadTrajectory(strings.NewReader(curl(ts.URL + "/trajectories/" + c.ID)))
	require.NoError(t, err)
	res, ok := tr.Result()
	require.True(t, ok)
	assert.True(t, res.Final)
	assert.Contains(t, curl(ts.URL+"/trajectories/"+c.ID+"/html"), "<!DOCTYPE html>")

	out, err := exec.CommandContext(t.Context(), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "Authorization: Bearer wrong", ts.URL+"/models").Output()
	require.NoError(t, err)
	assert.Equal(t, "401", string(out))
}

// TestREADMEExample runs the README's example of the openai client, as
// written but for the server's address, against a served RLM.
func TestREADMEExample(t *testing.T) {
	modules := npmtest.Modules(t, openaiPackage)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Serving an RLM over the OpenAI API")
	require.True(t, ok, "the README has its section on serving")
	_, code, ok := strings.Cut(section, "```js\n")
	require.True(t, ok)
	code, _, ok = strings.Cut(code, "```")
	require.True(t, ok)

	ts := start(t, model(nil, nil))
	require.Contains(t, code, "'http://127.0.0.1:8080/v1'")
	code = strings.Replace(code, "'http://127.0.0.1:8080/v1'", "'"+ts.URL+"'", 1)
	code = "const transcript = " + string(must(json.Marshal(transcript))) + ";\n" + code
	// An ES module resolves packages from its directory: run it beside
	// node_modules.
	cmd := exec.CommandContext(t.Context(), "node", "--input-type=module", "-e", code)
	cmd.Dir = filepath.Dir(modules)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	fields := strings.Fields(string(out))
	require.NotEmpty(t, fields)
	assert.Equal(t, "3 chunks read for: How many times does Vex roll a natural 20?", strings.Join(fields[:len(fields)-1], " "))
	assert.True(t, strings.HasPrefix(fields[len(fields)-1], "/v1/trajectories/chatcmpl-"), "%s", out)
}
