package serve

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

var (
	// errQueueFull: every run slot is taken and the queue is full.
	errQueueFull = errors.New("serve: the queue is full")
	// errShuttingDown: the server is shutting down and starts no run.
	errShuttingDown = errors.New("serve: the server is shutting down")
)

// admission lets at most maxRuns runs go on at once and at most maxQueued
// requests wait for one, first come first served.
type admission struct {
	mu        sync.Mutex
	maxRuns   int
	maxQueued int
	running   int
	queue     []*ticket
	closed    bool
	// idle is closed when the admission is closed and no run is left.
	idle chan struct{}
	// meanRun is a moving average of run durations, for Retry-After.
	meanRun time.Duration
}

// ticket is one request's place: granted a run slot at once or later.
type ticket struct {
	a       *admission
	granted chan struct{} // closed when the run may start
	err     error         // set before granted is closed when refused
	// Position is the place in the queue on entry, 0 when it ran at once.
	Position int
}

func newAdmission(maxRuns, maxQueued int) *admission {
	return &admission{maxRuns: maxRuns, maxQueued: maxQueued, idle: make(chan struct{})}
}

// enter gives a ticket that holds a run slot or a place in the queue, or
// errQueueFull, or errShuttingDown.
func (a *admission) enter() (*ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errShuttingDown
	}
	t := &ticket{a: a, granted: make(chan struct{})}
	if a.running < a.maxRuns {
		a.running++
		close(t.granted)
		return t, nil
	}
	if len(a.queue) >= a.maxQueued {
		return nil, errQueueFull
	}
	a.queue = append(a.queue, t)
	t.Position = len(a.queue)
	return t, nil
}

// wait blocks until the ticket's run may start. When ctx ends first the
// ticket gives up its place (or the slot it was just granted).
func (t *ticket) wait(ctx context.Context) error {
	select {
	case <-t.granted:
		return t.err
	case <-ctx.Done():
	}
	a := t.a
	a.mu.Lock()
	for i, q := range a.queue {
		if q == t {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			a.mu.Unlock()
			return ctx.Err()
		}
	}
	a.mu.Unlock()
	// Granted (or refused) while ctx ended: hand a granted slot on.
	if <-t.granted; t.err == nil {
		t.release(0)
	}
	return ctx.Err()
}

// release frees the slot of a run that took d, handing it to the first
// request in the queue.
func (t *ticket) release(d time.Duration) {
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if d > 0 {
		if a.meanRun == 0 {
			a.meanRun = d
		} else {
			a.meanRun = (3*a.meanRun + d) / 4
		}
	}
	if len(a.queue) > 0 && !a.closed {
		next := a.queue[0]
		a.queue = a.queue[1:]
		close(next.granted)
		return
	}
	a.running--
	if a.closed && a.running == 0 {
		close(a.idle)
	}
}

// close refuses new requests and every queued one, and returns a channel
// closed once the runs in flight have ended.
func (a *admission) close() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return a.idle
	}
	a.closed = true
	for _, t := range a.queue {
		t.err = errShuttingDown
		close(t.granted)
	}
	a.queue = nil
	if a.running == 0 {
		close(a.idle)
	}
	return a.idle
}

// retryAfter estimates in whole seconds when a place in a full queue may
// free: a place frees when any run ends, which with maxRuns runs going on
// takes about the mean run time over maxRuns. At least 1 s.
func (a *admission) retryAfter() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	mean := a.meanRun
	if mean == 0 {
		mean = 5 * time.Second // no run has ended yet
	}
	return int(min(600, max(1, math.Ceil(mean.Seconds()/float64(a.maxRuns)))))
}

// counts reports the runs going on and the requests waiting.
func (a *admission) counts() (running, queued int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running, len(a.queue)
}
