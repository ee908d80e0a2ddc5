package worker

import (
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/dr-syncer/dr-syncer/activities"
)

// registerAgent adds the activities of the agent lifecycle: rollout and connectivity check.
func registerAgent(r sdkworker.Registry, deps Dependencies) {
	r.RegisterActivity(&activities.AgentActivities{Clusters: deps.Clusters, Control: deps.Control})
	r.RegisterActivity(&activities.ConnectivityActivities{Clusters: deps.Clusters, Control: deps.Control})
}
