package oolong_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// pow is 0.75**n, exactly, for n ≤ 33: 3**n then fits a float64's
// mantissa, and dividing by 4**n only moves the exponent.
func pow(n int) float64 {
	num := int64(1)
	for range n {
		num *= 3
	}
	return math.Ldexp(float64(num), -2*n)
}

func TestScore(t *testing.T) {
	tests := []struct {
		name         string
		gold, output string
		want         float64
	}{
		// Finding the box.
		{"boxed integer", "42", `The answer is \boxed{42}.`, 1},
		{"first box counts", "42", `\boxed{9}, no wait, \boxed{42}`, pow(33)},
		{"text box anywhere beats an earlier plain box", "grog", `\boxed{3} or \boxed{\text{Grog}}`, 1},
		{"text box", "Vex'ahlia", `\boxed{\text{Vex'ahlia}}`, 1},
		{"text box holding a list", "Fire Bolt, Cure Wounds", `\boxed{\text{Fire Bolt, Cure Wounds}}`, 1},
		{"text box not closed by }} is a plain box", "Grog", `\boxed{\text{Grog} }`, 0},
		{"text box not closed by }}, read as plain", `\text{Grog`, `\boxed{\text{Grog} }`, 1},
		{"nested braces are not matched", `\frac{1`, `\boxed{\frac{1}{2}}`, 1},
		{"doubled braces", "7", `\boxed{{7}}`, 1},
		{"box runs to the first closing brace", "6", `\boxed{5 and \boxed{6}`, 0},
		{"empty box against an integer", "5", `\boxed{}`, 0},
		{"empty box against an empty string", "", `\boxed{}`, 1},
		{"unclosed box is no box", "42", `\boxed{42`, 0},
		{"box without a brace is no box", "42", `\boxed 42`, 0},
		{"box is case-sensitive", "5", `\Boxed{5}`, 0},
		{"no box against an integer", "42", "42", 0},
		{"no box against a list", "A, B", "A, B", 0},
		{"no box against a string compares the whole output", "grog", "  Grog \n", 1},
		{"no box, more than the answer", "Grog", "The answer is Grog", 0},

		// Integers: Python int() rules and partial credit.
		{"partial credit", "10", `\boxed{8}`, 0.5625},
		{"sign and spaces", "10", `\boxed{ +8 }`, 0.5625},
		{"negative", "3", `\boxed{-3}`, pow(6)},
		{"minus zero", "0", `\boxed{-0}`, 1},
		{"underscores between digits", "1000", `\boxed{1_000}`, 1},
		{"doubled underscore", "1000", `\boxed{1__000}`, 0},
		{"leading underscore", "1000", `\boxed{_1000}`, 0},
		{"trailing underscore", "1000", `\boxed{1000_}`, 0},
		{"underscore after the sign", "1000", `\boxed{-_1000}`, 0},
		{"Arabic-Indic digits", "42", `\boxed{٤٢}`, 1},
		{"full-width digits", "42", `\boxed{４２}`, 1},
		{"mixed digit sets", "42", `\boxed{4٢}`, 1},
		{"Devanagari digits with an underscore", "1000", `\boxed{१_०००}`, 1},
		{"mathematical bold digits", "19", `\boxed{𝟏𝟗}`, 1},
		{"Unicode whitespace around", "42", "\\boxed{\u00a042\u3000}", 1},
		{"U+001C is not int() whitespace", "42", "\\boxed{\x1c42}", 0},
		{"space inside", "42", `\boxed{4 2}`, 0},
		{"space after the sign", "5", `\boxed{- 5}`, 0},
		{"decimal point", "42", `\boxed{42.0}`, 0},
		{"hexadecimal", "42", `\boxed{0x2A}`, 0},
		{"exponent", "10", `\boxed{1e1}`, 0},
		{"unicode minus", "42", `\boxed{−42}`, 0},
		{"leading zeros", "7", `\boxed{007}`, 1},
		{"gold with surrounding whitespace", " 12\n", `\boxed{12}`, 1},
		{"gold with underscores", "1_2", `\boxed{12}`, 1},
		{"beyond int64", "12345678901234567890123", `\boxed{12345678901234567890124}`, 0.75},
		{"smallest nonzero score", "0", `\boxed{2590}`, math.SmallestNonzeroFloat64},
		{"underflow to zero", "0", `\boxed{2591}`, 0},
		{"difference beyond float range", "1" + strings.Repeat("0", 400), `\boxed{0}`, 0},
		{"4300 digits is an integer", strings.Repeat("1", 4299), `\boxed{0` + strings.Repeat("1", 4299) + `}`, 1},
		{"4301 digits is a string", strings.Repeat("1", 4300), `\boxed{0` + strings.Repeat("1", 4300) + `}`, 0},
		{"4301 digits compared as strings", strings.Repeat("1", 4301), `\boxed{` + strings.Repeat("1", 4301) + `}`, 1},
		{"integer gold, string prediction", "3", `\boxed{three}`, 0},

		// Lists: set overlap over the gold list's length.
		{"same list reordered", "Fire Bolt, Cure Wounds", `\boxed{Cure Wounds, Fire Bolt}`, 1},
		{"half the list", "Fire Bolt, Cure Wounds", `\boxed{Fire Bolt, Shield}`, 0.5},
		{"list items are case-sensitive", "Fire Bolt, Cure Wounds", `\boxed{fire bolt, cure wounds}`, 0},
		{"items stripped, empty ones dropped", "Fire Bolt, Cure Wounds", `\boxed{ Fire Bolt ,, Cure Wounds ,}`, 1},
		{"duplicates count in the gold length", "A, A, B", `\boxed{A, B}`, 2.0 / 3},
		{"duplicates in the prediction count once", "A, B", `\boxed{A, A}`, 0.5},
		{"extra items cost nothing", "A, B", `\boxed{A, B, C, D}`, 1},
		{"list gold, single item prediction", "A, B", `\boxed{A}`, 0},
		{"a number with a comma is a list", "1,000", `\boxed{1000}`, 0},
		{"a number with a comma against a list", "1,000", `\boxed{1, 000}`, 1},
		{"numbers in lists are text", "20, 1", `\boxed{1, 20}`, 1},
		{"numbers in lists are not parsed", "20, 1", `\boxed{1, ٢٠}`, 0.5},
		{"empty gold list", ",", `\boxed{,}`, 0},
		{"list prediction, string gold", "Grog", `\boxed{Grog, Pike}`, 0},

		// Strings: Python strip() and lower().
		{"case-insensitive", "Grog", `\boxed{GROG}`, 1},
		{"stripped", "Grog", "\\boxed{  Grog\t}", 1},
		{"strip removes U+001C..U+001F", "Grog", "\\boxed{\x1cGrog\x1f}", 1},
		{"strip removes no-break spaces", "Grog", "\\boxed{\u00a0Grog\u2003}", 1},
		{"punctuation matters", "Grog", `\boxed{Grog.}`, 0},
		{"dotted capital I lowers to two code points", "İ", "\\boxed{i\u0307}", 1},
		{"dotted capital I is not plain i", "İ", `\boxed{i}`, 0},
		{"final sigma", "ΟΔΟΣ", `\boxed{οδος}`, 1},
		{"final sigma is not medial sigma", "ΟΔΟΣ", `\boxed{οδοσ}`, 0},
		{"medial sigma", "ΣΑΣ ΟΔΟΣ", `\boxed{σας οδος}`, 1},
		{"lower does not fold ß", "ß", `\boxed{SS}`, 0},
		{"lower maps Kelvin sign", "K", "\\boxed{\u212a}", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, oolong.Score(tt.gold, tt.output))
		})
	}
}

func TestGrade(t *testing.T) {
	tests := []struct {
		name          string
		gold, output  string
		wantGold      oolong.AnswerKind
		wantPredicted oolong.AnswerKind
		wantText      string
		wantBoxed     bool
	}{
		{"integer", "12", `so \boxed{11}`, oolong.KindInt, oolong.KindInt, "11", true},
		{"list", "A, B", `\boxed{\text{B, C}}`, oolong.KindList, oolong.KindList, "B, C", true},
		{"no box keeps the output", "A", "I do not know", oolong.KindString, oolong.KindString, "I do not know", false},
		{"empty box", "3", `\boxed{}`, oolong.KindInt, oolong.KindString, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oolong.Grade(tt.gold, tt.output)
			assert.Equal(t, tt.wantGold, r.Gold.Kind)
			assert.Equal(t, tt.wantPredicted, r.Predicted.Kind)
			assert.Equal(t, tt.wantText, r.Predicted.Text)
			assert.Equal(t, tt.wantBoxed, r.Boxed)
			assert.Equal(t, oolong.Score(tt.gold, tt.output), r.Score)
		})
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		in        string
		wantKind  oolong.AnswerKind
		wantInt   string // decimal, for KindInt
		wantItems []string
	}{
		{"42", oolong.KindInt, "42", nil},
		{"\t-0_7 \n", oolong.KindInt, "-7", nil},
		{"٣", oolong.KindInt, "3", nil},
		{"Fire Bolt, Cure Wounds", oolong.KindList, "", []string{"Fire Bolt", "Cure Wounds"}},
		{" A ,\u00a0, B,", oolong.KindList, "", []string{"A", "B"}},
		{",", oolong.KindList, "", nil},
		{"Grog", oolong.KindString, "", nil},
		{"", oolong.KindString, "", nil},
		{"1.5", oolong.KindString, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a := oolong.ParseAnswer(tt.in)
			assert.Equal(t, tt.wantKind, a.Kind)
			assert.Equal(t, tt.in, a.Text)
			assert.Equal(t, tt.wantItems, a.Items)
			if tt.wantKind == oolong.KindInt {
				assert.Equal(t, tt.wantInt, a.Int.String())
			} else {
				assert.Nil(t, a.Int)
			}
		})
	}
}

func TestExtractBoxed(t *testing.T) {
	tests := []struct {
		output string
		want   string
		ok     bool
	}{
		{`\boxed{12}`, "12", true},
		{`a \boxed{1} b \boxed{2}`, "1", true},
		{`\boxed{1} \boxed{\text{two}}`, "two", true},
		{`\boxed{\text{a}b}} \boxed{\text{c}}`, "c", true},
		{`\boxed{\text{}}`, "", true},
		{`\boxed{{{x}}}`, "x", true},
		{"\\boxed{multi\nline}", "multi\nline", true},
		{`\boxed{`, "", false},
		{`\boxed{x`, "", false},
		{`boxed{x}`, "", false},
		{`\boxed x}`, "", false},
		{`\boxed \boxed{y}`, "y", true},
		{``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			got, ok := oolong.ExtractBoxed(tt.output)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAnswerKindString(t *testing.T) {
	assert.Equal(t, "int", oolong.KindInt.String())
	assert.Equal(t, "list", oolong.KindList.String())
	assert.Equal(t, "string", oolong.KindString.String())
}
