package resolve

import (
	"errors"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	errs = append(errs, hooksProblems(spec)...)
	if len(errs) > 0 {
		return rsyncargs.Config{}, fmt.Errorf("spec.pvcConfig.dataSyncConfig: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// hooksProblems checks what the CRD's schema cannot: that hooks come with a
// copy method that has a moment to freeze around, and that their timeouts
// parse.
func hooksProblems(spec *drv1.DataSyncConfig) []error {
	h := spec.Hooks
	if h == nil {
		return nil
	}
	var errs []error
	if spec.CopyMethod != "" && spec.CopyMethod != drv1.CopySnapshot {
		errs = append(errs, fmt.Errorf("hooks need copyMethod Snapshot (or unset), not %s: a freeze hook brackets the instant a snapshot is taken", spec.CopyMethod))
	}
	if h.Freeze == nil && h.Thaw == nil {
		errs = append(errs, errors.New("hooks: set freeze, thaw or both, or remove hooks"))
	}
	if _, err := metav1.LabelSelectorAsSelector(&h.Selector); err != nil {
		errs = append(errs, fmt.Errorf("hooks.selector: %v", err))
	}
	for i, cmd := range []*drv1.HookCommand{h.Freeze, h.Thaw} {
		if cmd == nil {
			continue
		}
		name := []string{"freeze", "thaw"}[i]
		if d, err := time.ParseDuration(string(cmd.Timeout)); cmd.Timeout != "" && (err != nil || d <= 0) {
			errs = append(errs, fmt.Errorf("hooks.%s.timeout %q: write a positive Go duration such as 30s or 2m", name, cmd.Timeout))
		}
	}
	return errs
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
