package serve

import (
	"log/slog"
	"time"
)

// Limits bound what one request may use. Zero means no limit of the
// server's own: the model's options, and the engine's defaults, apply.
// A request may lower each limit for itself (see [RequestOptions]), never
// raise it. Limits are applied after a [Model]'s options and override
// them.
type Limits struct {
	// MaxIterations caps the controller's replies per run.
	MaxIterations int
	// MaxSubCalls caps the worker calls and child RLMs of a run.
	MaxSubCalls int
	// MaxControllerTokens and MaxWorkerTokens cap each model's tokens,
	// prompt and completion together, over a run.
	MaxControllerTokens int
	MaxWorkerTokens     int
	// TimeLimit caps a run's wall time, not counting its wait in the
	// queue. When it passes the run stops and answers as well as it can.
	TimeLimit time.Duration
}

// Option configures [New].
type Option func(*config)

type config struct {
	limits        Limits
	maxRuns       int
	maxQueued     int
	maxBody       int64
	tokens        []string
	trajectories  int
	shutdownGrace time.Duration
	heartbeat     time.Duration
	logger        *slog.Logger
}

func defaultConfig() config {
	return config{
		limits:        Limits{TimeLimit: 10 * time.Minute},
		maxRuns:       4,
		maxQueued:     16,
		maxBody:       32 << 20,
		trajectories:  100,
		shutdownGrace: 30 * time.Second,
		heartbeat:     15 * time.Second,
	}
}

// WithLimits sets the limits every request runs under. Default: a time
// limit of 10 minutes and no other.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithMaxRuns sets how many runs go on at once, over all models; the
// models' adapters see that many conversations at a time. Default 4.
func WithMaxRuns(n int) Option { return func(c *config) { c.maxRuns = n } }

// WithQueue sets how many requests may wait for a run to end. A request
// that finds the queue full is answered 429 with Retry-After. Default 16.
func WithQueue(n int) Option { return func(c *config) { c.maxQueued = n } }

// WithMaxRequestBytes caps the size of a request body, which holds the
// document; a larger one is answered 413. Default 32 MiB.
func WithMaxRequestBytes(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithTokens makes every endpoint require one of the bearer tokens in the
// Authorization header, and serves each trajectory only to the token that
// made it. Default: none, and every caller is served (bind to loopback
// then).
func WithTokens(tokens ...string) Option {
	return func(c *config) { c.tokens = append(c.tokens, tokens...) }
}

// WithTrajectories sets how many trajectories the server keeps for
// fetching, the oldest dropped first; 0 keeps none. Default 100.
func WithTrajectories(n int) Option { return func(c *config) { c.trajectories = n } }

// WithShutdownGrace sets how long [Server.Serve], once its context is done,
// lets the runs in flight finish before it cancels them. Default 30 s.
func WithShutdownGrace(d time.Duration) Option { return func(c *config) { c.shutdownGrace = d } }

// WithHeartbeat sets how often a stream with nothing else to say sends an
// SSE comment, so that proxies keep the connection open. Default 15 s.
func WithHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// WithLogger sets the logger for requests and, with each request's ID, for
// its run. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }
