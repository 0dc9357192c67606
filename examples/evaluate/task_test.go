package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/oolong"
	"github.com/go-rlm/rlm/rlm/rlmtest"
)

// playsCharacter finds a line of the player-to-character map.
var playsCharacter = regexp.MustCompile(`(?m)^(\w+) plays the character ([^.\n]+)\.$`)

// mapReader is a scripted controller that answers "How many rolls did the
// player X's character make?" as a model would: it needs the character's
// name, which only the window's player-to-character map gives. If the
// conversation shows the map, it asks every chunk about that character and
// adds up the answers; if not, it first prints the start of the document
// to find the map.
func mapReader() *rlmtest.LM {
	return rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		seen := ""
		for _, m := range messages[1:] {
			seen += m.Content + "\n"
		}
		if strings.Contains(seen, "[[counted ") {
			return rlmtest.Code(`answer["content"] = "\\boxed{%d}" % total; answer["ready"] = True`), nil
		}
		player := regexp.MustCompile(`the player (\w+)`).FindStringSubmatch(messages[1].Content)[1]
		for _, m := range playsCharacter.FindAllStringSubmatch(seen, -1) {
			if m[1] == player {
				return rlmtest.Code(fmt.Sprintf(`chunks = [context[i:i + 50000] for i in range(0, len(context), 50000)]
answers = sub_call(chunks, "How many rolls did %s make? Reply with a number.")
total = sum(int(a) for a in answers)
print("[[counted %%d]]" %% total)`, m[2])), nil
			}
		}
		return rlmtest.Code("print(context[:2000])"), nil
	})
}

// TestControllerIsToldTheTask measures what telling the controller the
// task saves: with the evaluation's options (the task preamble and each
// window's header, its instructions and player map, in the first message)
// a question about a player's character is answered without reading the
// document to find the map; without the header the same controller spends
// a reply and a code block printing the document's start first. It also
// checks that the system prompt's first look prints the header and the
// start of the first transcript of real windows.
func TestControllerIsToldTheTask(t *testing.T) {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		t.Skipf("no transcripts: %v", err)
	}
	c, err := oolong.LoadCampaign(dir, 1)
	require.NoError(t, err)
	w, err := c.Window(3, 4)
	require.NoError(t, err)
	const question = "How many rolls did the player Laura's character make in these episodes?"
	worker := rlmtest.Func(func(_ context.Context, _ int, messages []rlm.Message) (string, error) {
		if strings.Contains(messages[len(messages)-1].Content, "Vex'ahlia") {
			return "3", nil
		}
		return "0", nil
	})
	e := &evaluator{s: settings{Config: testConfig()}, log: newLogger(io.Discard, false)}

	ask := func(opts ...rlm.Option) (rlm.Result, *rlmtest.LM, *rlm.Trajectory) {
		controller := mapReader()
		traj := &rlm.Trajectory{}
		engine, err := rlm.New(controller, worker, append(e.rlmOptions(), append(opts, rlm.WithObserver(traj.Observer()))...)...)
		require.NoError(t, err)
		res, err := engine.Run(t.Context(), w.Text, question)
		require.NoError(t, err)
		return res, controller, traj
	}
	chunks := (len([]rune(w.Text)) + 49_999) / 50_000
	want := fmt.Sprintf(`\boxed{%d}`, 3*chunks)

	told, controller, traj := ask()
	first := controller.Calls()[0]
	assert.Contains(t, first[0].Content, oolong.TaskPreamble, "the task preamble is in the system prompt")
	assert.Contains(t, first[1].Content, "Laura plays the character Vex'ahlia.", "the map is in the first message")
	assert.NotContains(t, first[1].Content, oolong.EpisodeStart+"\n", "and no transcript")
	assert.Equal(t, want, told.Answer)
	printed := func(traj *rlm.Trajectory) (blocks, chars int) {
		for _, r := range traj.Records {
			if r.CodeBlock != nil && strings.Contains(r.CodeBlock.Code, "print(context[:") {
				blocks++
				chars += len([]rune(r.CodeBlock.Stdout))
			}
		}
		return blocks, chars
	}
	toldBlocks, _ := printed(traj)
	assert.Zero(t, toldBlocks, "no code reads the document to find the map")

	blind, controller, traj := ask(rlm.WithDocumentHeader(nil))
	assert.NotContains(t, controller.Calls()[0][1].Content, "plays the character")
	assert.Equal(t, want, blind.Answer)
	blindBlocks, blindChars := printed(traj)
	assert.Equal(t, 1, blindBlocks, "without the header, a block prints the document's start")
	assert.Positive(t, blindChars)

	t.Logf("told the task: %d replies, %d code blocks, %d controller prompt tokens; without the header: %d, %d (one printing %d characters of the document), %d",
		told.Stats.Iterations, told.Stats.CodeBlocks, told.Stats.Controller.PromptTokens,
		blind.Stats.Iterations, blind.Stats.CodeBlocks, blindChars, blind.Stats.Controller.PromptTokens)
	assert.Equal(t, 2, told.Stats.Iterations, "count, then answer")
	assert.Equal(t, 3, blind.Stats.Iterations, "look for the map, count, then answer")

	// The first look of the system prompt shows the header and the start of
	// the first transcript of real windows of both campaigns.
	for _, campaign := range []int{1, 2} {
		c, err := oolong.LoadCampaign(dir, campaign)
		require.NoError(t, err)
		for _, n := range []int{1, 2} {
			w, err := c.First(n)
			require.NoError(t, err)
			start := string([]rune(w.Text)[:2000])
			assert.Contains(t, start, "plays the character", "campaign %d", campaign)
			assert.Contains(t, start, oolong.EpisodeStart+"\n", "campaign %d", campaign)
		}
	}
	assert.Contains(t, rlm.DefaultSystemPrompt(), "print(context[:2000])")
}
