package oolong_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-rlm/rlm/rlm/oolong"
)

// The instructions of the official generator, as they open a window.
const (
	singleDocOpening = "The following lines contains a single episode transcript of a Dungeons and Dragons game played by a group of players. " +
		"The episode transcript is delimited by [START OF EPISODE] and [END OF EPISODE]. The transcript is followed by a question " +
		"about the game statistics. Answer the question based on the transcript. Do not try to guess, estimate or approximate the " +
		"result. Do not ask the user for clarification or follow-up. Do step-by-step reasoning if needed. " +
		`Return the final answer in \boxed{{}}. ` + "\n\nThe following lines contain the mapping between player names and character names.\n"
	multiDocOpening = "The following lines contains multiple episode transcripts of a Dungeons and Dragons game played by a group of players. " +
		"Each episode transcript is delimited by [START OF EPISODE] and [END OF EPISODE]. The transcripts are followed by a question " +
		"about the game statistics. Answer the question based on the transcripts. Do not try to guess, estimate or approximate the " +
		"result. Do not ask the user for clarification or follow-up. Do step-by-step reasoning if needed. " +
		`Return the final answer in \boxed{{}}. ` + "\n\nThe following lines contain the mapping between player names and character names.\n"
)

// fakeTranscripts writes a small campaign 3 in the CRD3 layout and returns
// its directory.
func fakeTranscripts(t *testing.T) string {
	dir := t.TempDir()
	campaign := filepath.Join(dir, "campaign3")
	require.NoError(t, os.Mkdir(campaign, 0o755))
	tsv := "Player\tCharacter\tNotes\r\n" +
		"Matt\tDM\t\r\n" +
		"Sam\tScanlan\t\r\n" +
		"NA\tTrinket\tcompanion\r\n" +
		"\r\n" +
		"Laura\tVex\t\r\n" +
		"Sam\tTaryon\tsecond character\r\n" +
		"N/A\tShark\t"
	require.NoError(t, os.WriteFile(filepath.Join(campaign, "characters.tsv"), []byte(tsv), 0o644))
	for name, text := range map[string]string{
		"C3E001.txt": "Matt: Roll initiative.\nSam: 17.\n",
		"C3E002.txt": "Laura: I cast Hunter's Mark.\n",
		"C3E010.txt": "Matt: The end.\n",
		"notes.txt":  "not an episode",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(campaign, name), []byte(text), 0o644))
	}
	return dir
}

func TestLoadCampaignReadsThePlayerMapAsPandasDoes(t *testing.T) {
	c, err := oolong.LoadCampaign(fakeTranscripts(t), 3)
	require.NoError(t, err)
	assert.Equal(t, "campaign3", c.Name)
	assert.Equal(t, []oolong.Player{
		{Name: "Matt", Character: "DM"},
		{Name: "Sam", Character: "Taryon"}, // first place, last character
		{Name: "Laura", Character: "Vex"},
	}, c.Players)
	assert.Equal(t, []int{1, 2, 10}, c.Episodes())
}

func TestWindowLayout(t *testing.T) {
	c, err := oolong.LoadCampaign(fakeTranscripts(t), 3)
	require.NoError(t, err)
	players := "Matt plays the character DM.\nSam plays the character Taryon.\nLaura plays the character Vex." +
		"\n\nUse this mapping when answering the questions below.\n\n"

	one, err := c.Window(2)
	require.NoError(t, err)
	assert.Equal(t, singleDocOpening+players+
		"[START OF EPISODE]\nLaura: I cast Hunter's Mark.\n\n[END OF EPISODE]", one.Text)
	assert.Equal(t, []int{2}, one.Episodes)
	assert.Equal(t, "campaign3", one.Campaign)
	assert.Equal(t, oolong.ContextWindowID("campaign3", []int{2}), one.ID)

	two, err := c.Window(1, 10)
	require.NoError(t, err)
	assert.Equal(t, multiDocOpening+players+
		"[START OF EPISODE]\nMatt: Roll initiative.\nSam: 17.\n\n[END OF EPISODE]\n\n"+
		"[START OF EPISODE]\nMatt: The end.\n\n[END OF EPISODE]", two.Text)

	// The header is the instructions and the player map, whose opening
	// names the episode markers within a line.
	assert.Equal(t, singleDocOpening+players, oolong.WindowHeader(one.Text))
	assert.Equal(t, multiDocOpening+players, oolong.WindowHeader(two.Text))

	_, err = c.Window(4)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = c.Window()
	assert.Error(t, err)
}

func TestWindowByLength(t *testing.T) {
	c, err := oolong.LoadCampaign(fakeTranscripts(t), 3)
	require.NoError(t, err)
	one, err := c.First(1)
	require.NoError(t, err)
	two, err := c.First(2)
	require.NoError(t, err)
	all, err := c.First(99)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 10}, all.Episodes)
	chars := utf8.RuneCountInString

	tests := []struct {
		target int
		want   oolong.Window
	}{
		{0, one},
		{chars(one.Text), one},
		{chars(one.Text) + 1, two},
		{chars(two.Text), two},
		{chars(two.Text) + 1, all},
		{1 << 30, all},
	}
	for _, tt := range tests {
		got, err := c.WindowOfLength(tt.target, nil)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "target %d", tt.target)
	}

	words := func(s string) int { return len(strings.Fields(s)) }
	got, err := c.WindowOfLength(words(one.Text)+1, words)
	require.NoError(t, err)
	assert.Equal(t, two, got)
}

func TestIdentifiersMatchTheDataset(t *testing.T) {
	// Computed with Python: str(uuid.UUID(bytes=hashlib.md5(text.encode()).digest())).
	assert.Equal(t, "27df660e-6b05-9b38-308a-f3e520df8915", oolong.ContextWindowID("campaign1", []int{1}))
	assert.Equal(t, "90800c50-6813-9937-6852-ba9100b39c37", oolong.ContextWindowID("campaign1", []int{1, 2, 3}))
	assert.Equal(t, "d2148c76-8a96-f8c1-64d5-491f34493148",
		oolong.ExampleID("campaign2", "Total number of rolls in this episode?", []int{7}))

	w := oolong.Window{ID: "w", Campaign: "campaign2", Episodes: []int{7}, Text: "text"}
	e := w.Example("Total number of rolls in this episode?", "42", oolong.SingleDocRolls)
	assert.Equal(t, oolong.Example{
		ID: "d2148c76-8a96-f8c1-64d5-491f34493148", ContextWindowID: "w", ContextWindowText: "text",
		Question: "Total number of rolls in this episode?", Answer: "42", QuestionType: oolong.SingleDocRolls,
		Episodes: []int{7}, Campaign: "campaign2",
	}, e)
}

func TestTranscriptDir(t *testing.T) {
	dir := fakeTranscripts(t)
	t.Setenv(oolong.EnvTranscriptDir, dir)
	got, err := oolong.TranscriptDir()
	require.NoError(t, err)
	assert.Equal(t, dir, got)

	t.Setenv(oolong.EnvTranscriptDir, filepath.Join(dir, "missing"))
	_, err = oolong.TranscriptDir()
	assert.ErrorIs(t, err, oolong.ErrNoTranscripts)

	_, err = oolong.LoadCampaign(dir, 9)
	assert.ErrorIs(t, err, oolong.ErrNoTranscripts)
}

// loadRealCampaign loads a campaign of the real transcripts, or skips.
func loadRealCampaign(t testing.TB, n int) *oolong.Campaign {
	dir, err := oolong.TranscriptDir()
	if err != nil {
		t.Skipf("no CRD3 transcripts: %v", err)
	}
	c, err := oolong.LoadCampaign(dir, n)
	require.NoError(t, err)
	return c
}

func TestRealCampaigns(t *testing.T) {
	c1 := loadRealCampaign(t, 1)
	episodes := c1.Episodes()
	assert.Len(t, episodes, 113) // 1 to 115 but 12 and 51
	assert.NotContains(t, episodes, 12)
	assert.NotContains(t, episodes, 51)
	assert.Equal(t, oolong.Player{Name: "Matt", Character: "DM"}, c1.Players[0])
	assert.Contains(t, c1.Players, oolong.Player{Name: "Sam", Character: "Taryon"})
	for _, p := range c1.Players {
		assert.NotEqual(t, "NA", p.Name)
	}

	w, err := c1.Window(1, 2, 3)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(w.Text, multiDocOpening+"Matt plays the character DM.\n"))
	assert.Equal(t, 3, strings.Count(w.Text, oolong.EpisodeStart+"\n"))
	assert.Equal(t, 2, strings.Count(w.Text, oolong.EpisodeEnd+"\n\n"+oolong.EpisodeStart))
	assert.True(t, strings.HasSuffix(w.Text, "\n"+oolong.EpisodeEnd))
	assert.Equal(t, "90800c50-6813-9937-6852-ba9100b39c37", w.ID)

	whole, err := c1.WindowOfLength(1<<40, nil)
	require.NoError(t, err)
	assert.Equal(t, episodes, whole.Episodes)
	assert.Greater(t, len(whole.Text), 20_000_000, "campaign 1 is over 20 MB of text")

	c2 := loadRealCampaign(t, 2)
	assert.Len(t, c2.Episodes(), 46)
	assert.Contains(t, c2.Players, oolong.Player{Name: "Taliesin", Character: "Caduceus"})
}
