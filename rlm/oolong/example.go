package oolong

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Repo is the dataset's repository on the Hugging Face Hub.
const Repo = "oolongbench/oolong-real"

// ParquetRevision is the Hub revision that holds the dataset viewer's
// automatic Parquet conversion of the dataset.
const ParquetRevision = "refs/convert/parquet"

// Config is a configuration (subset) of the dataset.
type Config string

const (
	// DnD is the full dataset.
	DnD Config = "dnd"
	// ToyDnD is a small sample with a few questions of each type.
	ToyDnD Config = "toy_dnd"
)

// Split is a split of the dataset.
type Split string

const (
	// Validation is built from campaign 2.
	Validation Split = "validation"
	// Test is built from campaign 1.
	Test Split = "test"
)

// JSONLPath returns the path of a split's JSONL file in [Repo], such as
// "dnd/test.jsonl".
func JSONLPath(c Config, s Split) string { return string(c) + "/" + string(s) + ".jsonl" }

// ParquetShards returns, in order, the Parquet files of one split among the
// paths of the [ParquetRevision] listing: "dnd/test/0000.parquet" and so on,
// or "dnd/partial-test/..." where the converter stopped at its size limit.
func ParquetShards(paths []string, c Config, s Split) []string {
	var shards []string
	for _, p := range paths {
		dir, file := path.Split(p)
		if path.Ext(file) != ".parquet" {
			continue
		}
		if dir == string(c)+"/"+string(s)+"/" || dir == string(c)+"/partial-"+string(s)+"/" {
			shards = append(shards, p)
		}
	}
	slices.Sort(shards)
	return shards
}

// SystemPrompt opens the system message of the official evaluation, which
// sends a plain model two messages: a system message of SystemPrompt followed
// by the context window text, and a user message of the question.
const SystemPrompt = "You are a helpful assistant."

// QuestionType is the kind of question a row asks.
type QuestionType string

const (
	SingleDocRolls  QuestionType = "singledoc_rolls"  // dice rolls in one episode
	SingleDocSpells QuestionType = "singledoc_spells" // spells cast in one episode
	MultiDocRolls   QuestionType = "multidoc_rolls"   // dice rolls across 2 to 24 episodes
	MultiDocSpells  QuestionType = "multidoc_spells"  // spells cast across 2 to 24 episodes
)

// QuestionTypes lists every question type, in the dataset's order.
var QuestionTypes = []QuestionType{SingleDocRolls, SingleDocSpells, MultiDocRolls, MultiDocSpells}

// Example is one row of OOLONG-real. Many rows share a context window: rows
// with equal ContextWindowID have equal ContextWindowText, and readers hand
// out one shared string for them rather than a copy each.
type Example struct {
	ID                string       `json:"id"`
	ContextWindowID   string       `json:"context_window_id"`
	ContextWindowText string       `json:"context_window_text"`
	Question          string       `json:"question"`
	Answer            string       `json:"answer"`
	QuestionType      QuestionType `json:"question_type"`
	Episodes          []int        `json:"episodes"`
	Campaign          string       `json:"campaign"`
}

// String summarises e without its context window.
func (e Example) String() string {
	return fmt.Sprintf("%s %s %s episodes %s: %q (answer %q)",
		e.ID, e.Campaign, e.QuestionType, joinInts(e.Episodes, ","), e.Question, e.Answer)
}

// joinInts writes ints with sep between them, as Python's
// sep.join(map(str, ints)) does.
func joinInts(ints []int, sep string) string {
	parts := make([]string, len(ints))
	for i, n := range ints {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, sep)
}

// TaskPreamble describes OOLONG-real to an RLM's controller, for a task
// preamble option of the engine (rlm.WithTaskPreamble): what a context
// window holds and how it is laid out, what questions ask, and the answer
// form the window's own instructions require. With [WindowHeader] shown in
// its first message, the controller knows the instructions and the
// player-to-character map without reading the document for them.
const TaskPreamble = `Each document is a context window of OOLONG-real: transcripts of Critical Role, a show in which a group of players play Dungeons & Dragons. It opens with instructions and a mapping from each player's name to the name of the character they play ("Laura plays the character Vex'ahlia."; Matt is the Dungeon Master, "DM"), both shown to you in your first message. Then come one or more episode transcripts, each between a line [START OF EPISODE] and a line [END OF EPISODE], episodes separated by a blank line. Each transcript line is one turn, "Name: what they said", named by the player, not the character ("All" when several speak at once).

Questions ask for counts (how many dice rolls, spells cast, rolls of a value) or lists (which spells) over the whole window, across all its episodes, and may name a player or a character: use the mapping to go from one to the other. Every part of the text can matter, so have every part of it read. Give the final answer in \boxed{}, as the instructions ask: a number in digits, \boxed{12}; a list as its items separated by commas, \boxed{Fire Bolt, Shield}; a name as it is, \boxed{Percy}.`
