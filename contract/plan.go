package contract

import (
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// ReplicationPlan is a Replication resolved at the start of a run: its
// clusters looked up and its defaults applied, so every later step reads one
// consistent, typed snapshot, and a spec edited mid-run affects the next run.
type ReplicationPlan struct {
	Replication ObjectRef `json:"replication"`
	// Generation of the Replication the plan was made from.
	Generation  int64      `json:"generation"`
	Source      ClusterRef `json:"source"`
	Destination ClusterRef `json:"destination"`
	// SourceNamespace and DestinationNamespace are both set (the latter defaulted).
	SourceNamespace      string `json:"sourceNamespace"`
	DestinationNamespace string `json:"destinationNamespace"`
	// Spec is the Replication's settings, resolved, with every default applied.
	Spec ReplicationSettings `json:"spec"`
	// DataSync is Spec's pvcConfig.dataSyncConfig as the data plane runs it,
	// validated. A plan recorded before it existed decodes it as the empty
	// config.
	DataSync rsyncargs.Config `json:"dataSync,omitempty"`
	// DataPlane is how PVC data moves, from the RemoteClusters and the mapping.
	DataPlane DataPlane `json:"dataPlane"`
	// AcceptChanges is the accept-changes annotation's value when no run has
	// taken it yet: this run may do what the DR-copy guards would hold back.
	AcceptChanges string `json:"acceptChanges,omitempty"`
	// Direction is which way the run copies; empty is source to DR. In a
	// reverse run Source is the DR cluster and Destination the source.
	Direction Direction `json:"direction,omitempty"`
}

// DataPlane says how a replication's PVC data moves.
type DataPlane struct {
	Image     Image `json:"image"`
	AgentPort int32 `json:"agentPort"`
	// ClusterKey and AgentHostKey are the control-cluster Secrets with the
	// cluster-pair key and the source agent's host key.
	ClusterKey   SecretRef `json:"clusterKey"`
	AgentHostKey SecretRef `json:"agentHostKey"`
	// Retry is the replication's retryConfig, overridden field by field by
	// the source RemoteCluster's pvcSync.retryConfig.
	Retry RetrySettings `json:"retry"`
	// GlobalConcurrencyLimit bounds PVC syncs against the source cluster.
	GlobalConcurrencyLimit int32 `json:"globalConcurrencyLimit"`
	// BatchPods lets the run's PVC syncs share pod pairs
	// (docs/design-batched-pvc-sync.md): the worker's --batch-pods.
	BatchPods bool `json:"batchPods,omitempty"`
}
