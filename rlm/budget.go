package rlm

import (
	"errors"
	"sync"
)

// errBudget is the reason a sub-call was refused; Python sees its text.
var (
	errSubCallBudget = errors.New("sub-call budget exhausted")
	errWorkerTokens  = errors.New("worker token budget exhausted")
)

// budget tracks the limits of one [RLM.Run], shared by its child RLMs. It is
// safe for concurrent use. A zero limit means unlimited.
type budget struct {
	subCallLimit    int
	controllerLimit int
	workerLimit     int

	mu               sync.Mutex
	subCalls         int
	controllerTokens int
	workerTokens     int
	// exhausted is the first budget that refused something.
	exhausted StopReason
}

func newBudget(cfg config) *budget {
	return &budget{
		subCallLimit:    cfg.subCallBudget,
		controllerLimit: cfg.controllerTokens,
		workerLimit:     cfg.workerTokens,
	}
}

// startSubCall counts a sub-call, or refuses it when a budget is spent.
func (b *budget) startSubCall() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subCallLimit > 0 && b.subCalls >= b.subCallLimit {
		b.exhaust(StopSubCallBudget)
		return errSubCallBudget
	}
	if b.workerLimit > 0 && b.workerTokens >= b.workerLimit {
		b.exhaust(StopWorkerTokens)
		return errWorkerTokens
	}
	b.subCalls++
	return nil
}

func (b *budget) addWorkerTokens(n int) {
	b.mu.Lock()
	b.workerTokens += n
	b.mu.Unlock()
}

func (b *budget) addControllerTokens(n int) {
	b.mu.Lock()
	b.controllerTokens += n
	b.mu.Unlock()
}

// controllerSpent reports that no further controller call may be made, and
// records it as the reason the run stops.
func (b *budget) controllerSpent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.controllerLimit > 0 && b.controllerTokens >= b.controllerLimit {
		b.exhaust(StopControllerTokens)
		return true
	}
	return false
}

// exhaustedReason returns the first budget that refused something, or 0.
func (b *budget) exhaustedReason() StopReason {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exhausted
}

func (b *budget) exhaust(reason StopReason) {
	if b.exhausted == 0 {
		b.exhausted = reason
	}
}
