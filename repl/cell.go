package repl

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

type stopReason int

const (
	notStopped      stopReason = iota
	stoppedTimeout             // WithTimeout elapsed
	stoppedCanceled            // the Exec context ended
)

// cell is the state of one Exec between the exec frame and the reply.
type cell struct {
	req         *request
	id          int64
	started     time.Time
	callCtx     context.Context // given to host functions
	cancelCalls context.CancelFunc
	inflight    int // host calls not yet answered
	// inflightBytes is the size of their messages.
	inflightBytes int

	done      *childMsg // the child's report, once it came
	stop      stopReason
	timeout   *time.Timer
	grace     *time.Timer
	died      string // why the process ended during the cell
	diedType  string // the Exception.Type reported for it
	restarted bool
}

// cellKey marks the context of host functions, so that an Exec from one of
// them fails instead of waiting for its own cell.
type cellKey struct{}

// running reports that the cell has neither finished nor lost its process.
func (c *cell) running() bool { return c.done == nil && c.died == "" }

func (c *cell) stopTimers() {
	if c.timeout != nil {
		c.timeout.Stop()
	}
	if c.grace != nil {
		c.grace.Stop()
	}
}

func (o *owner) startCell(req *request) {
	restarted := o.lost != ""
	if err := o.ensureChild(req.ctx); err != nil {
		req.reply <- response{err: err}
		return
	}
	o.lost = ""
	c := &cell{req: req, id: o.newID(), started: time.Now(), restarted: restarted}
	c.callCtx, c.cancelCalls = context.WithCancel(context.WithValue(req.ctx, cellKey{}, o.r))
	if d := o.r.cfg.timeout; d > 0 {
		c.timeout = time.NewTimer(d)
	}
	o.cell = c
	o.child.send(execFrame(c.id, req.code, false))
}

// interrupt raises KeyboardInterrupt in the cell and gives it the grace
// period to stop before the process is killed.
func (o *owner) interrupt(reason stopReason) {
	c := o.cell
	c.stop = reason
	c.cancelCalls()
	o.child.send(interruptFrame(c.id))
	o.child.interrupt()
	c.grace = time.NewTimer(o.r.cfg.interruptGrace)
}

// maybeFinish answers the Exec once the cell has ended and its host calls
// have returned.
func (o *owner) maybeFinish() {
	c := o.cell
	if c == nil || c.running() || c.inflight > 0 {
		return
	}
	o.cell = nil
	c.stopTimers()
	c.cancelCalls()
	res := o.result(c)
	if c.done != nil && c.done.Restart != "" && o.child != nil {
		o.retire(c.done.Restart)
		res.Restarted = true
		if e := res.Exception; e != nil {
			e.Message = strings.TrimSpace(e.Message + " (the Python process was restarted: " + c.done.Restart + lostVariables + ")")
		}
	}
	var err error
	if c.stop == stoppedCanceled {
		err = fmt.Errorf("repl: exec: %w", c.req.ctx.Err())
	}
	c.req.reply <- response{result: res, err: err}
}

const lostVariables = "; variables other than the protected names were lost"

func (o *owner) result(c *cell) Result {
	res := Result{Duration: time.Since(c.started), Restarted: c.restarted}
	limit := o.r.cfg.outputLimit
	if d := c.done; d != nil {
		// The report comes from the child: its caps are enforced again here.
		res.Stdout, res.StdoutTruncated = withCutMarker(capRunes(d.Stdout, limit, &d.StdoutCut), d.StdoutCut, limit)
		res.Stderr, res.StderrTruncated = withCutMarker(capRunes(d.Stderr, limit, &d.StderrCut), d.StderrCut, limit)
		if e := d.Exception; e != nil {
			var ignored int64
			res.Exception = &Exception{Type: capRunes(e.Type, maxNameLen, &ignored),
				Message: capRunes(e.Message, limit, &ignored), Traceback: capRunes(e.Traceback, limit+100, &ignored)}
		}
		res.Changed, res.ChangedCut = capNames(d.Changed, int(max(d.ChangedCut, 0)))
		res.Restored, _ = capNames(d.Restored, 0)
		res.Threads = int(max(d.Threads, 0))
	}
	timeout := o.r.cfg.timeout
	switch {
	case c.died != "" && c.stop == stoppedTimeout:
		res.Exception = &Exception{Type: "TimeoutError",
			Message: fmt.Sprintf("the cell exceeded the time limit of %v and did not stop when interrupted; the Python process was restarted", timeout) + lostVariables}
	case c.died != "" && c.stop == stoppedCanceled:
		res.Exception = &Exception{Type: "KeyboardInterrupt",
			Message: "the cell was cancelled and did not stop when interrupted; the Python process was restarted" + lostVariables}
	case c.died != "":
		res.Exception = &Exception{Type: c.diedType, Message: "the Python process " + c.died + "; it was restarted" + lostVariables}
	case c.stop == stoppedTimeout && (res.Exception == nil || res.Exception.Type == "KeyboardInterrupt"):
		e := &Exception{Type: "TimeoutError",
			Message: fmt.Sprintf("the cell exceeded the time limit of %v and was interrupted", timeout)}
		if res.Exception != nil {
			e.Traceback = res.Exception.Traceback
		}
		res.Exception = e
	}
	return res
}

// withCutMarker appends to kept text the note that cut characters were dropped.
func withCutMarker(kept string, cut int64, limit int) (string, bool) {
	if cut <= 0 {
		return kept, false
	}
	return kept + fmt.Sprintf("\n[... %d more characters cut: output is limited to %d characters per cell]", cut, limit), true
}

// Caps of the names a cell reports, as the bootstrap applies them.
const (
	maxNames   = 1000
	maxNameLen = 203 // 200 characters and "..."
)

// capNames keeps at most maxNames names of at most maxNameLen characters,
// nil for none, and adds the names dropped to cut.
func capNames(names []string, cut int) ([]string, int) {
	if len(names) == 0 {
		return nil, cut
	}
	if len(names) > maxNames {
		cut += len(names) - maxNames
		names = names[:maxNames]
	}
	for i, n := range names {
		var ignored int64
		names[i] = capRunes(n, maxNameLen, &ignored)
	}
	return names, cut
}

// capRunes returns the first n characters of s, adding those it drops to
// cut.
func capRunes(s string, n int, cut *int64) string {
	if len(s) <= n { // bytes >= characters
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	if i < len(s) {
		*cut += int64(utf8.RuneCountInString(s[i:]))
	}
	return s[:i]
}
