//go:build !unix

package llamatest

// lockFile does nothing where flock is missing: concurrent processes may
// then both write a model, which costs time but stays correct (each writes
// under a temporary name and renames).
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
