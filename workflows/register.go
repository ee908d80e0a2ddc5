package workflows

import (
	"github.com/dr-syncer/dr-syncer/contract"
	"go.temporal.io/sdk/workflow"
)

// WorkflowRegistry registers workflows: a worker, or a replayer.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterAll registers every workflow under its stable type name. The
// worker, the replay test and the history recorder share this one list, so
// a new workflow cannot be run without being replayed.
func RegisterAll(r WorkflowRegistry) {
	for _, w := range []struct {
		name string
		fn   any
	}{
		{contract.ReplicationName, Replication},
		{contract.ReplicateResourcesName, ReplicateResources},
		{contract.PVCSyncName, PVCSync},
		{contract.ContinuousReplicationName, ContinuousReplication},
		{contract.ClusterSemaphoreName, ClusterSemaphore},
		{contract.AgentRolloutName, AgentRollout},
		{contract.ConnectivityName, Connectivity},
		{contract.RestorePointsName, RestorePoints},
		{contract.RestoreName, RestorePVC},
		{contract.FailoverName, Failover},
		{contract.FailbackName, Failback},
		{contract.DrillName, Drill},
	} {
		r.RegisterWorkflowWithOptions(w.fn, workflow.RegisterOptions{Name: w.name})
	}
}
