package rlm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

func renderSample(t *testing.T) []byte {
	t.Helper()
	var traj Trajectory
	sampleObserverCalls(traj.Observer())
	var buf bytes.Buffer
	require.NoError(t, traj.WriteHTML(&buf))
	return buf.Bytes()
}

// walk calls fn for every node of the tree under n.
func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

// textOf is the text content of n.
func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func TestWriteHTMLStructure(t *testing.T) {
	page := renderSample(t)
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)

	var scripts, steps, blocks, childRuns, codeBlocks []*html.Node
	var policy string
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch {
		case n.Data == "script":
			scripts = append(scripts, n)
		case n.Data == "meta":
			if v, _ := attr(n, "http-equiv"); v == "Content-Security-Policy" {
				policy, _ = attr(n, "content")
			}
		case n.Data == "section" && hasClass(n, "step"):
			steps = append(steps, n)
		case n.Data == "div" && hasClass(n, "block"):
			blocks = append(blocks, n)
		case n.Data == "div" && hasClass(n, "child"):
			childRuns = append(childRuns, n)
		case n.Data == "pre" && hasClass(n, "code"):
			codeBlocks = append(codeBlocks, n)
		}
		// Nothing may be loaded from anywhere: no src, no stylesheet link.
		_, hasSrc := attr(n, "src")
		assert.False(t, hasSrc, "element <%s> loads a resource", n.Data)
		if n.Data == "link" {
			t.Errorf("page links an external resource")
		}
		for _, a := range n.Attr {
			assert.False(t, strings.HasPrefix(a.Key, "on"), "event handler attribute %s on <%s>", a.Key, n.Data)
		}
	})

	require.Len(t, scripts, 1, "only the page's own script is an element; the injected one is text")
	script := textOf(scripts[0])
	sum := sha256.Sum256([]byte(script))
	assert.Contains(t, policy, "default-src 'none'")
	assert.Contains(t, policy, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'",
		"the policy admits exactly the page's script")

	// Root: two steps; the child run nested under the rlm_query call has one.
	assert.Len(t, steps, 3)
	assert.Len(t, childRuns, 1)
	assert.Contains(t, textOf(childRuns[0]), "Who rolled?")
	assert.Contains(t, textOf(childRuns[0]), "Vex")
	assert.Len(t, blocks, 3)
	assert.Contains(t, textOf(blocks[1]), "ZeroDivisionError: division by zero")
	assert.Contains(t, textOf(blocks[0]), "worker exploded")
	assert.Contains(t, textOf(blocks[0]), "count rolls")
	assert.Len(t, codeBlocks, 3, "the root's replies hold three code blocks, the child's none")

	body := textOf(doc)
	assert.Contains(t, body, "How many rolls? "+injection, "model text shows as text, escaped")
	assert.Contains(t, body, "stop: final")
	assert.Contains(t, body, "67% ok", "code success rate")
	assert.Contains(t, body, "depth 1: 3")
	assert.NotContains(t, string(page), "<script>document.body", "no raw injected markup in the page")
}

func TestWriteHTMLIncompleteTrajectory(t *testing.T) {
	var traj Trajectory
	o := traj.Observer()
	o.RunStart(RunStartEvent{Question: "Half a run"})
	o.CodeBlock(CodeBlockEvent{Iteration: 1, Block: 1, Code: "x = 1", Duration: 1})
	var buf bytes.Buffer
	require.NoError(t, traj.WriteHTML(&buf))
	assert.Contains(t, buf.String(), "incomplete")
	assert.Contains(t, buf.String(), "Half a run")
}

// findBrowser returns a headless-capable Chromium, or "" when none is
// installed.
func findBrowser() string {
	if path := os.Getenv("RLM_TEST_BROWSER"); path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

func TestWriteHTMLInHeadlessBrowser(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set RLM_TEST_BROWSER); skipping the browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dir := t.TempDir()
	pagePath := filepath.Join(dir, "trajectory.html")
	require.NoError(t, os.WriteFile(pagePath, renderSample(t), 0o644))

	cmd := exec.CommandContext(t.Context(), browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+pagePath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())

	dom, err := html.Parse(bytes.NewReader(out))
	require.NoError(t, err)
	var body *html.Node
	walk(dom, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "body" {
			body = n
		}
	})
	require.NotNil(t, body, "the browser rendered a body")
	ready, _ := attr(body, "data-ready")
	assert.Equal(t, "1", ready, "the page's own script ran")
	_, pwned := attr(body, "data-pwned")
	assert.False(t, pwned, "script injected through model output did not run")
	text := textOf(body)
	assert.Contains(t, text, "How many rolls?")
	assert.Contains(t, text, `<script>document.body.setAttribute("data-pwned","1")</script>`,
		"the injected markup is shown as text")
}
