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

// Config is the data plane's one data-sync configuration: built and
// validated from the Replication's pvcConfig.dataSyncConfig once, when a run
// is planned (internal/resolve.DataSync), carried typed through the workflow
// to the sync pod, and decoded there by the mover. It is a plain struct on
// purpose: the data plane knows nothing of the Kubernetes API types.
//
// Its JSON is part of the workflow history format: the names are those of
// the API's dataSyncConfig, which histories recorded before this type
// travelled carry, so they decode into it. Never rename one.
type Config struct {
	// BandwidthLimitKiB is --bwlimit in KiB/s; 0 means unlimited.
	BandwidthLimitKiB int64 `json:"bandwidthLimit,omitempty"`
	// ExcludePaths are paths relative to the volume root (wildcards allowed);
	// each becomes an anchored --exclude.
	ExcludePaths []string `json:"excludePaths,omitempty"`
	// RsyncOptions are extra rsync options, checked against an allow-list.
	RsyncOptions []string `json:"rsyncOptions,omitempty"`
	// VerificationMode is none (default), sample or full.
	VerificationMode VerificationMode `json:"verificationMode,omitempty"`
	// SamplePercent is the share of files checksummed in sample mode (1-100).
	SamplePercent int `json:"samplePercent,omitempty"`
	// ParallelStreams splits the volume by top-level directory into N rsync
	// processes over one SSH connection; 0 or 1 means one stream.
	ParallelStreams int `json:"parallelStreams,omitempty"`
	// Timeout bounds the whole sync; enforced by the mover, not by rsync.
	Timeout Duration `json:"timeout,omitempty"`
	// IOTimeout is rsync's --timeout (no data for this long fails the
	// transfer with exit code 30); 0 means DefaultIOTimeout.
	IOTimeout Duration `json:"ioTimeout,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("1h30m0s"), the form of the API's dataSyncConfig.timeout.
type Duration time.Duration

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string; an empty one is zero.
func (d *Duration) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: write a Go duration such as 90s, 10m or 1h30m", b)
	}
	*d = Duration(v)
	return nil
}

// String is the Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

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
			errs = append(errs, fmt.Errorf("excludePaths: %w", err))
		}
	}
	for _, o := range c.RsyncOptions {
		if err := CheckOption(o); err != nil {
			errs = append(errs, fmt.Errorf("rsyncOptions: %w", err))
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
