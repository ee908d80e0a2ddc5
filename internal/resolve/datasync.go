package resolve

import (
	"errors"
	"fmt"
	"slices"
	"time"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// DataSync turns a Replication's (defaulted) pvcConfig.dataSyncConfig into
// the data plane's config and validates it: the one conversion and the one
// validation between the API and the rsync argv. A nil spec is the empty
// config. The error names each wrong field and what to fix; the caller
// reports it as a spec a user must fix.
//
// ConcurrentSyncs is not the data plane's: it bounds how many PVC syncs a
// run starts, which the workflow reads from the plan's spec.
func DataSync(spec *drv1.DataSyncConfig) (rsyncargs.Config, error) {
	if spec == nil {
		return rsyncargs.Config{}, nil
	}
	var errs []error
	cfg := rsyncargs.Config{
		BandwidthLimitKiB: spec.BandwidthLimit,
		ExcludePaths:      slices.Clone(spec.ExcludePaths),
		RsyncOptions:      slices.Clone(spec.RsyncOptions),
		VerificationMode:  verificationMode(spec.VerificationMode),
		SamplePercent:     int(spec.SamplePercent),
		ParallelStreams:   int(spec.ParallelStreams),
	}
	if spec.Timeout != "" {
		d, err := time.ParseDuration(string(spec.Timeout))
		if err != nil {
			errs = append(errs, fmt.Errorf("timeout %q: write a Go duration such as 90s, 30m or 2h", spec.Timeout))
		}
		cfg.Timeout = rsyncargs.Duration(d)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return rsyncargs.Config{}, fmt.Errorf("spec.pvcConfig.dataSyncConfig: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// verificationMode maps the API's enum onto the data plane's. A value the
// CRD would not admit is passed on as it is, so Validate names it.
func verificationMode(m drv1.VerificationMode) rsyncargs.VerificationMode {
	switch m {
	case "":
		return ""
	case drv1.VerifyNone:
		return rsyncargs.VerifyNone
	case drv1.VerifySample:
		return rsyncargs.VerifySample
	case drv1.VerifyFull:
		return rsyncargs.VerifyFull
	default:
		return rsyncargs.VerificationMode(m)
	}
}
