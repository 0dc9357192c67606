package oolong

// Context windows are built as the official generator builds them:
// src/data_gen/prepare_cr_questions.py of github.com/abertsch72/oolong
// (SINGLEDOC_PROMPT, MULTIDOC_PROMPT, p2c_prompt, generate_unique_uuid). Its
// instructions are a plain Python string, not an f-string, so the doubled
// braces of "\\boxed{{}}" reach the text as they are.

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	singleDocInstructions = "The following lines contains a single episode transcript of a Dungeons and Dragons game played by a group of players. " +
		"The episode transcript is delimited by [START OF EPISODE] and [END OF EPISODE]. " +
		"The transcript is followed by a question about the game statistics. " +
		"Answer the question based on the transcript. " +
		"Do not try to guess, estimate or approximate the result. " +
		"Do not ask the user for clarification or follow-up. " +
		"Do step-by-step reasoning if needed. " +
		`Return the final answer in \boxed{{}}. `
	multiDocInstructions = "The following lines contains multiple episode transcripts of a Dungeons and Dragons game played by a group of players. " +
		"Each episode transcript is delimited by [START OF EPISODE] and [END OF EPISODE]. " +
		"The transcripts are followed by a question about the game statistics. " +
		"Answer the question based on the transcripts. " +
		"Do not try to guess, estimate or approximate the result. " +
		"Do not ask the user for clarification or follow-up. " +
		"Do step-by-step reasoning if needed. " +
		`Return the final answer in \boxed{{}}. `

	// EpisodeStart and EpisodeEnd delimit each transcript in a context window.
	EpisodeStart = "[START OF EPISODE]"
	EpisodeEnd   = "[END OF EPISODE]"

	episodeSeparator = "\n\n"
)

// Window is a context window: instructions, the player-to-character map and
// the transcripts of some episodes of one campaign, as in OOLONG-real.
type Window struct {
	// ID is the context_window_id the dataset gives these episodes.
	ID string
	// Campaign is "campaign1" or "campaign2".
	Campaign string
	// Episodes are the episode numbers, in order.
	Episodes []int
	// Text is the context window text.
	Text string
}

// Window builds the context window of the given episodes, in the order
// given (the dataset sorts them). One episode gets the single-episode
// instructions, several the multi-episode ones.
func (c *Campaign) Window(episodes ...int) (Window, error) {
	if len(episodes) == 0 {
		return Window{}, fmt.Errorf("oolong: window of %s: no episodes", c.Name)
	}
	blocks := make([]string, len(episodes))
	for i, ep := range episodes {
		transcript, err := c.Transcript(ep)
		if err != nil {
			return Window{}, err
		}
		blocks[i] = episodeBlock(transcript)
	}
	return Window{
		ID:       ContextWindowID(c.Name, episodes),
		Campaign: c.Name,
		Episodes: slices.Clone(episodes),
		Text:     c.preamble(len(episodes)) + strings.Join(blocks, episodeSeparator),
	}, nil
}

// First builds the context window of the campaign's first n episodes (all
// of them if n is larger than their count).
func (c *Campaign) First(n int) (Window, error) {
	return c.Window(c.episodes[:min(max(n, 1), len(c.episodes))]...)
}

// WindowOfLength builds the context window of the campaign's first episodes,
// as few as make it at least target long (all of them if the whole campaign
// is shorter). Length is measured by length, for instance a tokenizer's
// token count, or in characters (Unicode code points) when length is nil.
// The lengths of the instructions and of each episode are measured apart and
// summed, which is exact for characters and off by a few tokens per episode
// for a tokenizer.
func (c *Campaign) WindowOfLength(target int, length func(string) int) (Window, error) {
	if length == nil {
		length = utf8.RuneCountInString
	}
	separator := length(episodeSeparator)
	single, multi := length(c.preamble(1)), length(c.preamble(2))
	windowLength := func(n, transcripts int) int {
		if n == 1 {
			return single + transcripts
		}
		return multi + transcripts + (n-1)*separator
	}
	n, transcripts := 0, 0 // episodes taken, and the length of their blocks
	for n < len(c.episodes) && (n == 0 || windowLength(n, transcripts) < target) {
		transcript, err := c.Transcript(c.episodes[n])
		if err != nil {
			return Window{}, err
		}
		transcripts += length(episodeBlock(transcript))
		n++
	}
	return c.First(n)
}

// preamble returns the instructions and the player-to-character map that
// open a window of n episodes.
func (c *Campaign) preamble(n int) string {
	var b strings.Builder
	if n == 1 {
		b.WriteString(singleDocInstructions)
	} else {
		b.WriteString(multiDocInstructions)
	}
	b.WriteString("\n\nThe following lines contain the mapping between player names and character names.\n")
	for i, p := range c.Players {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Name + " plays the character " + p.Character + ".")
	}
	b.WriteString("\n\nUse this mapping when answering the questions below.\n\n")
	return b.String()
}

func episodeBlock(transcript string) string {
	return EpisodeStart + "\n" + transcript + "\n" + EpisodeEnd
}

// Example returns a row asking question about w, with the identifiers the
// dataset would give it.
func (w Window) Example(question, answer string, t QuestionType) Example {
	return Example{
		ID:                ExampleID(w.Campaign, question, w.Episodes),
		ContextWindowID:   w.ID,
		ContextWindowText: w.Text,
		Question:          question,
		Answer:            answer,
		QuestionType:      t,
		Episodes:          slices.Clone(w.Episodes),
		Campaign:          w.Campaign,
	}
}

// ContextWindowID returns the context_window_id of the dataset for the given
// episodes of a campaign: the MD5 of campaign + "_".join(episodes), written
// as a UUID.
func ContextWindowID(campaign string, episodes []int) string {
	return md5UUID(campaign + joinInts(episodes, "_"))
}

// ExampleID returns the id of the dataset's row asking question about the
// given episodes of a campaign.
func ExampleID(campaign, question string, episodes []int) string {
	return md5UUID(campaign + question + joinInts(episodes, "_"))
}

// md5UUID is Python's str(uuid.UUID(bytes=hashlib.md5(text.encode()).digest())).
func md5UUID(text string) string {
	sum := md5.Sum([]byte(text))
	h := hex.EncodeToString(sum[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
