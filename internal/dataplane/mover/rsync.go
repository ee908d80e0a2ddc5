package mover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// stopGrace is how long rsync gets after SIGTERM to flush before SIGKILL.
// With --inplace every byte already written stays on disk either way.
const stopGrace = 10 * time.Second

// stderrTailLines bounds the rsync error text kept for the summary.
const stderrTailLines = 20

// rsyncResult is one finished rsync process.
type rsyncResult struct {
	// Code is the exit code, SignalExit when killed.
	Code int
	// StderrTail holds the last lines rsync wrote to stderr.
	StderrTail string
}

// runRsync runs rsync with args (never through a shell) and hands every
// stdout line (split on \r and \n) to onLine. The password travels in the
// environment, not the argv, so it is not visible in ps output.
func runRsync(ctx context.Context, rsyncPath string, args []string, creds keys.RsyncCredentials,
	log *zap.Logger, onLine func(string)) (rsyncResult, error) {
	cmd := exec.CommandContext(ctx, rsyncPath, args...)
	cmd.Env = []string{
		"LC_ALL=C", // fixed number and name formatting for the parsers
		"PATH=/usr/bin:/bin",
		"RSYNC_PASSWORD=" + string(creds.Password.Reveal()),
	}
	// rsync forks a receiver; signal the whole group so none is left behind,
	// and let rsync die with the mover.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return rsyncResult{}, fmt.Errorf("rsync stdout: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return rsyncResult{}, fmt.Errorf("rsync stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return rsyncResult{}, fmt.Errorf("start rsync: %w", err)
	}
	var wg sync.WaitGroup
	var tail []string
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sc.Split(progress.SplitLines)
		for sc.Scan() {
			onLine(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			log.Warn("rsync", zap.String("stderr", line))
			tail = append(tail, line)
			if len(tail) > stderrTailLines {
				tail = tail[1:]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	wg.Wait()
	err = cmd.Wait()
	res := rsyncResult{StderrTail: strings.Join(tail, "\n")}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		return res, fmt.Errorf("wait for rsync: %w", err)
	}
	return res, nil
}
