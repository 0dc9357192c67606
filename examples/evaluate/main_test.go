package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/internal/crd3test"
	"github.com/go-rlm/rlm/llama/llamatest"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// binary is the evaluate command, built once for the tests with the test
// binary's own flags (-race included).
var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

// result is how a run of the command ended.
type result struct {
	code           int
	stdout, stderr string
}

// evaluate runs the command with args and extra environment variables, and
// waits at most five minutes for it.
func evaluate(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return result{exit.ExitCode(), stdout.String(), stderr.String()}
	}
	require.NoError(t, err)
	return result{0, stdout.String(), stderr.String()}
}

// workerGrammar holds the generated worker to a boxed number, which both
// the scripted controller's code and the official scorer can read.
const workerGrammar = `root ::= "\\boxed{" [1-9] [0-9]? "}"`

// workerModel is the path of a generated GGUF model for the worker.
func workerModel(t testing.TB) string {
	return llamatest.Model(t, llamatest.DefaultConfig())
}

// scriptedCode is what the scripted controller runs: two sub-calls, on the
// window's start and middle, whose boxed numbers it adds up. It asks every
// question's chunks the same thing, so that the questions of a window
// share their sub-calls.
const scriptedCode = `import re
middle = len(context) // 2
answers = sub_call([context[:300], context[middle:middle + 300]], "How many dice rolls are in this text?")
total = sum(int(re.search(r"[0-9]+", a).group(0)) for a in answers)
print(total)`

// scriptedReply is the controller's script, a function of the
// conversation alone so that a restarted run gets the same replies: look,
// then FINAL_VAR. Spell questions first run a block that raises, so that
// the statistics of failed code have something to count.
func scriptedReply(messages []rlm.Message) string {
	question := messages[1].Content // the first user message states the question
	steps := []string{rlmtest.Code(scriptedCode), "FINAL_VAR(total)"}
	if strings.Contains(question, "spell") {
		steps = append([]string{rlmtest.Code("print(spells_so_far)")}, steps...)
	}
	return replyStep(messages, steps...)
}

// replyStep returns the step of a controller's script that its next reply
// is, from the conversation so far: steps[k] for its k-th reply, and the
// last step from then on.
func replyStep(messages []rlm.Message, steps ...string) string {
	replies := 0
	for _, m := range messages {
		if m.Role == rlm.RoleAssistant {
			replies++
		}
	}
	return steps[min(replies, len(steps)-1)]
}

// newScriptedController serves scriptedReply as an OpenAI-compatible
// /v1/chat/completions endpoint on loopback.
func newScriptedController(t testing.TB) *httptest.Server {
	return newFailingController(t, func(string) bool { return false })
}

// newFailingController is newScriptedController, but it answers 400 Bad
// Request, which the client does not retry, to every request about a
// question that fail accepts.
func newFailingController(t testing.TB, fail func(question string) bool) *httptest.Server {
	return newHookedController(t, func(_ *http.Request, messages []rlm.Message) bool {
		return fail(messages[1].Content)
	})
}

// newHookedController is newScriptedController with a hook that sees each
// request before it is answered: it may hold the request, and it fails it
// (as newFailingController does) by returning true.
func newHookedController(t testing.TB, hook func(r *http.Request, messages []rlm.Message) (fail bool)) *httptest.Server {
	return serveController(t, scriptedReply, hook)
}

// serveController serves reply as an OpenAI-compatible
// /v1/chat/completions endpoint on loopback, with hook as in
// newHookedController.
func serveController(t testing.TB, reply func([]rlm.Message) string, hook func(r *http.Request, messages []rlm.Message) (fail bool)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Messages []rlm.Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) < 2 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if hook(r, req.Messages) {
			http.Error(w, `{"error": {"message": "scripted failure", "type": "invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		text := reply(req.Messages)
		prompt := 0
		for _, m := range req.Messages {
			prompt += rlmtest.CountTokens(m.Content)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"choices": []map[string]any{{"message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"usage":   map[string]int{"prompt_tokens": prompt, "completion_tokens": rlmtest.CountTokens(text)},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// testArgs are the flags of a run on the generated worker and the scripted
// controller at url, but for -out. The generated worker's tokenizer has a
// token per byte.
func testArgs(data, url, worker string, more ...string) []string {
	return append([]string{
		"-data", data, "-config", "dnd", "-split", "test",
		"-controller-url", url + "/v1",
		"-worker", worker, "-worker-grammar", workerGrammar,
		"-worker-ctx", "1024", "-worker-max-tokens", "12", "-worker-parallel", "2",
		"-threads", "1", "-max-context-tokens", "0", // the transcripts' windows run to 900K tokens of bytes
	}, more...)
}

// transcriptExamples builds n examples from the real Critical Role
// transcripts, as OOLONG-real builds its rows: context windows of one, two
// and three episodes of campaign 1, asked about rolls and spells. The gold
// answers are counts of words in the text, so that some predictions score.
// The excerpt in testdata holds these episodes (see crd3test).
func transcriptExamples(t testing.TB, n int) []oolong.Example {
	t.Helper()
	c, err := oolong.LoadCampaign(crd3test.Dir(t, 1, 2, 3, 4), 1)
	require.NoError(t, err)
	windows := [][]int{{1}, {1, 2}, {2}, {3}, {2, 3, 4}, {4}}
	words := regexp.MustCompile(`(?i)\broll`)
	var examples []oolong.Example
	for i := 0; len(examples) < n; i++ {
		w, err := c.Window(windows[i%len(windows)]...)
		require.NoError(t, err)
		single := len(w.Episodes) == 1
		for _, q := range []struct {
			question string
			single   oolong.QuestionType
			multi    oolong.QuestionType
		}{
			{"Total number of rolls in this episode?", oolong.SingleDocRolls, oolong.MultiDocRolls},
			{"How many spells were cast during this episode?", oolong.SingleDocSpells, oolong.MultiDocSpells},
		} {
			typ := q.single
			question := q.question
			if !single {
				typ = q.multi
				question = strings.Replace(question, "this episode", fmt.Sprintf("all %d episodes, round %d", len(w.Episodes), i), 1)
			}
			gold := fmt.Sprint(len(words.FindAllStringIndex(w.Text, -1)) % 40)
			examples = append(examples, w.Example(question, gold, typ))
			if len(examples) == n {
				break
			}
		}
	}
	return examples
}

// writeSplit writes examples as a JSONL split file and returns its path.
func writeSplit(t testing.TB, dir string, examples []oolong.Example) string {
	t.Helper()
	path := filepath.Join(dir, "test.jsonl")
	f, err := os.Create(path)
	require.NoError(t, err)
	enc := json.NewEncoder(f)
	for _, e := range examples {
		require.NoError(t, enc.Encode(e))
	}
	require.NoError(t, f.Close())
	return path
}
