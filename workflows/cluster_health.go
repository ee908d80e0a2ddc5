package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
)

// ClusterHealthName is the registered type name of ClusterHealth.
const ClusterHealthName = "ClusterHealth"

// ClusterHealth checks that the worker can reach a RemoteCluster.
func ClusterHealth(ctx workflow.Context, ref activities.ClusterRef) (activities.ClusterHealth, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumInterval: 10 * time.Second,
			MaximumAttempts: 3,
		},
	})
	var a *activities.ClusterActivities
	var health activities.ClusterHealth
	err := workflow.ExecuteActivity(ctx, a.ProbeCluster, ref).Get(ctx, &health)
	return health, err
}
