package workflows

import (
	"time"

	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// The metrics of the cluster-wide permit (a RemoteCluster's
// globalConcurrencyLimit), in the worker's scope (prefix drsyncer_worker;
// docs/metrics.md). Labels name the RemoteCluster as the controller's agent
// series do, so the two join.
const (
	// histogramPermitWait gets its _seconds from the Prometheus naming scope.
	histogramPermitWait = "cluster_permit_wait"
	gaugePermitsHeld    = "cluster_permits_held"
	gaugePermitQueue    = "cluster_permit_queue"
	gaugePermitLimit    = "cluster_permit_limit"
	gaugePermitUpdated  = "cluster_permit_updated_timestamp_seconds"
)

func clusterTags(cluster contract.ClusterRef) map[string]string {
	return map[string]string{"remotecluster_namespace": cluster.Namespace, "remotecluster": cluster.Name}
}

// recordPermitWait records how long a PVC sync (or a run, for one of the
// permits it holds for its syncs) waited for its source cluster's permit, from its first request to the grant, re-requests
// included. The Replication's labels are bounded too (one source cluster
// each, two with a failback) and say whose syncs queue.
func recordPermitWait(ctx workflow.Context, cluster contract.ClusterRef, replication contract.ObjectRef, asked time.Time) {
	// A histogram needs the tally scope under the handler, which does not
	// skip replays: the check is ours.
	if workflow.IsReplaying(ctx) {
		return
	}
	tags := clusterTags(cluster)
	tags["replication_namespace"], tags["replication"] = replication.Namespace, replication.Name
	scope := sdktally.ScopeFromHandler(workflow.GetMetricsHandler(ctx)).Tagged(tags)
	// The slot buckets fit: a permit, too, is freed by a transfer ending.
	scope.Histogram(histogramPermitWait, slotWaitBuckets).RecordDuration(workflow.Now(ctx).Sub(asked))
}

// permitGauges shows a cluster semaphore's state on the worker that runs
// it. Gauges are not commands, so recorded histories replay unchanged, and
// the SDK's handler reports nothing while replaying.
//
// The semaphore can move to another worker (a restart, a cache eviction, a
// sticky task that timed out). The first worker keeps its last values, as
// tally cannot drop a series, and no `max by` or `sum by` across workers can
// tell that stale value from the live one. So each update also sets
// cluster_permit_updated_timestamp_seconds, and the semaphore updates at
// least every semaphoreAudit while anything is held or queued: a series
// whose timestamp is older than a few audits is stale and queries drop it
// (docs/metrics.md). An idle semaphore stops updating, its zeros go stale
// too, and no fresh series then reads as nothing held or queued, which is
// what it means.
type permitGauges struct {
	tags map[string]string
}

// newPermitGauges labels the gauges with the cluster named by the
// semaphore's workflow ID; a semaphore started under another ID has no
// cluster to name and shows nothing.
func newPermitGauges(ctx workflow.Context) *permitGauges {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	cluster, ok := contract.ClusterOfSemaphore(id)
	if !ok {
		workflow.GetLogger(ctx).Warn("semaphore workflow ID names no RemoteCluster; its permit gauges are not reported",
			"workflowID", id, "want", contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: "NAMESPACE", Name: "NAME"}))
		return nil
	}
	return &permitGauges{tags: clusterTags(cluster)}
}

// show reports the state; call it after every change.
func (g *permitGauges) show(ctx workflow.Context, state contract.SemaphoreState) {
	if g == nil {
		return
	}
	// The SDK's handler skips replays itself.
	m := workflow.GetMetricsHandler(ctx).WithTags(g.tags)
	m.Gauge(gaugePermitsHeld).Update(float64(len(state.Holders)))
	m.Gauge(gaugePermitQueue).Update(float64(len(state.Waiting)))
	m.Gauge(gaugePermitLimit).Update(float64(max(state.Limit, 1))) // grant() treats a 0 limit as 1
	m.Gauge(gaugePermitUpdated).Update(float64(workflow.Now(ctx).Unix()))
}
