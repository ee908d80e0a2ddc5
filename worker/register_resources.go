package worker

import (
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// registerResources adds the resource-replication workflow and activities.
func registerResources(r sdkworker.Registry, deps Dependencies) {
	r.RegisterWorkflowWithOptions(workflows.ReplicateResources, workflow.RegisterOptions{Name: workflows.ReplicateResourcesName})
	r.RegisterActivity(&activities.ResourceActivities{Clusters: deps.Clusters})
}
