// Package recovery holds the steps of the Failover, Failback and Drill
// workflows: finding where a Replication's workloads run, stopping its
// syncs, scaling workloads on either side, waiting for them, recording the
// outcome in the Replication's status, and a drill's scratch namespace.
//
// Every step is idempotent. A worker can crash after a step changed a
// cluster and before Temporal heard of it; the retried step then finds its
// own change (a recorded annotation, a paused Schedule, a labelled
// namespace) and converges on the same end state instead of applying it
// twice.
package recovery

import (
	temporalclient "go.temporal.io/sdk/client"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
)

// RecoveryActivities are the recovery workflows' activities.
type RecoveryActivities struct {
	// Control is the cluster that holds the Replications and RemoteClusters;
	// the full client, because the steps patch status.failover and status.lastDrill.
	Control client.Client
	// Clusters reaches the source and DR clusters.
	Clusters activities.ClusterResolver
	// Temporal pauses Schedules, signals the continuous workflow and lists runs.
	Temporal temporalclient.Client
	// SystemNamespace is the namespace besides a Replication's own that its
	// references may point into; see drv1.ForeignReferenceProblem.
	SystemNamespace string
}
