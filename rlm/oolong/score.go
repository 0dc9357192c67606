package oolong

// The official OOLONG-real scorer is dnd_parse_answer, dnd_parse_response and
// dnd_process_response in src/eval/eval_helpers.py of
// github.com/abertsch72/oolong (commit 606e538). This file reproduces it branch
// for branch; the comments say which Python line each rule comes from.

import (
	"math/big"
	"strings"
)

// AnswerKind is the shape the official scorer gives an answer.
type AnswerKind int

const (
	// KindString: neither an integer nor a list. Compared case-insensitively
	// after stripping whitespace.
	KindString AnswerKind = iota
	// KindInt: text that Python's int() accepts. Partial credit by distance.
	KindInt
	// KindList: text with a comma that is not an integer. Compared as sets.
	KindList
)

// String returns "string", "int" or "list".
func (k AnswerKind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindList:
		return "list"
	default:
		return "string"
	}
}

// Answer is an answer parsed as the official scorer parses gold answers and
// boxed predictions. The zero value is the empty string answer.
type Answer struct {
	Kind AnswerKind
	// Text is the text the answer was parsed from, unchanged.
	Text string
	// Int is the value of a KindInt answer, nil otherwise.
	Int *big.Int
	// Items are the comma-separated items of a KindList answer, each
	// stripped of surrounding whitespace, empty ones dropped, duplicates and
	// order kept. It may be empty (the text ","), which scores 0 as gold.
	Items []string
}

// ParseAnswer parses s as the official dnd_parse_answer does: an integer if
// Python's int(s) accepts it (surrounding whitespace, a sign, underscores
// between digits and non-ASCII decimal digits allowed), else a list if s
// contains a comma, else a string.
func ParseAnswer(s string) Answer {
	if n, ok := parsePyInt(s); ok { // try: return int(answer)
		return Answer{Kind: KindInt, Text: s, Int: n}
	}
	if strings.Contains(s, ",") { // [item.strip() for item in answer.split(",") if item.strip()]
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = pyStrip(item); item != "" {
				items = append(items, item)
			}
		}
		return Answer{Kind: KindList, Text: s, Items: items}
	}
	return Answer{Kind: KindString, Text: s}
}

// ExtractBoxed returns the answer a model put in \boxed{...}, as the official
// dnd_parse_response finds it, and whether there was one:
//
//  1. the first \boxed{\text{X}} anywhere in output, X holding no '}';
//  2. failing that, the first \boxed followed by one or more '{', the answer
//     running from after those braces to the first '}' (which must exist).
//
// So a \boxed{\text{...}} wins over an earlier plain \boxed{...}, nested
// braces are not matched (\boxed{\frac{1}{2}} gives "\frac{1"), and an
// unclosed box is no box.
func ExtractBoxed(output string) (string, bool) {
	// re.search(r"\\boxed\{\\text\{([^}]*)\}\}", answer)
	const textBox = `\boxed{\text{`
	for from := 0; ; {
		i := strings.Index(output[from:], textBox)
		if i < 0 {
			break
		}
		start := from + i + len(textBox)
		if end := strings.IndexByte(output[start:], '}'); end >= 0 &&
			strings.HasPrefix(output[start+end:], "}}") {
			return output[start : start+end], true
		}
		from += i + 1
	}
	// re.search(r"\\boxed[\{]+([^}]*)[\}]+", answer): the first "\boxed{"
	// matches if any '}' follows it; if none does, no later one can match.
	const box = `\boxed{`
	i := strings.Index(output, box)
	if i < 0 {
		return "", false
	}
	start := i + len(box)
	for start < len(output) && output[start] == '{' {
		start++
	}
	end := strings.IndexByte(output[start:], '}')
	if end < 0 {
		return "", false
	}
	return output[start : start+end], true
}

// Result is the official scorer's verdict on one output.
type Result struct {
	// Score is in [0, 1].
	Score float64
	// Gold is the parsed gold answer.
	Gold Answer
	// Predicted is the parsed boxed answer or, when the output has no box,
	// the whole output as a KindString answer (the official scorer compares
	// it with a string gold answer as is, and gives 0 against any other).
	Predicted Answer
	// Boxed reports whether the output had a box: the official
	// parse_confidence is "high" when true and "low" when false.
	Boxed bool
}

// Grade scores output against the gold answer exactly as the official
// dnd_process_response does, and says how it read both.
//
// Both are parsed with [ParseAnswer] (the output after [ExtractBoxed]). Then:
//
//   - int and int: 0.75 ** |gold - predicted|;
//   - string and string: 1 if they are equal after Python's strip() and
//     lower(), else 0;
//   - list and list: |set(gold) ∩ set(predicted)| / len(gold), items compared
//     exactly (case matters, duplicates count in len(gold)), 0 for an empty
//     gold list;
//   - anything else: 0.
//
// With no box, the output is compared whole as a string, so it can score
// only against a string gold answer.
func Grade(gold, output string) Result {
	r := Result{Gold: ParseAnswer(gold)} // gold = dnd_parse_answer(datapoint["answer"])
	if boxed, ok := ExtractBoxed(output); ok {
		r.Predicted, r.Boxed = ParseAnswer(boxed), true // return dnd_parse_answer(answer), "high"
	} else {
		r.Predicted = Answer{Kind: KindString, Text: output} // return answer, "low": unparsed
	}
	r.Score = compare(r.Gold, r.Predicted)
	return r
}

// compare scores a parsed prediction against a parsed gold answer.
func compare(g, p Answer) float64 {
	switch {
	case g.Kind != p.Kind: // no branch matches: score = 0.0
	case g.Kind == KindInt: // 0.75 ** abs(gold - trimmed_output)
		diff := new(big.Int).Sub(g.Int, p.Int)
		return intScore(diff.Abs(diff))
	case g.Kind == KindString: // float(gold.strip().lower() == trimmed_output.strip().lower())
		if pyLower(pyStrip(g.Text)) == pyLower(pyStrip(p.Text)) {
			return 1
		}
	case g.Kind == KindList && len(g.Items) > 0: // len(set(gold) & set(trimmed_output)) / len(gold) if gold else 0.0
		return float64(overlap(g.Items, p.Items)) / float64(len(g.Items))
	}
	return 0
}

// Score is the official OOLONG-real score of output against the gold answer,
// in [0, 1]. It is [Grade] without the detail.
func Score(gold, output string) float64 { return Grade(gold, output).Score }

// overlap returns |set(a) ∩ set(b)|.
func overlap(a, b []string) int {
	inB := make(map[string]bool, len(b))
	for _, item := range b {
		inB[item] = true
	}
	n := 0
	for _, item := range a {
		if inB[item] {
			n++
			delete(inB, item) // count each distinct item once
		}
	}
	return n
}

// LenientScore is not the official score: it is [Score], except that an
// output without a box is parsed as if it were the boxed answer ([ParseAnswer]
// of the whole output) where the official scorer compares it whole as a
// string. So a bare "42" scores as "\boxed{42}" does, where the official
// score gives a bare integer or list 0. The official score measures whether
// a model follows the answer format as much as whether it found the answer;
// LenientScore only the latter. Report it beside [Score], labelled as not
// official, and apply it to every system compared alike.
func LenientScore(gold, output string) float64 {
	if _, ok := ExtractBoxed(output); ok {
		return Score(gold, output)
	}
	return compare(ParseAnswer(gold), ParseAnswer(output))
}
