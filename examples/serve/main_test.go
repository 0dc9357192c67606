package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/examples/internal/cmdtest"
	"github.com/go-rlm/rlm/llama/llamatest"
)

var binary string

func TestMain(m *testing.M) { cmdtest.Main(m, &binary) }

func TestHelp(t *testing.T) {
	code, stdout, stderr := cmdtest.Run(t, binary, "-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, stdout)
	assert.True(t, strings.HasPrefix(stderr, "usage: serve -controller FILE.gguf -worker FILE.gguf [flags]\n"), stderr)
	for _, flag := range []string{"-addr", "-token-file", "-runs", "-queue", "-time-limit", "-grace", "-max-body"} {
		assert.Contains(t, stderr, "  "+flag+" ")
	}
	assert.Contains(t, stderr, `(default "127.0.0.1:8080")`, "loopback unless told otherwise")
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	model := llamatest.Model(t, llamatest.DefaultConfig())
	notModel := filepath.Join(dir, "doc.txt")
	require.NoError(t, os.WriteFile(notModel, []byte("text"), 0o644))
	emptyTokens := filepath.Join(dir, "tokens")
	require.NoError(t, os.WriteFile(emptyTokens, []byte("# no token yet\n\n"), 0o600))
	local := []string{"-addr", "127.0.0.1:0"}
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no models", "-controller and -worker are required", []string{"-worker", model}},
		{"no room for a reply", "-max-reply 2048 leaves no room", []string{"-controller", model, "-worker", model, "-ctx", "2048", "-max-reply", "2048"}},
		{"missing token file", "no such file", append([]string{"-controller", model, "-worker", model, "-token-file", filepath.Join(dir, "none")}, local...)},
		{"empty token file", "no token in the file", append([]string{"-controller", model, "-worker", model, "-token-file", emptyTokens}, local...)},
		{"bad address", "missing port", []string{"-controller", model, "-worker", model, "-addr", "localhost"}},
		{"bad model", "controller: ", append([]string{"-controller", notModel, "-worker", model}, local...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cmdtest.Run(t, binary, tt.args...)
			cmdtest.AssertFailed(t, "serve", tt.want, code, stdout, stderr)
		})
	}
}

// TestServeUntilSIGTERM runs the command on two generated models, asks it
// a question with a token while SIGTERM arrives, and checks that the run
// in flight is answered before the command exits cleanly. A controller of
// random weights writes no code, so its run ends at the iteration limit.
func TestServeUntilSIGTERM(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the REPL needs it")
	}
	cfg := llamatest.DefaultConfig()
	cfg.Seed = 2
	controller, worker := llamatest.Model(t, cfg), llamatest.Model(t, llamatest.DefaultConfig())
	tokens := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("# the team's token\nsecret-token\n"), 0o600))

	cmd := exec.Command(binary, "-controller", controller, "-worker", worker, "-addr", "127.0.0.1:0",
		"-token-file", tokens, "-iterations", "2", "-max-reply", "32", "-ctx", "8192", "-threads", "1", "-grace", "1m", "-v")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	// Keep the log, and say when a run has started.
	var stderr lockedBuffer
	runStarted, logDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			stderr.add(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "rlm: run started") {
				close(runStarted)
			}
		}
	}()
	out := bufio.NewReader(stdout)
	first, err := out.ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Contains(t, first, "controller on CPU, worker on CPU")
	fields := strings.Fields(first)
	require.Len(t, fields, 10, first)
	base := fields[3] // serving rlm on http://127.0.0.1:PORT/v1 (...)
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), first)

	body := `{"model":"rlm","messages":[{"role":"user","content":"Matt: Roll initiative.\nLaura: 17."},{"role":"user","content":"Who rolled?"}]}`
	post := func(token string) (*http.Response, []byte) {
		req, err := http.NewRequest("POST", base+"/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	resp, _ := post("wrong-token")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	type answer struct {
		status int
		body   []byte
	}
	answered := make(chan answer, 1)
	go func() {
		resp, b := post("secret-token")
		answered <- answer{resp.StatusCode, b}
	}()
	select {
	case <-runStarted:
	case <-time.After(5 * time.Minute):
		t.Fatal("no run started")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	a := <-answered
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var c struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		}
		RLM struct {
			Stop       string
			Iterations int
		}
	}
	require.NoError(t, json.Unmarshal(a.body, &c))
	assert.Equal(t, "length", c.Choices[0].FinishReason)
	assert.Equal(t, "max_iterations", c.RLM.Stop)
	assert.Equal(t, 3, c.RLM.Iterations, "two iterations and the last request for an answer")

	rest, _ := io.ReadAll(out)
	<-logDone
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	assert.Equal(t, "stopped\n", string(rest))
	assert.Contains(t, stderr.String(), "serve: shutting down")
	assert.Contains(t, stderr.String(), "serve: answered")
}

// lockedBuffer keeps a command's log as another goroutine reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
