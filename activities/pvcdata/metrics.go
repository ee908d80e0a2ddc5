package pvcdata

import (
	"time"

	"github.com/uber-go/tally/v4"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// The gauges of a running transfer, in the worker's scope (prefix
// drsyncer_worker). Their labels are bounded: the Replication and the PVC,
// never a file, run or workflow ID. docs/metrics.md lists them.
const (
	gaugeRunning      = "pvc_sync_running"
	gaugeDoneBytes    = "pvc_sync_done_bytes"
	gaugeSizeBytes    = "pvc_sync_size_bytes"
	gaugeRatio        = "pvc_sync_progress_ratio"
	gaugeRate         = "pvc_sync_rate_bytes_per_second"
	gaugeLastProgress = "pvc_sync_last_progress_timestamp_seconds"
)

// transferGauges shows one transfer attempt on this worker's /metrics. A nil
// one (a worker built without metrics) shows nothing.
type transferGauges struct {
	running, done, size, ratio, rate, lastProgress tally.Gauge
	now                                            func() time.Time
	// last is the newest snapshot with figures: a heartbeat while the pod
	// starts or the mover finishes carries none, and must not show 0 bytes.
	last progress.Snapshot
}

// transferLabels names the transfer's Replication and PVC. The PVC is the
// Replication's name for it (the source PVC's), or the DR PVC's in syncs
// that report to no run. Steps scheduled before runs named their authority
// have no Replication, and show empty labels for it.
func transferLabels(in contract.TransferInput) map[string]string {
	labels := map[string]string{"replication_namespace": "", "replication": "", "pvc": in.PVC.Name}
	if in.Authority != nil {
		labels["replication_namespace"], labels["replication"] = in.Authority.Replication.Namespace, in.Authority.Replication.Name
	}
	if in.Progress != nil && in.Progress.PVC != "" {
		labels["pvc"] = in.Progress.PVC
	}
	return labels
}

// startTransferGauges marks the transfer running, with no bytes yet; the
// start counts as progress, so a transfer that never moves is seen stalled
// from its start on.
func startTransferGauges(scope tally.Scope, in contract.TransferInput, now func() time.Time) *transferGauges {
	if scope == nil {
		return nil
	}
	s := scope.Tagged(transferLabels(in))
	g := &transferGauges{
		running: s.Gauge(gaugeRunning), done: s.Gauge(gaugeDoneBytes), size: s.Gauge(gaugeSizeBytes),
		ratio: s.Gauge(gaugeRatio), rate: s.Gauge(gaugeRate), lastProgress: s.Gauge(gaugeLastProgress), now: now,
	}
	g.running.Update(1)
	g.figures(progress.Snapshot{})
	g.lastProgress.Update(unixSeconds(now()))
	return g
}

// observe shows a heartbeat's figures; a change of bytes or files is progress.
func (g *transferGauges) observe(s progress.Snapshot) {
	if g == nil || s == (progress.Snapshot{}) {
		return
	}
	if s.BytesDone != g.last.BytesDone || s.FilesDone != g.last.FilesDone || s.FilesTransferred != g.last.FilesTransferred {
		g.lastProgress.Update(unixSeconds(g.now()))
	}
	g.last = s
	g.figures(s)
}

// end shows the transfer stopped, however it ended. The series stay (tally
// cannot drop them) at 0, so a finished sync is not read as a running one;
// the last-progress time is kept, as the fact it is.
func (g *transferGauges) end() {
	if g == nil {
		return
	}
	g.running.Update(0)
	g.figures(progress.Snapshot{})
}

func (g *transferGauges) figures(s progress.Snapshot) {
	g.done.Update(float64(s.BytesDone))
	g.size.Update(float64(s.BytesTotal))
	g.ratio.Update(progressRatio(s))
	g.rate.Update(max(s.RateBytesPerSec, 0))
}

// progressRatio is the share of the transfer done, 0 to 1: bytes over the
// expected total, or rsync's percent while the total is unknown.
func progressRatio(s progress.Snapshot) float64 {
	r := s.Percent / 100
	if s.BytesTotal > 0 {
		r = float64(s.BytesDone) / float64(s.BytesTotal)
	}
	return min(max(r, 0), 1)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
