package serve

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
)

// Server answers OpenAI Chat Completions requests with RLMs. Make one with
// [New]; it is an http.Handler, and [Server.Serve] runs it on a listener
// with graceful shutdown. A Server is safe for concurrent use.
type Server struct {
	models       map[string]*Model
	names        []string
	cfg          config
	log          *slog.Logger
	tokens       *tokens
	admission    *admission
	trajectories *trajectoryStore
	mux          *http.ServeMux
	created      int64

	// stopRuns is cancelled when the shutdown grace has passed: the runs
	// still going then are cancelled.
	stopRuns   context.Context
	cancelRuns context.CancelFunc

	completed, rejected, cancelled, failed atomic.Int64
}

// New returns a server for models, each answering to its Name.
func New(models []Model, opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	switch {
	case len(models) == 0:
		return nil, errors.New("serve: new: no model")
	case cfg.maxRuns < 1 || cfg.maxQueued < 0:
		return nil, fmt.Errorf("serve: new: %d runs at once and a queue of %d", cfg.maxRuns, cfg.maxQueued)
	case cfg.maxBody < 1 || cfg.trajectories < 0 || cfg.shutdownGrace < 0 || cfg.heartbeat <= 0:
		return nil, errors.New("serve: new: the request size, trajectories, shutdown grace and heartbeat must not be negative")
	case cfg.limits.MaxIterations < 0 || cfg.limits.MaxSubCalls < 0 || cfg.limits.MaxControllerTokens < 0 ||
		cfg.limits.MaxWorkerTokens < 0 || cfg.limits.TimeLimit < 0:
		return nil, errors.New("serve: new: limits must not be negative")
	}
	for _, tok := range cfg.tokens {
		if tok == "" {
			return nil, errors.New("serve: new: empty bearer token")
		}
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	s := &Server{
		models:       map[string]*Model{},
		cfg:          cfg,
		log:          cfg.logger,
		tokens:       newTokens(cfg.tokens),
		admission:    newAdmission(cfg.maxRuns, cfg.maxQueued),
		trajectories: newTrajectoryStore(cfg.trajectories),
		mux:          http.NewServeMux(),
		created:      time.Now().Unix(),
	}
	for i := range models {
		m := models[i]
		if m.Name == "" {
			return nil, errors.New("serve: new: a model without a name")
		}
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: new: two models named %q", m.Name)
		}
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("serve: new: %w", err)
		}
		s.models[m.Name] = &m
		s.names = append(s.names, m.Name)
	}
	s.stopRuns, s.cancelRuns = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// routes registers the endpoints.
func (s *Server) routes() {
	s.mux.HandleFunc("POST /v1/chat/completions", s.authorized(s.chat))
	s.mux.HandleFunc("GET /v1/models", s.authorized(s.listModels))
	s.mux.HandleFunc("GET /v1/models/{model...}", s.authorized(s.getModel))
	s.mux.HandleFunc("GET /v1/trajectories/{id}", s.authorized(func(w http.ResponseWriter, r *http.Request, who caller) {
		s.trajectory(w, r, who, false)
	}))
	s.mux.HandleFunc("GET /v1/trajectories/{id}/html", s.authorized(func(w http.ResponseWriter, r *http.Request, who caller) {
		s.trajectory(w, r, who, true)
	}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "not_found", "no endpoint "+r.Method+" "+r.URL.Path)
	})
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authorized wraps a handler so that, when the server takes tokens, only
// requests carrying one reach it; it learns who the caller is.
func (s *Server) authorized(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, ok := s.tokens.identify(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rlm"`)
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
				"a valid bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		h(w, r, who)
	}
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) modelObject(name string) modelObject {
	return modelObject{ID: name, Object: "model", Created: s.created, OwnedBy: "rlm"}
}

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request, _ caller) {
	list := struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{Object: "list", Data: []modelObject{}}
	for _, name := range s.names {
		list.Data = append(list.Data, s.modelObject(name))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request, _ caller) {
	name := r.PathValue("model")
	if _, ok := s.models[name]; !ok {
		writeModelNotFound(w, name)
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject(name))
}

func writeModelNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found",
		fmt.Sprintf("the model %q does not exist: GET /v1/models lists them", name))
}

// badRequest answers 400 and tells the official clients not to retry.
func badRequest(w http.ResponseWriter, msg string) {
	w.Header().Set("X-Should-Retry", "false")
	writeError(w, http.StatusBadRequest, "invalid_request_error", "", msg)
}

// chat serves POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, who caller) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.maxBody)
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.Header().Set("X-Should-Retry", "false")
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
				fmt.Sprintf("the request is larger than this server's limit of %d bytes", tooBig.Limit))
			return
		}
		badRequest(w, "the body is not a chat completion request: "+err.Error())
		return
	}
	if req.Model == "" {
		badRequest(w, "model: missing: GET /v1/models lists the models")
		return
	}
	m, ok := s.models[req.Model]
	if !ok {
		writeModelNotFound(w, req.Model)
		return
	}
	if req.N != nil && *req.N != 1 {
		badRequest(w, "n: an RLM gives one answer per request")
		return
	}
	if len(req.Tools) > 0 {
		badRequest(w, "tools: an RLM does not call tools")
		return
	}
	document, question, err := splitConversation(req.Messages)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	limits, err := s.cfg.limits.limitsFor(req.RLM)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	t, err := s.admission.enter()
	switch {
	case errors.Is(err, errQueueFull):
		s.rejected.Add(1)
		w.Header().Set("Retry-After", strconv.Itoa(s.admission.retryAfter()))
		writeError(w, http.StatusTooManyRequests, "rate_limit_error", "queue_full",
			"every run slot is busy and the queue is full: retry after the time Retry-After gives")
		return
	case err != nil:
		writeShuttingDown(w)
		return
	}
	id := "chatcmpl-" + rand.Text()
	j := job{
		id: id, document: document, question: question, limits: limits,
		trajectory: newTrajectory(), log: s.log.With("request", id),
	}
	base := chatCompletion{ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: m.Name}
	if req.Stream {
		s.stream(w, r, who, t, m, j, base, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	out := s.execute(r.Context(), who, t, m, j)
	if out.err != nil {
		s.writeRunError(w, j.id, out)
		return
	}
	base.Choices = []choice{{
		Message:      &assistantText{Role: "assistant", Content: ptr(out.answer)},
		FinishReason: ptr(out.finish),
	}}
	base.Usage = &out.usage
	base.RLM = out.info
	writeJSON(w, http.StatusOK, base)
}

// stream answers a request with "stream": true: progress chunks as the run
// goes, then the answer as content, the finish reason with the run's
// RunInfo, the usage if asked, and [DONE].
func (s *Server) stream(w http.ResponseWriter, r *http.Request, who caller, t *ticket, m *Model, j job, base chatCompletion, includeUsage bool) {
	st := startStream(w, base)
	if t.Position > 0 {
		st.progress(Progress{Event: "queued", Position: t.Position})
	}
	// A slow reader misses progress chunks rather than holding the run up;
	// the answer never waits on this channel.
	events := make(chan Progress, 1024)
	j.progress = func(p Progress) {
		select {
		case events <- p:
		default:
		}
	}
	done := make(chan outcome, 1)
	go func() { done <- s.execute(r.Context(), who, t, m, j) }()
	heartbeat := time.NewTicker(s.cfg.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case p := <-events:
			st.progress(p)
		case <-heartbeat.C:
			st.comment("keep-alive")
		case out := <-done:
			for len(events) > 0 {
				st.progress(<-events)
			}
			if out.err != nil {
				status, typ, code, msg := runError(out)
				if status != 0 {
					st.fail(typ, code, msg)
				}
				return
			}
			st.delta(&assistantText{Content: ptr(out.answer)}, nil, nil)
			st.delta(&assistantText{}, ptr(out.finish), out.info)
			if includeUsage {
				st.usage(out.usage)
			}
			st.done()
			return
		}
	}
}

// execute waits for the ticket's turn, runs the job and frees the slot. A
// run still going when the shutdown grace passes is cancelled.
func (s *Server) execute(ctx context.Context, who caller, t *ticket, m *Model, j job) outcome {
	entered := time.Now()
	if err := t.wait(ctx); err != nil {
		return outcome{err: err, cancelled: ctx.Err() != nil, shutdown: errors.Is(err, errShuttingDown)}
	}
	waited := time.Since(entered)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.stopRuns, func() { cancel(errShuttingDown) })
	defer stop()
	if j.progress != nil {
		j.progress(Progress{Event: "started"})
	}
	s.trajectories.add(j.id, who, j.trajectory)
	start := time.Now()
	out := runContained(runCtx, m, j)
	t.release(time.Since(start))
	out.info.QueueSeconds = waited.Seconds()
	out.info.Trajectory = "/v1/trajectories/" + j.id
	out.shutdown = errors.Is(context.Cause(runCtx), errShuttingDown)
	attrs := []any{"model", m.Name, "queue", waited, "time", time.Since(start), "stop", out.info.Stop,
		"iterations", out.info.Iterations, "sub_calls", out.info.SubCalls}
	switch {
	case out.err == nil:
		s.completed.Add(1)
		j.log.Info("serve: answered", attrs...)
	case out.cancelled:
		s.cancelled.Add(1)
		j.log.Info("serve: cancelled", append(attrs, "shutdown", out.shutdown)...)
	default:
		s.failed.Add(1)
		j.log.Warn("serve: run failed", append(attrs, "err", out.err)...)
	}
	return out
}

// runContained runs j, turning a panic of the engine or of a model's
// adapter into the run's error: one request fails, not the server.
func runContained(ctx context.Context, m *Model, j job) (out outcome) {
	defer func() {
		if p := recover(); p != nil {
			j.log.Error("serve: run panicked", "panic", p, "stack", string(debug.Stack()))
			out = outcome{err: fmt.Errorf("serve: run panicked: %v", p)}
		}
	}()
	return m.run(ctx, j)
}

// runError says how to answer a run that failed; status 0 means the client
// is gone and there is no one to answer.
func runError(out outcome) (status int, typ, code, msg string) {
	switch {
	case out.shutdown:
		return http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down: retry later"
	case out.cancelled:
		return 0, "", "", ""
	}
	return http.StatusInternalServerError, "server_error", "run_failed", "the run failed: " + out.err.Error()
}

func (s *Server) writeRunError(w http.ResponseWriter, id string, out outcome) {
	status, typ, code, msg := runError(out)
	if status == 0 {
		return
	}
	if status == http.StatusInternalServerError {
		// Retrying would run the whole RLM again, to the same end.
		w.Header().Set("X-Should-Retry", "false")
		msg += " (trajectory: /v1/trajectories/" + id + ")"
	}
	writeError(w, status, typ, code, msg)
}

func writeShuttingDown(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down: retry later")
}

// Stats counts what a server has done.
type Stats struct {
	// Running and Queued are the runs going on and the requests waiting.
	Running, Queued int
	// Completed counts runs that gave an answer (whatever their stop
	// reason); Cancelled those whose client left or that shutdown ended;
	// Failed those that failed otherwise; Rejected the requests answered
	// 429 because the queue was full.
	Completed, Cancelled, Failed, Rejected int64
}

// Stats returns the server's counts.
func (s *Server) Stats() Stats {
	running, queued := s.admission.counts()
	return Stats{
		Running: running, Queued: queued,
		Completed: s.completed.Load(), Cancelled: s.cancelled.Load(),
		Failed: s.failed.Load(), Rejected: s.rejected.Load(),
	}
}

// Shutdown starts no more runs, refuses the queued requests (503), and
// waits for the runs in flight to end. When ctx ends first it cancels them,
// waits for them to return (the engine returns promptly on cancellation)
// and returns ctx's error. The runs' clients get their answers, or 503
// once cancelled. Afterwards the server answers every request for a run
// with 503. The HTTP server itself is the caller's to shut down;
// [Server.Serve] does both.
func (s *Server) Shutdown(ctx context.Context) error {
	idle := s.admission.close()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	running, _ := s.admission.counts()
	s.log.Warn("serve: shutdown grace passed: cancelling runs", "runs", running)
	s.cancelRuns()
	<-idle
	return fmt.Errorf("serve: shutdown: %d runs cancelled: %w", running, ctx.Err())
}

// Serve serves HTTP on l until ctx ends, then shuts down gracefully: it
// stops accepting connections, refuses queued requests, lets the runs in
// flight finish for the shutdown grace ([WithShutdownGrace]), cancels those
// still going, and returns once their clients have been answered. It
// returns nil after a shutdown, and an error if l fails.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	running, queued := s.admission.counts()
	s.log.Info("serve: shutting down", "grace", s.cfg.shutdownGrace, "runs", running, "queued", queued)
	closed := make(chan struct{})
	go func() {
		// Closes the listener and idle connections at once, then waits
		// for the handlers, which end with their runs.
		_ = hs.Shutdown(context.Background())
		close(closed)
	}()
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownGrace)
	defer cancel()
	if err := s.Shutdown(grace); err != nil {
		s.log.Warn("serve: shutdown", "err", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		// A handler is stuck writing to a client that does not read.
		_ = hs.Close()
		<-closed
	}
	<-served
	s.log.Info("serve: stopped")
	return nil
}
