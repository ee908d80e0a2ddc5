// Package rsyncargs turns a data-sync configuration into an rsync argv and
// classifies rsync exit codes. Everything here is pure: no processes, no I/O,
// so the exact flags the mover runs are table-tested and fuzzed.
package rsyncargs

import (
	"errors"
	"fmt"
	"time"
)

// VerificationMode says how the copy is checked after rsync's normal
// size+mtime comparison.
type VerificationMode string

const (
	// VerifyNone trusts rsync's size+mtime quick check.
	VerifyNone VerificationMode = "none"
	// VerifySample checksums SamplePercent% of the files after the copy.
	VerifySample VerificationMode = "sample"
	// VerifyFull runs the transfer itself with --checksum.
	VerifyFull VerificationMode = "full"
)

// DefaultIOTimeout is rsync's --timeout when Config.IOTimeout is zero: long
// enough for the sender to checksum a big file without sending anything, short
// enough that a dead link is noticed within one heartbeat window.
const DefaultIOTimeout = 5 * time.Minute

// DefaultConnectTimeout bounds the rsync daemon handshake (--contimeout).
const DefaultConnectTimeout = 30 * time.Second

// MaxParallelStreams caps parallelStreams: each stream is an rsync process
// pair plus a channel on the one SSH connection.
const MaxParallelStreams = 16

// Config mirrors the data-movement fields of the Replication's
// pvcConfig.dataSyncConfig (DESIGN §2). It is a plain struct on purpose: the
// data plane knows nothing of the Kubernetes API types.
type Config struct {
	// BandwidthLimitKiB is --bwlimit in KiB/s; 0 means unlimited.
	BandwidthLimitKiB int64
	// ExcludePaths are paths relative to the volume root (wildcards allowed);
	// each becomes an anchored --exclude.
	ExcludePaths []string
	// RsyncOptions are extra rsync options, checked against an allow-list.
	RsyncOptions []string
	// VerificationMode is none (default), sample or full.
	VerificationMode VerificationMode
	// SamplePercent is the share of files checksummed in sample mode (1-100).
	SamplePercent int
	// ParallelStreams splits the volume by top-level directory into N rsync
	// processes over one SSH connection; 0 or 1 means one stream.
	ParallelStreams int
	// Timeout bounds the whole sync; enforced by the mover, not by rsync.
	Timeout time.Duration
	// IOTimeout is rsync's --timeout (no data for this long fails the
	// transfer with exit code 30); 0 means DefaultIOTimeout.
	IOTimeout time.Duration
}

// Streams is the effective number of parallel rsync streams.
func (c Config) Streams() int {
	if c.ParallelStreams < 1 {
		return 1
	}
	return c.ParallelStreams
}

// Mode is the effective verification mode ("" means none).
func (c Config) Mode() VerificationMode {
	if c.VerificationMode == "" {
		return VerifyNone
	}
	return c.VerificationMode
}

// Validate reports every problem in c, so a user fixing a spec sees all of
// them at once. All errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if c.BandwidthLimitKiB < 0 {
		errs = append(errs, fmt.Errorf("bandwidthLimit %d: must not be negative", c.BandwidthLimitKiB))
	}
	for _, p := range c.ExcludePaths {
		if _, err := ExcludePattern(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range c.RsyncOptions {
		if err := CheckOption(o); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Mode() {
	case VerifyNone, VerifyFull:
	case VerifySample:
		if c.SamplePercent < 1 || c.SamplePercent > 100 {
			errs = append(errs, fmt.Errorf("samplePercent %d: must be 1-100 in sample mode", c.SamplePercent))
		}
	default:
		errs = append(errs, fmt.Errorf("verificationMode %q: must be none, sample or full", c.VerificationMode))
	}
	if c.ParallelStreams < 0 || c.ParallelStreams > MaxParallelStreams {
		errs = append(errs, fmt.Errorf("parallelStreams %d: must be 0-%d", c.ParallelStreams, MaxParallelStreams))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: must not be negative", c.Timeout))
	}
	if c.IOTimeout < 0 {
		errs = append(errs, fmt.Errorf("ioTimeout %s: must not be negative", c.IOTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// ErrInvalidConfig marks a configuration the user must fix; retrying cannot help.
var ErrInvalidConfig = errors.New("invalid data sync config")
