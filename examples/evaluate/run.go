package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-rlm/rlm/llama"
	"github.com/go-rlm/rlm/rlm"
	"github.com/go-rlm/rlm/rlm/hub"
	"github.com/go-rlm/rlm/rlm/oolong"
	"github.com/go-rlm/rlm/rlm/progress"
)

// trajectoryDir holds the trajectories in an output directory.
const trajectoryDir = "trajectories"

// evaluateCommand runs an evaluation: everything that can fail for want of
// a download or a file (the data, the models) is settled before the output
// directory is touched, so that such a failure leaves nothing behind.
func evaluateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseEvaluateFlags(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, s.Verbose)

	// A resume with another configuration fails before any download.
	previous, resumed, err := loadConfig(s.Out)
	if err != nil {
		return err
	}
	if resumed {
		if diff := configDiff(previous, s.Config); len(diff) > 0 {
			return fmt.Errorf("%s holds a run with another configuration (%s); use another -out, or rerun with the same flags to resume it",
				s.Out, strings.Join(diff, "; "))
		}
	} else if err := checkFreshDir(s.Out); err != nil {
		return err
	}

	hc := hub.New(hub.WithProgress(stderr), hub.WithLogger(log))
	files, err := locateData(ctx, s.Config, hc)
	if err != nil {
		return err
	}
	modelPaths, err := resolveModels(ctx, s, hc)
	if err != nil {
		return err
	}
	ms, err := loadModels(ctx, s, modelPaths, log)
	if err != nil {
		return err
	}
	defer ms.Close()

	_, statErr := os.Stat(s.Out)
	existed := statErr == nil
	journal, err := openOutput(s.Out, s.Config, resumed)
	if err != nil {
		return err
	}
	defer journal.Close()
	if journal.torn > 0 {
		log.Warn("cut the torn last line of the journal: that example runs again", "bytes", journal.torn)
	}
	todo, total, err := selectExamples(ctx, files, s, ms, log)
	if err == nil && len(todo) == 0 && total > 0 {
		// Another shard holds every window: this one is done at once, with
		// empty reports, so that an array task succeeds and merge takes it.
		log.Info("this shard holds no context window of the selection", "shard", s.Shard.String(), "selection", total)
	} else if err == nil && len(todo) == 0 {
		err = fmt.Errorf("no example of %s/%s passes the filters (-types, -max-context, -min-context-tokens, -max-context-tokens, -offset, -shard)", s.Dataset, s.Split)
		if !resumed {
			// Nothing was evaluated: leave no directory that only this
			// configuration could resume.
			journal.Close()
			discardOutput(s.Out, existed)
		}
	}
	if err != nil {
		return err
	}

	e := &evaluator{s: s, models: ms, journal: journal, log: log}
	if s.Share {
		cache, closeCache, err := openSubCallCache(s.Out)
		if err != nil {
			return err
		}
		defer closeCache()
		e.cache = cache
	}
	if e.engine, err = rlm.New(ms.controller, ms.worker, e.rlmOptions()...); err != nil {
		return err
	}
	if s.Baseline {
		e.baseline = &baseline{worker: ms.worker, window: ms.workerWindow, maxTokens: s.WorkerMaxTokens,
			truncate: s.BaselineFit == fitTruncate}
	}
	if err := e.evaluateAll(ctx, files, todo, stderr); err != nil {
		return err
	}
	if e.cache != nil {
		if err := e.cache.Err(); err != nil {
			log.Warn("the sub-call cache could not be written: a rerun asks the worker again", "err", err)
		}
	}
	records := journal.Records()
	if err := journal.Close(); err != nil {
		return err
	}
	written, err := writeReports(s.Out, s.Config, records, s.Bins, s.TokenBins)
	if err != nil {
		return err
	}
	printReports(stdout, written)
	fmt.Fprintf(stdout, "%-15s %s\n", "trajectories:", filepath.Join(s.Out, trajectoryDir))
	return nil
}

// openOutput prepares the output directory of a run, which resumes one
// when resumed: the directories (synced, so that they survive a crash),
// no temporary file left from a killed run, the configuration, the
// journal.
func openOutput(dir string, c Config, resumed bool) (*Journal, error) {
	if err := os.MkdirAll(filepath.Join(dir, trajectoryDir), 0o755); err != nil {
		return nil, err
	}
	if !resumed {
		if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, trajectoryDir)} {
		if err := removeStaleTemps(d); err != nil {
			return nil, err
		}
	}
	if !resumed {
		if err := saveConfig(dir, c); err != nil {
			return nil, fmt.Errorf("save configuration: %w", err)
		}
	}
	return openJournal(filepath.Join(dir, journalName))
}

// selectExamples computes the selection (see selection), counting the
// tokens of the windows the output directory has no count of yet.
func selectExamples(ctx context.Context, files []string, s settings, ms *models, log *slog.Logger) (todo []selected, total int, err error) {
	counts, err := openTokenCounts(filepath.Join(s.Out, tokenCountsName), ms.countContextTokens)
	if err != nil {
		return nil, 0, err
	}
	defer counts.Close()
	start := time.Now()
	todo, total, err = selection(ctx, files, s.Config, counts, s.Threads)
	counted, spent := counts.stats()
	log.Info("selected", "examples", len(todo), "shard", s.Shard.String(), "windows_counted", counted,
		"counting_seconds", spent.Seconds(), "seconds", time.Since(start).Seconds())
	if err != nil {
		return nil, 0, err
	}
	return todo, total, counts.Close()
}

// discardOutput removes what a run that evaluated nothing wrote in dir,
// and dir itself when it did not exist before.
func discardOutput(dir string, existed bool) {
	for _, name := range []string{configName, journalName, tokenCountsName, trajectoryDir} {
		os.Remove(filepath.Join(dir, name))
	}
	if !existed {
		os.Remove(dir)
	}
}

// checkFreshDir refuses an output directory that holds something other
// than an evaluation: results must not mix with unrelated files.
func checkFreshDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if entry.Name() != trajectoryDir && !strings.HasPrefix(entry.Name(), tempPrefix) {
			return fmt.Errorf("%s is not empty and holds no %s: choose a new -out", dir, configName)
		}
	}
	return nil
}

// evaluator answers the examples of a run and records each in the journal.
// It is not safe for concurrent use.
type evaluator struct {
	s        settings
	models   *models
	journal  *Journal
	baseline *baseline // nil without -baseline
	log      *slog.Logger
	// engine answers every question; with -share its sessions share a
	// context window's REPL and cache remembers the worker's answers.
	engine *rlm.RLM
	cache  *rlm.MemoryCache // nil without -share
}

// evaluateAll evaluates the examples of todo that the journal does not
// hold yet, reading them from files in order, a context window at a time.
// After each one its record is appended to the journal, unless it failed:
// failures are held back until an example succeeds, and MaxFailures of them
// in a row stop the run unrecorded, as a sign that the setup is broken
// rather than the examples, so that a rerun tries them again.
func (e *evaluator) evaluateAll(ctx context.Context, files []string, todo []selected, stderr io.Writer) error {
	left := map[string]selected{}
	for _, t := range todo {
		if !e.journal.Done(t.id) {
			left[t.id] = t
		}
	}
	done := len(todo) - len(left)
	e.log.Info("evaluating", "examples", len(todo), "done", done, "left", len(left), "shard", e.s.Shard.String())
	if len(left) == 0 {
		return nil
	}
	bar := progress.New(stderr, "evaluate", int64(len(todo)),
		progress.WithItemName("examples"), progress.WithInitial(int64(done)))
	defer bar.Finish()
	var held []Record
	err := eachWindow(ctx, files, e.s.Config, left, func(rows []windowRow) error {
		ask, done := e.window(ctx, rows[0].example.ContextWindowText)
		defer done()
		for _, row := range rows {
			rec, err := e.example(ctx, row, ask)
			if err != nil {
				return err
			}
			bar.Add(1)
			if rec.failure() != "" {
				e.log.Warn("example failed", "id", row.id, "error", rec.failure())
				held = append(held, rec)
				if e.s.MaxFailures > 0 && len(held) >= e.s.MaxFailures {
					return fmt.Errorf("%d examples failed in a row, so the setup looks broken; they are not recorded and a rerun tries them again; last error: %s",
						len(held), held[len(held)-1].failure())
				}
				continue
			}
			for _, r := range append(held, rec) {
				if err := e.journal.Append(r); err != nil {
					return err
				}
			}
			held = nil
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted (%w): rerun the same command to resume", ctx.Err())
		}
		return err
	}
	for _, r := range held {
		if err := e.journal.Append(r); err != nil {
			return err
		}
	}
	return nil
}

// asker answers a question about the context window it was made for,
// reporting to observer.
type asker func(ctx context.Context, question string, observer rlm.Observer) (rlm.Result, error)

// window returns how the questions of a context window are answered: with
// -share, in one session, the window bound once in its REPL and each
// question starting as if alone (rlm.WithIndependentQuestions); without,
// each by a run of its own. Call done after the window's last question.
func (e *evaluator) window(ctx context.Context, text string) (ask asker, done func()) {
	if !e.s.Share {
		return func(ctx context.Context, question string, o rlm.Observer) (rlm.Result, error) {
			engine, err := rlm.New(e.models.controller, e.models.worker, append(e.rlmOptions(), rlm.WithObserver(o))...)
			if err != nil {
				return rlm.Result{Stop: rlm.StopError}, err
			}
			return engine.Run(ctx, text, question)
		}, func() {}
	}
	session, err := e.engine.NewSession(ctx, text)
	if err != nil {
		// Every question of the window fails with this error, and is
		// recorded as failed unless the failures stop the run.
		return func(context.Context, string, rlm.Observer) (rlm.Result, error) {
			return rlm.Result{Stop: rlm.StopError}, err
		}, func() {}
	}
	ask = func(ctx context.Context, question string, o rlm.Observer) (rlm.Result, error) {
		return session.Ask(ctx, question, rlm.WithObserver(o))
	}
	return ask, func() {
		if err := session.Close(); err != nil {
			e.log.Warn("close the REPL of a context window", "err", err)
		}
	}
}

// example answers one example with ask (and the baseline), writing its
// trajectory. It returns an error only when the evaluation cannot go on:
// ctx done, or the trajectory not written.
func (e *evaluator) example(ctx context.Context, row windowRow, ask asker) (Record, error) {
	ex, index := row.example, row.index
	rec := newRecord(index, ex, row.length)
	rec.Trajectory = filepath.ToSlash(filepath.Join(trajectoryDir, trajectoryName(index, ex.ID)+".jsonl"))
	path := filepath.Join(e.s.Out, filepath.FromSlash(rec.Trajectory))
	f, err := os.Create(path)
	if err != nil {
		return Record{}, fmt.Errorf("trajectory: %w", err)
	}
	defer f.Close()
	tw := rlm.NewTrajectoryWriter(f)
	start := time.Now()
	res, runErr := ask(ctx, ex.Question, tw.Observer())
	rec.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return Record{}, ctx.Err()
	}
	if err := tw.Err(); err != nil {
		return Record{}, err
	}
	if err := f.Sync(); err != nil {
		return Record{}, fmt.Errorf("trajectory: %w", err)
	}
	rec.setResult(res, runErr)
	if e.s.HTML {
		if err := writeTrajectoryHTML(path); err != nil {
			return Record{}, err
		}
	}
	if e.baseline != nil {
		if rec.Baseline, err = e.baseline.answer(ctx, ex, row.length.Tokens); err != nil {
			return Record{}, err
		}
	}
	e.log.Info("example done", "index", index, "id", ex.ID, "score", rec.Score, "stop", rec.Stop,
		"sub_calls", rec.SubCalls, "cache_hits", rec.SubCallCacheHits, "seconds", rec.Seconds)
	return rec, nil
}

// rlmOptions are the engine's options: the Config's budgets and sizes, and
// the task told to the controller: OOLONG-real's layout and answer form
// (oolong.TaskPreamble), and each window's own instructions and
// player-to-character map in its first message (oolong.WindowHeader).
func (e *evaluator) rlmOptions() []rlm.Option {
	c := e.s.Config
	opts := []rlm.Option{
		rlm.WithMaxIterations(c.Iterations),
		rlm.WithMaxDepth(c.Depth),
		rlm.WithSubCallBudget(c.SubCallBudget),
		rlm.WithControllerTokenBudget(c.ControllerTokenBudget),
		rlm.WithWorkerTokenBudget(c.WorkerTokenBudget),
		rlm.WithTimeLimit(time.Duration(c.TimeLimit)),
		rlm.WithChunkChars(c.ChunkChars),
		rlm.WithControllerContext(c.ControllerContext),
		rlm.WithTaskPreamble(oolong.TaskPreamble),
		rlm.WithDocumentHeader(oolong.WindowHeader),
		rlm.WithLogger(e.log),
	}
	if c.Protocol != "" {
		p, _ := rlm.ParseProtocol(c.Protocol) // Config.validate checked it
		opts = append(opts, rlm.WithProtocol(p))
	}
	for _, w := range c.ExtraWorkers {
		opts = append(opts, rlm.WithWorker(w.Name, e.models.extra[w.Name]))
	}
	if e.cache != nil {
		opts = append(opts, rlm.WithSubCallCache(e.cache), rlm.WithIndependentQuestions())
	}
	return opts
}

// unsafeName matches what may not go into a file name.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// trajectoryName names an example's trajectory file: its index, which
// keeps the files in the order of the run, and its id.
func trajectoryName(index int, id string) string {
	return fmt.Sprintf("%06d-%s", index, unsafeName.ReplaceAllString(id, "_"))
}

// writeTrajectoryHTML renders the JSONL trajectory at path as an HTML page
// beside it.
func writeTrajectoryHTML(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := rlm.ReadTrajectory(f)
	if err != nil {
		return err
	}
	return writeFileAtomic(strings.TrimSuffix(path, ".jsonl")+".html", t.WriteHTML)
}

// newLogger logs warnings and errors to w, and with verbose progress
// details and llama.cpp's own messages too.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	if verbose {
		llama.SetLogger(log)
	}
	return log
}
