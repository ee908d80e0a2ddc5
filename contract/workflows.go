package contract

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// Triggers say what started a Replication run (ReplicationInput.Trigger,
// the last part of its workflow ID); a sync-now value is the fourth kind.
const (
	TriggerScheduled  = "scheduled"
	TriggerContinuous = "continuous"
	// TriggerRetryPrefix plus the failed run's short run ID re-runs that run.
	TriggerRetryPrefix = "retry-"
)

// AgentRolloutName is the registered type name of AgentRollout.
const AgentRolloutName = "AgentRollout"

// AgentRolloutWorkflowID is one ID per cluster and version (a hash of the
// spec and keys it installs), so a double reconcile finds the rollout it
// still runs, and each change gets a run of its own. A completed ID may run
// again (starter.StartAgentRollout): the controller re-applies a version
// whenever the cluster's DaemonSet no longer matches it.
func AgentRolloutWorkflowID(namespace, cluster, version string) string {
	return fmt.Sprintf("agent-rollout/%s/%s/%s", namespace, cluster, version)
}

// ConnectivityName is the registered type name of Connectivity.
const ConnectivityName = "Connectivity"

// ConnectivityWorkflowID is one ID per mapping and check: version says what
// the check proves (the key, the spec generation and the agent rollout it
// checks against), seq counts re-checks of that version.
func ConnectivityWorkflowID(namespace, mapping, version string, seq int) string {
	return fmt.Sprintf("connectivity/%s/%s/%s-%d", namespace, mapping, version, seq)
}

// ContinuousReplicationName is the registered type name of ContinuousReplication.
const ContinuousReplicationName = "ContinuousReplication"

// Signals of a continuous replication.
const (
	// SignalChange says something changed in the source namespace (payload: what).
	SignalChange = "change"
	// SignalSettings replaces the interval and paused state (payload: ContinuousSettings).
	SignalSettings = "settings"
)

// ContinuousReplicationWorkflowID is the one long-running workflow of a
// Continuous Replication.
func ContinuousReplicationWorkflowID(namespace, name string) string {
	return ReplicationWorkflowID(namespace, name, TriggerContinuous)
}

// PVCSyncName is the registered type name of PVCSync.
const PVCSyncName = "PVCSync"

// ActivityTransfer is the registered name of the activity that moves a
// PVC's data; its heartbeats are TransferProgress.
const ActivityTransfer = "Transfer"

// ActivityTransferBatchClaim is the registered name of Transfer for a claim
// that a batch's one mover fills (FollowedMover.Claim). It is a name of its
// own so that a worker from before one mover per batch never runs it: such
// a worker, finding no container of the claim's own, would let the sync
// take pods of its own while the batch's mover still fills its DR claim.
const ActivityTransferBatchClaim = "TransferBatchClaim"

// IsTransfer says whether an activity type name is one of Transfer's.
func IsTransfer(name string) bool {
	return name == ActivityTransfer || name == ActivityTransferBatchClaim
}

// ProgressQuery is the query that returns a workflow's progress snapshot.
const ProgressQuery = "progress"

// PVCSyncWorkflowID is the one workflow ID per source PVC. Temporal allows one
// open run per ID, which is the lock that stops two syncs writing one PVC.
func PVCSyncWorkflowID(sourceCluster, namespace, pvc string) string {
	return fmt.Sprintf("pvc-sync/%s/%s/%s", sourceCluster, namespace, pvc)
}

// ReplicationName is the registered type name of Replication.
const ReplicationName = "Replication"

// ReplicationWorkflowID is the ID of one run of a Replication: readable, and
// deterministic per trigger, so a double reconcile cannot start it twice.
func ReplicationWorkflowID(namespace, name, trigger string) string {
	return fmt.Sprintf("replication/%s/%s/%s", namespace, name, trigger)
}

// ReplicateResourcesName is the registered type name of ReplicateResources.
const ReplicateResourcesName = "ReplicateResources"

// RestorePointsName is the registered type name of RestorePoints, which
// lists a Replication's restore points.
const RestorePointsName = "RestorePoints"

// RestorePointsWorkflowID is one listing of a Replication's restore points;
// unique tells listings apart (a listing changes nothing, so any two may run).
func RestorePointsWorkflowID(namespace, replication, unique string) string {
	return fmt.Sprintf("restore-points/%s/%s/%s", namespace, replication, unique)
}

// RestoreName is the registered type name of RestorePVC, which creates a
// new PVC from a restore point.
const RestoreName = "RestorePVC"

// RestoreWorkflowID is one restore of a DR PVC; unique tells restores of
// the same PVC apart. The new PVC and every temporary object of the restore
// are marked with it, which is how a retried step knows its own work.
func RestoreWorkflowID(namespace, replication, pvc, unique string) string {
	return fmt.Sprintf("restore/%s/%s/%s/%s", namespace, replication, pvc, unique)
}

// Search attributes every dr-syncer workflow sets, so the Web UI and
// `temporal workflow list --query` can filter on them.
var (
	AttrReplication   = temporal.NewSearchAttributeKeyKeyword("DrSyncerReplication")
	AttrSourceCluster = temporal.NewSearchAttributeKeyKeyword("DrSyncerSourceCluster")
	AttrNamespace     = temporal.NewSearchAttributeKeyKeyword("DrSyncerNamespace")
	AttrPVC           = temporal.NewSearchAttributeKeyKeyword("DrSyncerPVC")
)

// RestoreAttributes are the search attributes of a restore, or of a
// listing of restore points (pvc may be empty).
func RestoreAttributes(replication ObjectRef, pvc string) []temporal.SearchAttributeUpdate {
	updates := []temporal.SearchAttributeUpdate{AttrReplication.ValueSet(replication.String())}
	if pvc != "" {
		updates = append(updates, AttrPVC.ValueSet(pvc))
	}
	return updates
}

// SearchAttributeTypes lists the search attributes to register with a
// Temporal namespace, by name and type.
func SearchAttributeTypes() map[string]string {
	return map[string]string{
		AttrReplication.GetName():   "Keyword",
		AttrSourceCluster.GetName(): "Keyword",
		AttrNamespace.GetName():     "Keyword",
		AttrPVC.GetName():           "Keyword",
	}
}

// ClusterSemaphoreName is the registered type name of ClusterSemaphore.
const ClusterSemaphoreName = "ClusterSemaphore"

// ClusterSemaphoreID is the one semaphore of a RemoteCluster: every PVC sync
// against the cluster, from any Replication, takes a permit from it.
func ClusterSemaphoreID(cluster ClusterRef) string {
	return fmt.Sprintf("%s%s/%s", clusterSemaphorePrefix, cluster.Namespace, cluster.Name)
}

const clusterSemaphorePrefix = "semaphore/"

// ClusterOfSemaphore is the RemoteCluster whose semaphore has this workflow
// ID, so the semaphore can label its metrics without carrying the cluster
// in its state (which would change the continue-as-new input of running
// semaphores). Kubernetes names hold no '/', so the split is unambiguous;
// ok is false for an ID ClusterSemaphoreID did not make.
func ClusterOfSemaphore(workflowID string) (cluster ClusterRef, ok bool) {
	rest, found := strings.CutPrefix(workflowID, clusterSemaphorePrefix)
	if !found {
		return ClusterRef{}, false
	}
	namespace, name, found := strings.Cut(rest, "/")
	if !found || namespace == "" || name == "" || strings.Contains(name, "/") {
		return ClusterRef{}, false
	}
	return ClusterRef{Namespace: namespace, Name: name}, true
}
