package worker

import (
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// registerAgent adds the agent lifecycle: rollout and connectivity check.
func registerAgent(r sdkworker.Registry, deps Dependencies) {
	r.RegisterWorkflowWithOptions(workflows.AgentRollout, workflow.RegisterOptions{Name: workflows.AgentRolloutName})
	r.RegisterActivity(&activities.AgentActivities{Clusters: deps.Clusters, Control: deps.Control})
	r.RegisterWorkflowWithOptions(workflows.Connectivity, workflow.RegisterOptions{Name: workflows.ConnectivityName})
	r.RegisterActivity(&activities.ConnectivityActivities{Clusters: deps.Clusters, Control: deps.Control})
}
