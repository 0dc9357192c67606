package serve

import (
	"net/http"
	"sync"

	"github.com/go-rlm/rlm/rlm"
)

// trajectoryStore keeps the trajectories of the latest runs, each with the
// caller that made it, dropping the oldest beyond its capacity. A
// trajectory is stored as its run starts, so that it can be followed while
// the run goes on.
type trajectoryStore struct {
	mu    sync.Mutex
	cap   int
	byID  map[string]storedTrajectory
	order []string // IDs, oldest first
}

type storedTrajectory struct {
	owner      caller
	trajectory *rlm.Trajectory
}

func newTrajectoryStore(capacity int) *trajectoryStore {
	return &trajectoryStore{cap: capacity, byID: map[string]storedTrajectory{}}
}

// add stores t under id for owner; with capacity 0 it stores nothing.
func (s *trajectoryStore) add(id string, owner caller, t *rlm.Trajectory) {
	if s.cap <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = storedTrajectory{owner: owner, trajectory: t}
	s.order = append(s.order, id)
	for len(s.order) > s.cap {
		delete(s.byID, s.order[0])
		s.order = s.order[1:]
	}
}

// get returns the trajectory id names if who may read it: its owner, or
// anyone when the server has no tokens (who and the owner are then both
// the anonymous caller).
func (s *trajectoryStore) get(id string, who caller) (*rlm.Trajectory, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byID[id]
	if !ok || st.owner != who {
		return nil, false
	}
	return st.trajectory, true
}

// trajectory serves GET /v1/trajectories/{id} (JSONL) and
// /v1/trajectories/{id}/html (the page). Another caller's trajectory is
// "not found", as one that never existed: its existence is not revealed.
func (s *Server) trajectory(w http.ResponseWriter, r *http.Request, who caller, html bool) {
	t, ok := s.trajectories.get(r.PathValue("id"), who)
	if !ok {
		writeError(w, http.StatusNotFound, "invalid_request_error", "trajectory_not_found",
			"no trajectory "+r.PathValue("id")+" (only the latest are kept, and only for the caller that made them)")
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if html {
		h.Set("Content-Type", "text/html; charset=utf-8")
		// The page carries its own, stricter policy; this one adds that it
		// may not be framed.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'")
		if err := t.WriteHTML(w); err != nil {
			s.log.Warn("serve: write trajectory page", "id", r.PathValue("id"), "err", err)
		}
		return
	}
	h.Set("Content-Type", "application/jsonl; charset=utf-8")
	if err := t.WriteJSONL(w); err != nil {
		s.log.Warn("serve: write trajectory", "id", r.PathValue("id"), "err", err)
	}
}
