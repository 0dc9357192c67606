//go:build !unix

package hub

import "context"

// lockFile does not lock where flock(2) is missing: there, two processes
// must not download the same file at once.
func lockFile(ctx context.Context, name string) (unlock func(), err error) {
	return func() {}, ctx.Err()
}
