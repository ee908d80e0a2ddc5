package workflows

import (
	"time"

	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// The metrics of a run's PVC syncs that wait for one of its concurrentSyncs
// slots, in the worker's scope (prefix drsyncer_worker; docs/metrics.md).
const (
	gaugeSlotWaiting = "sync_slot_waiting"
	// histogramSlotWait gets its _seconds from the Prometheus naming scope.
	histogramSlotWait = "sync_slot_wait"
)

// slotWaitBuckets span a slot freed by a small PVC to one held by a
// day-long transfer.
var slotWaitBuckets = tally.DurationBuckets{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour,
}

// slotMetrics reports one run's slot queue. Nothing here is a command, so
// recorded histories replay unchanged; nothing is reported while replaying.
type slotMetrics struct {
	ctx    workflow.Context
	tags   map[string]string
	queued time.Time
}

func newSlotMetrics(ctx workflow.Context, replication contract.ObjectRef) *slotMetrics {
	return &slotMetrics{ctx: ctx, queued: workflow.Now(ctx),
		tags: map[string]string{"replication_namespace": replication.Namespace, "replication": replication.Name}}
}

// waiting shows how many of the run's PVC syncs wait for a slot.
func (m *slotMetrics) waiting(n int) {
	// The SDK's handler skips replays itself.
	workflow.GetMetricsHandler(m.ctx).WithTags(m.tags).Gauge(gaugeSlotWaiting).Update(float64(n))
}

// started records how long a PVC sync waited for its slot, from the start
// of the run's data phase.
func (m *slotMetrics) started() {
	// A histogram needs the tally scope under the handler, which does not
	// skip replays: the check is ours.
	if workflow.IsReplaying(m.ctx) {
		return
	}
	scope := sdktally.ScopeFromHandler(workflow.GetMetricsHandler(m.ctx)).Tagged(m.tags)
	scope.Histogram(histogramSlotWait, slotWaitBuckets).RecordDuration(workflow.Now(m.ctx).Sub(m.queued))
}
