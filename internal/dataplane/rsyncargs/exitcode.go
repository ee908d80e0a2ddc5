package rsyncargs

import "fmt"

// Class says what the caller should do with a finished rsync run.
type Class string

const (
	// ClassSuccess: the copy is complete.
	ClassSuccess Class = "success"
	// ClassRetryable: the network, the peer or the process was interrupted;
	// running again (with --partial --inplace) continues where it stopped.
	ClassRetryable Class = "retryable"
	// ClassPermanent: the same run would fail the same way; a human (or a
	// spec change) must act.
	ClassPermanent Class = "permanent"
)

// Outcome is a classified rsync exit.
type Outcome struct {
	Class Class `json:"class"`
	// ExitCode is rsync's exit code, SignalExit or NotRun.
	ExitCode int    `json:"exitCode"`
	Reason   string `json:"reason"`
}

// Worse returns the more severe of two outcomes (permanent > retryable >
// success), for merging parallel streams.
func Worse(a, b Outcome) Outcome {
	rank := map[Class]int{ClassSuccess: 0, ClassRetryable: 1, ClassPermanent: 2}
	if rank[b.Class] > rank[a.Class] {
		return b
	}
	return a
}

// Retryable reports whether running again can help.
func (o Outcome) Retryable() bool { return o.Class == ClassRetryable }

// SignalExit is the exit code os/exec reports for a process killed by a signal.
const SignalExit = -1

// ExitMaxDelete is rsync's exit code when --max-delete stopped deletions.
const ExitMaxDelete = 25

// NotRun is the ExitCode of an Outcome decided outside rsync (bad config,
// unreachable agent, failed verification).
const NotRun = -2

type exitInfo struct {
	class  Class
	reason string
}

// exitCodes follows the EXIT VALUES section of rsync(1). The class of each
// code is argued next to it.
var exitCodes = map[int]exitInfo{
	0: {ClassSuccess, "success"},
	// Our argv is generated; a usage error means a bad option or endpoint
	// that the next run would repeat.
	1: {ClassPermanent, "syntax or usage error"},
	// Client and server rsync versions cannot talk; only an image change helps.
	2: {ClassPermanent, "protocol incompatibility"},
	// The source or destination path cannot be selected (missing module path,
	// destination not a directory): configuration, not weather.
	3: {ClassPermanent, "errors selecting input/output files, dirs"},
	// 64-bit files unsupported, or an option the server lacks: versions again.
	4: {ClassPermanent, "requested action not supported"},
	// The daemon greeting failed: daemon not up yet, "max connections"
	// reached, or per-operation credentials not yet propagated to the Secret
	// volume. These heal; a real misconfiguration exhausts the retry budget.
	5: {ClassRetryable, "error starting client-server protocol"},
	// The daemon cannot write its log file: a mount pod configuration bug.
	6: {ClassPermanent, "daemon unable to append to log-file"},
	// Socket read/write failed: the network or a peer went away.
	10: {ClassRetryable, "error in socket I/O"},
	// Reading or writing files failed, typically on the target (disk full,
	// read-only or broken filesystem): needs a bigger or repaired volume.
	11: {ClassPermanent, "error in file I/O"},
	// The stream was cut or garbled mid-transfer; in practice "connection
	// unexpectedly closed" when a hop (agent, pod) dies.
	12: {ClassRetryable, "error in rsync protocol data stream"},
	// rsync's own diagnostics failed: a bug or broken environment, not transient.
	13: {ClassPermanent, "errors with program diagnostics"},
	// fork/pipe failures are resource exhaustion on the node; they pass.
	14: {ClassRetryable, "error in IPC code"},
	// A sibling process crashed or was killed (OOM killer, eviction).
	15: {ClassRetryable, "sibling process crashed"},
	16: {ClassRetryable, "sibling process was killed by a signal"},
	// Signals mean someone stopped the run (pod eviction, node drain, cancel);
	// the transfer itself was fine.
	19: {ClassRetryable, "received SIGUSR1"},
	20: {ClassRetryable, "received SIGINT, SIGTERM, or SIGHUP"},
	21: {ClassRetryable, "some error returned by waitpid()"},
	// Memory pressure on the node is usually transient.
	22: {ClassRetryable, "error allocating core memory buffers"},
	// Some files could not be read or written (permission denied on the
	// source, unsupported xattrs on the target): they fail again next time.
	23: {ClassPermanent, "partial transfer due to error"},
	// Files disappeared while a live volume was copied. Everything that still
	// exists was copied; retrying a busy volume would loop forever, so this
	// counts as success and the reason says so.
	24: {ClassSuccess, "partial transfer due to vanished source files (live volume)"},
	// --max-delete refused to delete more. The mover passes the data guard's
	// allowance, computed by a dry run just before: more deletions now means
	// the source changed in between, and the next run checks again. (When
	// only the user's own rsyncOptions limit was in force, the mover reports
	// a permanent outcome instead: that limit trips the same way every time.)
	ExitMaxDelete: {ClassRetryable, "the --max-delete allowance stopped deletions: the source changed after the pre-flight check; the next run checks again"},
	// No data for --timeout seconds: a stalled link.
	30: {ClassRetryable, "timeout in data send/receive"},
	// The daemon did not answer within --contimeout.
	35: {ClassRetryable, "timeout waiting for daemon connection"},
	// Exit status of a failed remote shell; the tunnel broke.
	255: {ClassRetryable, "remote shell failed"},
}

// ClassifyExit maps an rsync exit code to an Outcome. SignalExit (killed by a
// signal, e.g. SIGKILL from the OOM killer or a timeout) is retryable.
// Unknown codes are permanent: retrying something nobody understands only
// hides it.
func ClassifyExit(code int) Outcome {
	if code == SignalExit {
		return Outcome{Class: ClassRetryable, ExitCode: code, Reason: "rsync killed by a signal"}
	}
	if info, ok := exitCodes[code]; ok {
		return Outcome{Class: info.class, ExitCode: code, Reason: info.reason}
	}
	return Outcome{Class: ClassPermanent, ExitCode: code, Reason: fmt.Sprintf("unknown rsync exit code %d", code)}
}
