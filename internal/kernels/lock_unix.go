//go:build unix

package kernels

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive lock on dir's lock file (dir + ".lock"), waiting
// for any other holder, so that two builds for one directory (two clones'
// `make test` on a fresh machine) run one after the other and the second
// finds the first's libraries. unlock releases it.
func Lock(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kernels: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("kernels: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}
