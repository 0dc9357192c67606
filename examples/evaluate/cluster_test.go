package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// localCluster is a one-node SLURM cluster that slurm/localcluster.sh runs
// for a test: munged, slurmctld and slurmd, stopped when the test ends, or
// by the script's watchdog when the test process dies first.
type localCluster struct {
	dir     string        // the daemons' configuration, state and logs
	startup time.Duration // from the start of the script to an idle node
}

// startLocalCluster starts a cluster in a directory under root, which the
// test's other files may share: the cluster stops before root is removed.
// It skips the test where the machine cannot run one (the packages missing,
// not root), and fails it where a daemon does not come up.
func startLocalCluster(t testing.TB, root string) *localCluster {
	t.Helper()
	c := &localCluster{dir: filepath.Join(root, "cluster")}
	script := filepath.Join("slurm", "localcluster.sh")
	start := time.Now()
	out, err := exec.Command(script, "start", c.dir, strconv.Itoa(os.Getpid())).CombinedOutput()
	c.startup = time.Since(start)
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs(t)
		}
		if out, err := exec.Command(script, "stop", c.dir).CombinedOutput(); err != nil {
			t.Errorf("stop the cluster: %v: %s", err, out)
		}
	})
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Skipf("no SLURM cluster on this machine: %s", bytes.TrimSpace(out))
	}
	require.NoError(t, err, "%s", out)
	t.Logf("%s (%v with the script)", bytes.TrimSpace(out), c.startup.Round(time.Millisecond))
	return c
}

// dumpLogs logs the end of every daemon's log, and of the jobs' logs of
// runs submitted into the cluster's root, for a test that failed.
func (c *localCluster) dumpLogs(t testing.TB) {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "log", "*.log"))
	jobLogs, _ := filepath.Glob(filepath.Join(filepath.Dir(c.dir), "*", "logs", "*.out"))
	for _, path := range append(logs, jobLogs...) {
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		t.Logf("--- %s:\n%s", path, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

// env is the environment of a client command: the cluster's configuration.
func (c *localCluster) env(more ...string) []string {
	return append(append(os.Environ(), "SLURM_CONF="+filepath.Join(c.dir, "slurm.conf")), more...)
}

// run runs a command against the cluster and returns its standard output;
// an error fails the test.
func (c *localCluster) run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := c.try(env, name, args...)
	require.NoError(t, err)
	return out
}

// try runs a command against the cluster within a minute.
func (c *localCluster) try(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	if env == nil {
		cmd.Env = c.env()
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// job is what scontrol says about a job, or about one task of an array.
type job struct {
	id       string // the job's own id, which sacct shows
	state    string
	restarts int
	exitCode string
	fields   map[string]string
}

// scontrolField matches a Key=Value field of scontrol's one-line output.
var scontrolField = regexp.MustCompile(`(\S+?)=(\S*)`)

// jobs returns what scontrol says about a job id: the job, or every task of
// an array, in the order of their task ids.
func (c *localCluster) jobs(t testing.TB, id string) []job {
	t.Helper()
	var jobs []job
	for _, line := range strings.Split(strings.TrimSpace(c.run(t, nil, "scontrol", "show", "job", "--oneliner", id)), "\n") {
		f := map[string]string{}
		for _, m := range scontrolField.FindAllStringSubmatch(line, -1) {
			f[m[1]] = m[2]
		}
		restarts, _ := strconv.Atoi(f["Restarts"])
		jobs = append(jobs, job{id: f["JobId"], state: f["JobState"], restarts: restarts, exitCode: f["ExitCode"], fields: f})
	}
	// scontrol lists an array's tasks from the last.
	slices.SortStableFunc(jobs, func(a, b job) int {
		i, _ := strconv.Atoi(a.fields["ArrayTaskId"])
		j, _ := strconv.Atoi(b.fields["ArrayTaskId"])
		return i - j
	})
	return jobs
}

// waitFor polls until done reports true, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ended reports whether a job state is final: the job will not run again
// unless someone requeues it.
func ended(state string) bool {
	switch state {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED":
		return true
	}
	return false
}

// submission is a run of slurm/submit.sh: the array job and the merge job.
type submission struct {
	array, merge string
}

// submit runs slurm/submit.sh, as README tells users to, with the
// variables in env and the evaluate flags args.
func (c *localCluster) submit(t testing.TB, env []string, out string, args ...string) submission {
	t.Helper()
	stdout := c.run(t, c.env(env...), filepath.Join("slurm", "submit.sh"), append([]string{out}, args...)...)
	array := regexp.MustCompile(`(?m)^array job ([0-9]+):`).FindStringSubmatch(stdout)
	merge := regexp.MustCompile(`(?m)^merge job ([0-9]+):`).FindStringSubmatch(stdout)
	require.NotNil(t, array, stdout)
	require.NotNil(t, merge, stdout)
	return submission{array: array[1], merge: merge[1]}
}

// waitEnded waits until every task of the array and the merge have ended.
func (c *localCluster) waitEnded(t testing.TB, s submission, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, "end of jobs "+s.array+" and "+s.merge, func() bool {
		for _, j := range append(c.jobs(t, s.array), c.jobs(t, s.merge)...) {
			if !ended(j.state) {
				return false
			}
		}
		return true
	})
}

// sacctRecord is a line of `sacct -c`: one job's end, or its requeue.
type sacctRecord struct {
	id, name, state, exitCode string
	start, end                time.Time
}

// sacct reads the cluster's job completion records through sacct -c (the
// cluster has no slurmdbd), in the order they were written.
func (c *localCluster) sacct(t testing.TB) []sacctRecord {
	t.Helper()
	// sacct 22.05 reads the file of jobcomp/filetxt without knowing two of
	// the fields the plugin writes (ArrayJobId, ArrayTaskId), and says so on
	// stderr; the fields asked for here are read.
	out := c.run(t, nil, "sacct", "--completion", "--parsable2", "--noheader",
		"--format=JobID,JobName,State,Start,End,ExitCode")
	var records []sacctRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		require.Len(t, f, 6, line)
		start, err := time.ParseInLocation("2006-01-02T15:04:05", f[3], time.Local)
		require.NoError(t, err, line)
		end, err := time.ParseInLocation("2006-01-02T15:04:05", f[4], time.Local)
		require.NoError(t, err, line)
		records = append(records, sacctRecord{id: f[0], name: f[1], state: f[2], exitCode: f[5], start: start, end: end})
	}
	return records
}
