package oolong

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// EnvTranscriptDir is the environment variable that tells [TranscriptDir]
// where the CRD3 transcripts are.
const EnvTranscriptDir = "RLM_CRD3_DIR"

// ErrNoTranscripts is wrapped by the errors of [TranscriptDir] and
// [LoadCampaign] when the transcripts are not there.
var ErrNoTranscripts = errors.New("oolong: CRD3 transcripts not found")

// TranscriptDir returns the directory of the Critical Role transcripts that
// OOLONG-real is built from (campaign1/, campaign2/, each with C<n>E<ep>.txt
// files and characters.tsv): $RLM_CRD3_DIR if set, else ../shared/data/crd3
// beside the root of the Go module the working directory is in. Tests and
// examples skip when it returns an error.
func TranscriptDir() (string, error) {
	if dir := os.Getenv(EnvTranscriptDir); dir != "" {
		return checkTranscriptDir(dir, EnvTranscriptDir+" names")
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("oolong: transcript dir: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return checkTranscriptDir(filepath.Join(filepath.Dir(dir), "shared", "data", "crd3"),
				"beside the module root is")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod above %s; set %s", ErrNoTranscripts, wd, EnvTranscriptDir)
		}
		dir = parent
	}
}

func checkTranscriptDir(dir, where string) (string, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("%w: %s %s, which is not a directory; set %s", ErrNoTranscripts, where, dir, EnvTranscriptDir)
	}
	return dir, nil
}

// Player is one line of a campaign's player-to-character map.
type Player struct {
	Name      string // the player ("Matt")
	Character string // the character they play ("DM")
}

// Campaign gives access to one campaign's transcripts. Transcripts are read
// from disk when asked for, not held. A Campaign is safe for concurrent use.
type Campaign struct {
	// Name is the dataset's name for the campaign: "campaign1" or "campaign2".
	Name string
	// Players is the player-to-character map OOLONG-real puts at the head of
	// every context window of the campaign, in its order.
	Players []Player

	dir      string
	episodes []int          // sorted
	files    map[int]string // episode number → file name
}

var episodeFile = regexp.MustCompile(`^C\d+E(\d+)\.txt$`)

// LoadCampaign indexes campaign n (1 or 2) under dir, the directory
// [TranscriptDir] returns: it reads the campaign's characters.tsv and lists
// its episode files.
func LoadCampaign(dir string, n int) (*Campaign, error) {
	c := &Campaign{
		Name:  "campaign" + strconv.Itoa(n),
		dir:   filepath.Join(dir, "campaign"+strconv.Itoa(n)),
		files: map[int]string{},
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTranscripts, err)
	}
	for _, entry := range entries {
		if m := episodeFile.FindStringSubmatch(entry.Name()); m != nil {
			ep, _ := strconv.Atoi(m[1])
			c.episodes = append(c.episodes, ep)
			c.files[ep] = entry.Name()
		}
	}
	if len(c.episodes) == 0 {
		return nil, fmt.Errorf("%w: no episode files in %s", ErrNoTranscripts, c.dir)
	}
	slices.Sort(c.episodes)
	if c.Players, err = readPlayers(filepath.Join(c.dir, "characters.tsv")); err != nil {
		return nil, err
	}
	return c, nil
}

// pandasNA are the cells pandas.read_csv reads as missing by default. The
// official generator drops the rows whose player is missing ("NA" marks
// companions and creatures).
var pandasNA = []string{"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
	"1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}

// readPlayers reads a characters.tsv (columns Player, Character, Notes) into
// the map the official generator builds with dict(zip(players, characters)):
// rows without a player dropped, and a player listed twice kept at their
// first place with their last character.
func readPlayers(name string) ([]Player, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTranscripts, err)
	}
	var players []Player
	place := map[string]int{}
	lines := bufio.NewScanner(strings.NewReader(string(data)))
	header := true
	for lines.Scan() {
		line := strings.TrimSuffix(lines.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 2 {
			return nil, fmt.Errorf("oolong: %s: want player and character in %q: %w", name, line, ErrFormat)
		}
		player, character := fields[0], fields[1]
		if slices.Contains(pandasNA, player) {
			continue
		}
		if i, ok := place[player]; ok {
			players[i].Character = character
			continue
		}
		place[player] = len(players)
		players = append(players, Player{Name: player, Character: character})
	}
	return players, nil
}

// Episodes returns the campaign's episode numbers in order (some numbers are
// missing from the source: 12 and 51 of campaign 1).
func (c *Campaign) Episodes() []int { return slices.Clone(c.episodes) }

// Transcript returns an episode's transcript: one line per speaker turn,
// "Name: utterance".
func (c *Campaign) Transcript(episode int) (string, error) {
	file, ok := c.files[episode]
	if !ok {
		return "", fmt.Errorf("oolong: transcript %d of %s: no such episode: %w", episode, c.Name, os.ErrNotExist)
	}
	data, err := os.ReadFile(filepath.Join(c.dir, file))
	if err != nil {
		return "", fmt.Errorf("oolong: transcript %d of %s: %w", episode, c.Name, err)
	}
	return string(data), nil
}
