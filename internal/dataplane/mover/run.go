// Package mover is the DR sync pod's entrypoint logic: it dials the source
// node's agent with its per-operation certificate (host keys pinned), forwards a local
// port through it to the mount pod's rsync daemon, and runs real rsync into
// the target volume, reporting progress as JSON lines and ending with a
// classified summary. Before any byte moves into a DR copy that holds files,
// the data guard (guard.go, preflight.go) checks with a dry run that the
// copy would not wipe it.
package mover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// maxReportedMismatches bounds the file names a summary lists.
const maxReportedMismatches = 20

// Options configures one sync.
type Options struct {
	// Agent says how to reach and trust the source node's agent.
	Agent AgentOptions
	// Target is the mount pod's rsync daemon as the agent sees it: ip:port,
	// or "<namespace>/<pod>:port", which the agent resolves.
	Target string
	// TargetWait bounds the wait for the target to be reachable through the
	// agent (its mount pod may start together with this mover); default
	// DefaultTargetWait.
	TargetWait time.Duration
	// Module is the rsync module; default "data".
	Module string
	// Credentials are the per-operation rsync credentials.
	Credentials keys.RsyncCredentials
	// Dest is the target volume's mount point.
	Dest string
	// Config is the user's data sync configuration.
	Config rsyncargs.Config
	// AcceptSourceChange records that a person accepted what the data guard
	// would otherwise refuse (a source that shrank under a tenth of the DR
	// copy): the sync then runs with no deletion limit. The pre-flight still
	// runs, so the summary shows what was accepted.
	AcceptSourceChange bool
	// RsyncPath is the rsync binary; default "rsync" from PATH.
	RsyncPath string
	// Reporter receives progress and the summary; default discards.
	Reporter *progress.Reporter
	// Logger is required.
	Logger *zap.Logger

	// sharedAgent, when set, is the agent connection this sync shares with
	// other claims of its mover (RunClaims), which dials it once and closes
	// it; the sync neither dials nor closes one of its own.
	sharedAgent func() (*ssh.Client, error)
}

// Run performs one sync and returns its summary (also written to the
// Reporter). It never panics on bad input: every failure becomes a
// classified Outcome, so the caller only maps Class to an exit code.
func Run(ctx context.Context, opts Options) progress.Summary {
	start := time.Now()
	if opts.Reporter == nil {
		opts.Reporter = progress.NewReporter(io.Discard, progress.ReporterOptions{})
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	r := &run{opts: opts, log: log, start: start}
	sum := r.execute(ctx)
	sum.DurationSeconds = time.Since(start).Seconds()
	if err := opts.Reporter.Summary(sum); err != nil {
		log.Error("write summary", zap.Error(err))
	}
	// Here rather than by the caller: a mover that fills many volumes
	// writes every summary again once all have ended, and those must be its
	// log's last lines (RunClaims).
	log.Info("sync finished", zap.String("class", string(sum.Outcome.Class)), zap.String("reason", sum.Outcome.Reason),
		zap.Int("rsync_exit_code", sum.Outcome.ExitCode), zap.Float64("duration_seconds", sum.DurationSeconds))
	return sum
}

type run struct {
	opts  Options
	log   *zap.Logger
	start time.Time
	rsync string

	mu       sync.Mutex
	trackers []*progress.Tracker
}

func notRun(class rsyncargs.Class, reason string) rsyncargs.Outcome {
	return rsyncargs.Outcome{Class: class, ExitCode: rsyncargs.NotRun, Reason: reason}
}

func (r *run) execute(parent context.Context) progress.Summary {
	o := r.opts
	sum := progress.Summary{Streams: 1}
	fail := func(out rsyncargs.Outcome, err error) progress.Summary {
		sum.Outcome = out
		if err != nil {
			sum.Error = err.Error()
		}
		return sum
	}
	// The one check of the data sync config on this side: the controller's
	// config arrives validated (internal/resolve.DataSync), but the mover is
	// also run by hand, with --config-json, DRSYNCER_SYNC_CONFIG or flags a
	// person typed, and a bad one must end here as a permanent "not run",
	// before the agent is dialed. (rsyncargs.Build re-checks what it turns
	// into argv: that is the argv builder's own guarantee, not a validation.)
	if err := o.Config.Validate(); err != nil {
		return fail(notRun(rsyncargs.ClassPermanent, "invalid data sync config"), err)
	}
	if err := o.Credentials.Validate(); err != nil {
		return fail(notRun(rsyncargs.ClassPermanent, "invalid rsync credentials"), err)
	}
	if fi, err := os.Stat(o.Dest); err != nil || !fi.IsDir() {
		return fail(notRun(rsyncargs.ClassPermanent, "destination is not a directory"), fmt.Errorf("dest %s: %v", o.Dest, err))
	}
	rsyncPath := o.RsyncPath
	if rsyncPath == "" {
		rsyncPath = "rsync"
	}
	var err error
	if r.rsync, err = exec.LookPath(rsyncPath); err != nil {
		return fail(notRun(rsyncargs.ClassPermanent, "rsync not found"), err)
	}
	module := o.Module
	if module == "" {
		module = "data"
	}

	ctx := parent
	if o.Config.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, time.Duration(o.Config.Timeout))
		defer cancel()
	}
	interrupted := func() (rsyncargs.Outcome, bool) {
		switch {
		case parent.Err() != nil:
			return notRun(rsyncargs.ClassRetryable, "sync cancelled"), true
		case ctx.Err() != nil:
			return notRun(rsyncargs.ClassRetryable, fmt.Sprintf("sync timeout %s exceeded", o.Config.Timeout)), true
		}
		return rsyncargs.Outcome{}, false
	}
	// failUnlessInterrupted reports out, unless the error came from the run
	// being cancelled or timing out: then that is the outcome.
	failUnlessInterrupted := func(out rsyncargs.Outcome, err error) progress.Summary {
		if why, ok := interrupted(); ok {
			return fail(why, err)
		}
		return fail(out, err)
	}

	client, release, err := r.agentConnection(ctx)
	if err != nil {
		class := rsyncargs.ClassRetryable
		if errors.Is(err, ErrHostKeyMismatch) {
			// A wrong host key may be an attack: never retried. A refused key,
			// though, is retried with backoff: right after a ClusterMapping is
			// made or its key rotated, the agent accepts the key only once the
			// authorized-keys Secret reaches it.
			class = rsyncargs.ClassPermanent
		}
		return fail(notRun(class, "cannot connect to the agent"), err)
	}
	defer release()
	if err := waitForTarget(ctx, client, o.Target, o.TargetWait, r.log); err != nil {
		return failUnlessInterrupted(notRun(rsyncargs.ClassRetryable, "mount pod not reachable through the agent"), err)
	}
	fwd, err := startForwarder(ctx, client, o.Target, r.log)
	if err != nil {
		return fail(notRun(rsyncargs.ClassRetryable, "local forwarder"), err)
	}
	defer fwd.Close()
	url := rsyncargs.ModuleURL(o.Credentials.User, fwd.Addr(), module)
	dest := strings.TrimSuffix(o.Dest, "/") + "/"

	guard, out, err := r.preflight(ctx, url, dest)
	sum.Guard = guard.verdict
	if err != nil {
		return failUnlessInterrupted(out, err)
	}

	copied := r.copyTree(ctx, url, dest, guard)
	sum.Streams, sum.Stats, sum.Progress = copied.streams, copied.stats, copied.progress
	if why, ok := interrupted(); ok {
		return fail(why, errors.New(copied.errText))
	}
	sum.Outcome, sum.Error = copied.outcome, copied.errText
	if copied.outcome.Class != rsyncargs.ClassSuccess || o.Config.Mode() != rsyncargs.VerifySample {
		if o.Config.Mode() == rsyncargs.VerifyFull && copied.outcome.Class == rsyncargs.ClassSuccess {
			sum.Verification = &progress.Verification{Mode: rsyncargs.VerifyFull, FilesChecked: sum.Progress.FilesTotal}
		}
		return sum
	}
	v, vout, err := r.verifySample(ctx, url, dest)
	sum.Verification = v
	if err != nil {
		sum.Outcome, sum.Error = vout, err.Error()
	}
	return sum
}

// agentConnection is the sync's connection to the agent and what to do
// when the sync is done with it: its own, dialed now and closed then, or
// the one it shares with its mover's other claims (Options.sharedAgent).
func (r *run) agentConnection(ctx context.Context) (*ssh.Client, func(), error) {
	if r.opts.sharedAgent != nil {
		client, err := r.opts.sharedAgent()
		return client, func() {}, err
	}
	client, err := dialAgentPatiently(ctx, r.opts.Agent, r.log)
	if err != nil {
		return nil, nil, err
	}
	return client, func() { _ = client.Close() }, nil
}

func (r *run) listTop(ctx context.Context, url string) ([]TopEntry, rsyncargs.Outcome, error) {
	args, err := rsyncargs.BuildListTop(r.opts.Config, url)
	if err != nil {
		return nil, notRun(rsyncargs.ClassPermanent, "list top level"), err
	}
	var b strings.Builder
	res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, r.log.With(zap.String("phase", "list")),
		func(l string) { b.WriteString(l); b.WriteByte('\n') })
	if err != nil {
		return nil, notRun(rsyncargs.ClassRetryable, "list top level"), err
	}
	if res.Code != 0 {
		return nil, rsyncargs.ClassifyExit(res.Code), fmt.Errorf("list top level: rsync exit %d: %s", res.Code, res.StderrTail)
	}
	entries, err := ParseListOnly(b.String())
	if err != nil {
		return nil, notRun(rsyncargs.ClassPermanent, "list top level"), err
	}
	return entries, rsyncargs.Outcome{}, nil
}

func (r *run) runStreams(ctx context.Context, plans []StreamPlan, url, dest string) (rsyncargs.Outcome, progress.Stats, string) {
	r.trackers = make([]*progress.Tracker, len(plans))
	for i := range r.trackers {
		r.trackers[i] = &progress.Tracker{}
	}
	type result struct {
		out  rsyncargs.Outcome
		tail string
	}
	results := make([]result, len(plans))
	cfg := streamConfig(r.opts.Config, len(plans))
	var wg sync.WaitGroup
	for i, plan := range plans {
		t := rsyncargs.Transfer{Dest: dest, MaxDelete: plan.MaxDelete}
		if plan.Root {
			t.Sources = []string{url}
			for _, d := range plan.Dirs {
				t.StreamExcludes = append(t.StreamExcludes, "/"+d)
			}
		} else {
			for _, d := range plan.Dirs {
				t.Sources = append(t.Sources, url+d)
			}
		}
		args, err := rsyncargs.Build(cfg, t)
		if err != nil {
			results[i] = result{notRun(rsyncargs.ClassPermanent, "build rsync arguments"), err.Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := r.log.With(zap.Int("stream", i))
			log.Info("rsync starting", zap.Strings("args", args))
			res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, log, func(line string) { r.feed(i, line) })
			if err != nil {
				results[i] = result{notRun(rsyncargs.ClassPermanent, "run rsync"), err.Error()}
				return
			}
			out := rsyncargs.ClassifyExit(res.Code)
			if res.Code == rsyncargs.ExitMaxDelete && plan.MaxDelete == nil {
				out = userMaxDeleteStopped()
			}
			log.Info("rsync finished", zap.Int("exit_code", res.Code), zap.String("class", string(out.Class)))
			results[i] = result{out, res.StderrTail}
		}()
	}
	wg.Wait()
	out := rsyncargs.ClassifyExit(0)
	var tails []string
	var stats progress.Stats
	for i, res := range results {
		out = rsyncargs.Worse(out, res.out)
		if res.out.Class != rsyncargs.ClassSuccess && res.tail != "" {
			tails = append(tails, res.tail)
		}
		stats = stats.Add(r.trackers[i].Stats())
	}
	return out, stats, strings.Join(tails, "\n")
}

// feed folds one line of stream i into the trackers and reports the
// combined progress (throttled by the Reporter).
func (r *run) feed(i int, line string) {
	r.mu.Lock()
	changed := r.trackers[i].Feed(line)
	var snap progress.Snapshot
	if changed {
		snap = r.snapshotLocked()
	}
	r.mu.Unlock()
	if changed {
		if err := r.opts.Reporter.Progress(snap); err != nil {
			r.log.Warn("write progress", zap.Error(err))
		}
	}
}

func (r *run) snapshot() progress.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

func (r *run) snapshotLocked() progress.Snapshot {
	snaps := make([]progress.Snapshot, len(r.trackers))
	for i, t := range r.trackers {
		snaps[i] = t.Snapshot()
	}
	s := progress.Combine(snaps)
	s.ElapsedSeconds = time.Since(r.start).Seconds()
	return s
}

func (r *run) fixRootAttrs(ctx context.Context, url, dest string) (rsyncargs.Outcome, string) {
	args, err := rsyncargs.BuildRootAttrs(r.opts.Config, url, dest)
	if err != nil {
		return notRun(rsyncargs.ClassPermanent, "build root attribute pass"), err.Error()
	}
	res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, r.log.With(zap.String("phase", "root-attrs")), func(string) {})
	if err != nil {
		return notRun(rsyncargs.ClassPermanent, "run root attribute pass"), err.Error()
	}
	return rsyncargs.ClassifyExit(res.Code), res.StderrTail
}

// streamConfig is each of n parallel streams' config: bandwidthLimit is per
// transfer (the API says so), and rsync's --bwlimit is per process, so the
// streams share it.
func streamConfig(cfg rsyncargs.Config, n int) rsyncargs.Config {
	if cfg.BandwidthLimitKiB > 0 && n > 1 {
		cfg.BandwidthLimitKiB = max(1, cfg.BandwidthLimitKiB/int64(n))
	}
	return cfg
}
