// Command mover is the DR sync pod's entrypoint: it pulls a source volume
// through the source node's agent into the target volume with rsync,
// printing progress as JSON lines on stdout and leaving a JSON summary in
// the container's termination message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// Process exit codes, so a caller that only sees the pod phase can still
// tell the classes apart.
const (
	exitSuccess   = 0
	exitPermanent = 1
	exitUsage     = 2
	exitRetryable = 75 // EX_TEMPFAIL from sysexits.h
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var logFlags cliutil.LogFlags
	logFlags.Register(fs)
	var runtimeFlags cliutil.RuntimeFlags
	runtimeFlags.Register(fs)
	agentAddr := fs.String("agent-addr", cliutil.Env("DRSYNCER_AGENT_ADDR", ""), "agent host:port on the source node (env DRSYNCER_AGENT_ADDR); required")
	hostKeyFile := fs.String("agent-host-key-file", cliutil.Env("DRSYNCER_AGENT_HOST_KEY_PUB", "/etc/dr-syncer/agent-host-key/"+keys.HostKeysFile),
		"the agent's public host keys to pin, authorized_keys format, one per line: current and, during a rotation, previous (env DRSYNCER_AGENT_HOST_KEY_PUB)")
	clientKeyFile := fs.String("client-key-file", cliutil.Env("DRSYNCER_CLIENT_KEY", "/etc/dr-syncer/op-key/"+keys.OpKeyFile),
		"per-operation private key, OpenSSH PEM (env DRSYNCER_CLIENT_KEY)")
	clientCertFile := fs.String("client-cert-file", cliutil.Env("DRSYNCER_CLIENT_CERT", "/etc/dr-syncer/op-key/"+keys.OpCertFile),
		"its certificate, signed by the cluster-pair key and bound to --target (env DRSYNCER_CLIENT_CERT)")
	target := fs.String("target", cliutil.Env("DRSYNCER_TARGET", ""),
		"mount pod rsync daemon as seen from the agent: ip:port, or NAMESPACE/POD:port, which the agent's API allow-list resolves (env DRSYNCER_TARGET); required")
	targetWait := fs.Duration("target-wait", mover.DefaultTargetWait, "how long to wait for the mount pod to become reachable through the agent")
	module := fs.String("module", cliutil.Env("DRSYNCER_RSYNC_MODULE", "data"),
		"rsync module to ask the mount pod for; a batch's mount pod serves one per volume (env DRSYNCER_RSYNC_MODULE)")
	credDir := cliutil.Env("DRSYNCER_RSYNC_CREDENTIALS_DIR", "/etc/dr-syncer/rsync")
	userFile := fs.String("rsync-user-file", filepath.Join(credDir, keys.RsyncUserFile), "file holding the per-operation rsync user (mounted Secret)")
	passwordFile := fs.String("rsync-password-file", filepath.Join(credDir, keys.RsyncPasswordFile), "file holding the per-operation rsync password (mounted Secret)")
	dest := fs.String("dest", cliutil.Env("DRSYNCER_DEST", "/data"), "target volume mount point (env DRSYNCER_DEST)")
	rsyncPath := fs.String("rsync", "rsync", "rsync binary")
	configJSON := fs.String("config-json", cliutil.Env("DRSYNCER_SYNC_CONFIG", ""),
		`dataSyncConfig as JSON, e.g. {"bandwidthLimit":10240,"excludePaths":["cache"],"verificationMode":"sample","samplePercent":5,"parallelStreams":2,"timeout":"2h"} (env DRSYNCER_SYNC_CONFIG); the flags below override its fields`)
	bwlimit := fs.Int64("bwlimit", 0, "bandwidth limit in KiB/s; 0 is unlimited")
	var excludes, options cliutil.StringList
	fs.Var(&excludes, "exclude", "path relative to the volume root to leave out (repeatable)")
	fs.Var(&options, "rsync-option", "extra rsync option from the allow-list, e.g. --whole-file (repeatable)")
	verification := fs.String("verification", "", "verification mode: none, sample or full")
	samplePercent := fs.Int("sample-percent", 0, "percent of files checksummed in sample mode")
	streams := fs.Int("parallel-streams", 0, "rsync streams split by top-level directory")
	timeout := fs.Duration("timeout", 0, "overall sync timeout; 0 is none")
	terminationLog := fs.String("termination-log", cliutil.Env("DRSYNCER_TERMINATION_LOG", "/dev/termination-log"), "where to write the final JSON summary; empty disables (env DRSYNCER_TERMINATION_LOG)")
	interval := fs.Duration("progress-interval", time.Second, "minimum time between progress lines")
	var claimFlags, acceptFor cliutil.StringList
	fs.Var(&claimFlags, "claim", "MODULE=DIR: fill DIR from MODULE, beside the other --claim volumes, all at once (repeatable; a batch sync pod's one mover). "+
		"Replaces --module and --dest; every output line then carries its module as \"claim\"")
	fs.Var(&acceptFor, "accept-source-change-for", "MODULE: --accept-source-change for that --claim volume alone (repeatable)")
	acceptChange := fs.Bool("accept-source-change", cliutil.Env("DRSYNCER_ACCEPT_SOURCE_CHANGE", "") == "true",
		"a person accepted the source's change: sync even if the source holds under 10% of the DR copy's files, with no deletion limit (env DRSYNCER_ACCEPT_SOURCE_CHANGE=true)")
	cliutil.Usage(fs, `mover: copies a source volume into --dest through the dr-syncer agent.

Usage: mover --agent-addr=NODE:2222 --target=MOUNTPOD_IP:8873|NAMESPACE/MOUNTPOD:8873 [flags]

Dials the agent with the cluster-pair key (host key pinned, AES-GCM), forwards
a local port over SSH to the mount pod's rsync daemon and runs rsync into
--dest. stdout carries JSON lines: {"type":"progress",...} at most once per
--progress-interval, then one {"type":"summary",...}, which is also written
to --termination-log. Exit status: 0 success, 75 retryable failure (network,
timeouts, interruption), 1 permanent failure (configuration, keys, target
I/O, verification, data guard), 2 usage error.

Many volumes: with --claim MODULE=DIR for each (a batch sync pod), one mover
fills them all at once, each with its own connection, data guard and
summary. Every stdout line carries its volume's module as "claim"; once all
have ended, their summaries are printed again as the last lines. It exits
with the worst volume's status.

Data guard: when --dest already holds files, a dry run first counts the
source's regular files and the deletions. A source holding under 10% of the
DR copy's regular files (an emptied or re-created volume) is refused before
any byte moves: the summary's "guard" names the counts with reason
SourceShrank. Otherwise the copy runs with --max-delete set to the deletions
seen plus 1% of the DR copy's files. --accept-source-change (env
DRSYNCER_ACCEPT_SOURCE_CHANGE=true), set only from a person's decision, lifts
both.`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitSuccess
		}
		return exitUsage
	}
	usage := func(err error) int {
		fmt.Fprintln(stderr, "mover:", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *agentAddr == "" || *target == "" {
		return usage(errors.New("--agent-addr and --target are required"))
	}
	claims, err := parseClaims(fs, claimFlags, acceptFor)
	if err != nil {
		return usage(err)
	}
	if len(claims) > 0 && *acceptChange {
		// A person accepts one volume's change, never a batch's.
		return usage(errors.New("--accept-source-change (or DRSYNCER_ACCEPT_SOURCE_CHANGE) names no volume; with --claim, give --accept-source-change-for MODULE"))
	}
	// The controller's config is an rsyncargs.Config, marshalled once by the
	// Transfer activity: decode it as it is.
	var cfg rsyncargs.Config
	if *configJSON != "" {
		if err := json.Unmarshal([]byte(*configJSON), &cfg); err != nil {
			return usage(err)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "bwlimit":
			cfg.BandwidthLimitKiB = *bwlimit
		case "exclude":
			cfg.ExcludePaths = excludes
		case "rsync-option":
			cfg.RsyncOptions = options
		case "verification":
			cfg.VerificationMode = rsyncargs.VerificationMode(*verification)
		case "sample-percent":
			cfg.SamplePercent = *samplePercent
		case "parallel-streams":
			cfg.ParallelStreams = *streams
		case "timeout":
			cfg.Timeout = rsyncargs.Duration(*timeout)
		}
	})
	log, err := logFlags.Logger()
	if err != nil {
		return usage(err)
	}
	defer func() { _ = log.Sync() }()
	runtimeFlags.Apply(log)

	reporter := progress.NewReporter(os.Stdout, progress.ReporterOptions{Interval: *interval})
	fail := func(err error) int {
		// Missing keys or credentials: the Secrets are wrong, not the weather.
		sum := progress.Summary{
			Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: rsyncargs.NotRun, Reason: "cannot load keys or credentials"},
			Error:   err.Error(),
		}
		if len(claims) > 0 {
			return endClaims(log, claimSummaries(claims, sum), claims, *terminationLog)
		}
		_ = reporter.Summary(sum)
		writeTermination(log, *terminationLog, sum)
		return exitPermanent
	}
	clientKey, hostKeys, err := keys.LoadClientIdentity(*clientKeyFile, *clientCertFile, *hostKeyFile)
	if err != nil {
		return fail(err)
	}
	creds, err := keys.LoadRsyncCredentials(*userFile, *passwordFile)
	if err != nil {
		return fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := mover.Options{
		Agent:              mover.AgentOptions{Addr: *agentAddr, ClientKey: clientKey, HostKeys: hostKeys},
		Target:             *target,
		TargetWait:         *targetWait,
		Module:             *module,
		Credentials:        creds,
		Dest:               *dest,
		Config:             cfg,
		RsyncPath:          *rsyncPath,
		AcceptSourceChange: *acceptChange,
		Reporter:           reporter,
		Logger:             log,
	}
	if len(claims) > 0 {
		return runClaims(ctx, log, opts, claims, *interval, *terminationLog)
	}
	sum := mover.Run(ctx, opts)
	writeTermination(log, *terminationLog, sum)
	return exitCode(sum.Outcome)
}

func exitCode(o rsyncargs.Outcome) int {
	switch o.Class {
	case rsyncargs.ClassSuccess:
		return exitSuccess
	case rsyncargs.ClassRetryable:
		return exitRetryable
	default:
		return exitPermanent
	}
}

func writeTermination(log *zap.Logger, path string, sum progress.Summary) {
	if path == "" {
		return
	}
	if err := progress.WriteTerminationMessage(path, sum); err != nil {
		log.Warn("termination message not written", zap.Error(err))
	}
}
