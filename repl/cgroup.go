package repl

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A cgroup v2 limits what rlimits cannot: the memory the process's files
// hold in tmpfs and the page cache, shared memory, and its number of tasks.
// It is used where one is delegated to the host: a cgroup v2 directory the
// host may write, whose cgroup.subtree_control enables the memory and pids
// controllers. Each Python process gets a child cgroup of it, is cloned
// straight into it (CLONE_INTO_CGROUP), and the cgroup is removed once the
// process is reaped.

// cgroupTasks is pids.max of a process's cgroup when [WithMaxProcesses] is
// not set: the interpreter and the threads its cells start.
const cgroupTasks = 512

var cgroupSeq atomic.Int64

// WithCgroup names a cgroup v2 directory delegated to this process, under
// which each Python process gets a cgroup of its own: memory.max is
// [WithMemoryLimit] plus the scratch quota, memory.swap.max 0, pids.max
// [WithMaxProcesses] or 512. Default: the host's own cgroup when it
// delegates the memory and pids controllers (rare: a cgroup that holds
// processes cannot), else none, and rlimits alone limit the process. A
// directory given here that cannot be used is a missing layer.
func WithCgroup(dir string) Option { return func(c *config) { c.cgroup = dir } }

// findCgroup returns the directory of the host's own cgroup v2, or "".
func findCgroup() string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	var path string
	for line := range strings.Lines(string(data)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			path = p
		}
	}
	if path == "" {
		return ""
	}
	mount, root := cgroup2Mount()
	if mount == "" {
		return ""
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.Join(mount, rel)
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted and which of
// its cgroups the mount shows at its root.
func cgroup2Mount() (mount, root string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options... - fstype source options
		before, after, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(before)
		if ok && len(fields) >= 5 && strings.HasPrefix(after, "cgroup2 ") {
			return fields[4], fields[3]
		}
	}
	return "", ""
}

// checkCgroup says why dir cannot hold the REPL's cgroups, or nil.
func checkCgroup(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not a cgroup v2 directory", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	enabled := strings.Fields(string(data))
	for _, c := range []string{"memory", "pids"} {
		if !slices.Contains(enabled, c) {
			return fmt.Errorf("%s does not delegate the %s controller to its children (cgroup.subtree_control: %q)", dir, c, strings.TrimSpace(string(data)))
		}
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	return nil
}

// processCgroup is the cgroup of one Python process.
type processCgroup struct {
	dir string
	fd  *os.File // the directory, for CLONE_INTO_CGROUP
}

// newProcessCgroup makes a cgroup under parent with the given limits.
func newProcessCgroup(parent string, memory int64, tasks int) (*processCgroup, error) {
	dir := filepath.Join(parent, fmt.Sprintf("repl-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	cg := &processCgroup{dir: dir}
	limits := [][2]string{{"pids.max", strconv.Itoa(tasks)}, {"memory.oom.group", "1"}}
	if memory > 0 {
		limits = append(limits, [2]string{"memory.max", strconv.FormatInt(memory, 10)}, [2]string{"memory.swap.max", "0"})
	}
	for _, l := range limits {
		err := os.WriteFile(filepath.Join(dir, l[0]), []byte(l[1]), 0)
		if err != nil && !(l[0] == "memory.swap.max" && errors.Is(err, os.ErrNotExist)) { // no swap accounting
			cg.remove()
			return nil, fmt.Errorf("cgroup: %s: %w", l[0], err)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		cg.remove()
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	cg.fd = f
	return cg, nil
}

// attach makes the process started with attr begin in the cgroup.
func (cg *processCgroup) attach(attr *syscall.SysProcAttr) {
	attr.UseCgroupFD = true
	attr.CgroupFD = int(cg.fd.Fd())
}

// started closes the directory, which the process no longer needs.
func (cg *processCgroup) started() {
	if cg != nil && cg.fd != nil {
		cg.fd.Close()
		cg.fd = nil
	}
}

// remove deletes the cgroup once its processes are gone, killing any left.
func (cg *processCgroup) remove() {
	if cg == nil {
		return
	}
	if cg.fd != nil {
		cg.fd.Close()
	}
	for range 50 {
		err := unix.Rmdir(cg.dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		if !errors.Is(err, unix.EBUSY) {
			return
		}
		_ = os.WriteFile(filepath.Join(cg.dir, "cgroup.kill"), []byte("1"), 0)
		time.Sleep(10 * time.Millisecond)
	}
}
