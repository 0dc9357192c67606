package repl

// HostPID is the pid, as the host sees it, of the process the REPL started
// last (the init of its pid namespace when it has one), 0 before any.
func HostPID(r *REPL) int {
	if p := r.last.Load(); p != nil {
		return p.pid
	}
	return 0
}
