package serve

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdmissionQueuesInOrder(t *testing.T) {
	a := newAdmission(1, 2)
	first, err := a.enter()
	require.NoError(t, err)
	assert.Zero(t, first.Position, "a free slot: no wait")
	require.NoError(t, first.wait(context.Background()))

	second, err := a.enter()
	require.NoError(t, err)
	third, err := a.enter()
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, []int{second.Position, third.Position})
	_, err = a.enter()
	assert.ErrorIs(t, err, errQueueFull)
	running, queued := a.counts()
	assert.Equal(t, []int{1, 2}, []int{running, queued})

	first.release(4 * time.Second)
	require.NoError(t, second.wait(context.Background()), "the slot goes to the first in the queue")
	select {
	case <-third.granted:
		t.Fatal("the third got a slot that was not free")
	default:
	}
	assert.Equal(t, 4, a.retryAfter(), "a place frees when the one run ends: a mean run")
	second.release(0)
	require.NoError(t, third.wait(context.Background()))
	third.release(0)
	running, queued = a.counts()
	assert.Equal(t, []int{0, 0}, []int{running, queued})
}

func TestAdmissionWaitCancelled(t *testing.T) {
	a := newAdmission(1, 1)
	first, err := a.enter()
	require.NoError(t, err)
	waiting, err := a.enter()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, waiting.wait(ctx), context.Canceled)
	_, queued := a.counts()
	assert.Zero(t, queued, "a request that gave up leaves the queue")
	first.release(0)
	running, _ := a.counts()
	assert.Zero(t, running, "the slot is not handed to the request that left")
}

func TestAdmissionClose(t *testing.T) {
	a := newAdmission(1, 1)
	running, err := a.enter()
	require.NoError(t, err)
	queued, err := a.enter()
	require.NoError(t, err)

	idle := a.close()
	assert.ErrorIs(t, queued.wait(context.Background()), errShuttingDown, "the queue is refused")
	_, err = a.enter()
	assert.ErrorIs(t, err, errShuttingDown)
	select {
	case <-idle:
		t.Fatal("idle while a run goes on")
	default:
	}
	running.release(0)
	<-idle
	assert.Equal(t, idle, a.close(), "closing again is harmless")
}
