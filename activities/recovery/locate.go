package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// ProbeTimeout bounds ProbeCluster: a source that takes longer to answer
// than this is no source to run a planned failover against.
const ProbeTimeout = 10 * time.Second

// runCompleted is the lastRun result of a run that succeeded.
const runCompleted = "Completed"

// LocateRecovery says where a Replication's workloads run and how they
// move. Like LocateDRCopies it works while the ClusterMapping is paused: a
// failover is exactly when syncs may have been stopped. A reference a user
// must fix is a non-retryable InvalidSpec error.
func (a *RecoveryActivities) LocateRecovery(ctx context.Context, ref contract.ObjectRef) (contract.RecoveryTarget, error) {
	res, err := resolve.Replication(ctx, a.Control, a.SystemNamespace, ref)
	if p, ok := resolve.IsProblem(err); ok {
		return contract.RecoveryTarget{}, activities.InvalidSpec("Replication %s: %s", ref, p.Message)
	}
	if err != nil {
		return contract.RecoveryTarget{}, err
	}
	return recoveryTarget(res), nil
}

// recoveryTarget reads a resolved Replication into a RecoveryTarget.
func recoveryTarget(res *resolve.Resolved) contract.RecoveryTarget {
	r := res.Replication
	spec := r.Spec.DeepCopy()
	drv1.SetReplicationDefaults(spec)
	loc := resolve.DRLocation(res)
	t := contract.RecoveryTarget{
		Replication:          contract.ObjectRef{Namespace: r.Namespace, Name: r.Name},
		Source:               contract.ClusterRef{Namespace: r.Namespace, Name: res.Source.Name},
		Destination:          loc.Destination,
		SourceNamespace:      spec.SourceNamespace,
		DestinationNamespace: loc.Namespace,
		Mode:                 string(spec.ReplicationMode),
		ActiveSide:           contract.SideSource,
		SourceProblem:        clusterProblem(res.Source),
		DataAsOf:             dataAsOf(&r.Status),
		// A sync still running may be writing DR this moment: DR is whole
		// only if the last run completed and none is running.
		LastSyncComplete: r.Status.LastRun != nil && r.Status.LastRun.Result == runCompleted && r.Status.CurrentRun == nil,
	}
	if f := r.Status.Failover; f != nil && f.ActiveSide != "" {
		t.ActiveSide = f.ActiveSide
	}
	return t
}

// clusterProblem says why a RemoteCluster is not Ready, or "" when it is.
func clusterProblem(rc *drv1.RemoteCluster) string {
	c := meta.FindStatusCondition(rc.Status.Conditions, drv1.ConditionReady)
	switch {
	case c == nil:
		return fmt.Sprintf("RemoteCluster %s has no Ready condition yet", rc.Name)
	case c.Status == metav1.ConditionTrue:
		return ""
	case c.Message == "":
		return c.Reason
	}
	return fmt.Sprintf("%s: %s", c.Reason, c.Message)
}

// dataAsOf is the start of the last successful sync: DR holds the source's
// data from then on. The controller records the last run's start only for
// the last run; when that run failed, the last success is known by its end
// and its duration, and failing that by its end alone (later than the
// truth, so the data age it gives errs on the small side).
func dataAsOf(st *drv1.ReplicationStatus) time.Time {
	if r := st.LastRun; r != nil && r.Result == runCompleted && r.StartTime != nil {
		return r.StartTime.Time
	}
	if st.LastSyncTime == nil {
		return time.Time{}
	}
	end := st.LastSyncTime.Time
	if st.SyncStats != nil {
		if d, err := time.ParseDuration(st.SyncStats.LastSyncDuration); err == nil && d > 0 {
			return end.Add(-d)
		}
	}
	return end
}

// ProbeCluster asks the cluster for its version, within ProbeTimeout. A
// cluster that does not answer is a non-retryable Unreachable error: the
// workflow decides on an unplanned failover from it, and retrying a dead
// cluster only delays that. A cluster that answers but refuses the
// credentials is reachable, and a person must fix the kubeconfig
// (InvalidSpec): treating it as lost would run DR next to a live source.
func (a *RecoveryActivities) ProbeCluster(ctx context.Context, cluster contract.ClusterRef) error {
	name := clusterName(cluster)
	cs, err := a.Clusters.Clientset(ctx, cluster.Namespace, cluster.Name)
	if err != nil {
		return activities.Classify(fmt.Errorf("client of %s: %w", name, err))
	}
	probeCtx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	// The REST call rather than Discovery().ServerVersion(), which takes no
	// context and so cannot be bounded.
	err = cs.Discovery().RESTClient().Get().AbsPath("/version").Do(probeCtx).Error()
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// The activity itself was cancelled: that says nothing of the cluster.
		return ctx.Err()
	case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
		return activities.InvalidSpec("%s answers but refuses dr-syncer's credentials: %v; fix its kubeconfig", name, err)
	case errors.As(err, &status) && status.Status().Code < 500:
		// Any other answer below 500 (a 429, say) comes from a live server.
		return fmt.Errorf("probe %s: %w", name, err)
	}
	return activities.NonRetryable(contract.ErrTypeUnreachable, "%s is unreachable: %v", name, err)
}

// clusterName names a RemoteCluster in messages.
func clusterName(c contract.ClusterRef) string {
	return fmt.Sprintf("RemoteCluster %s/%s", c.Namespace, c.Name)
}
