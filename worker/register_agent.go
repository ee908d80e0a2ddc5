package worker

import (
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/dr-syncer/dr-syncer/activities/agent"
	"github.com/dr-syncer/dr-syncer/activities/connectivity"
)

// registerAgent adds the activities of the agent lifecycle: rollout and connectivity check.
func registerAgent(r sdkworker.Registry, deps Dependencies) {
	r.RegisterActivity(&agent.AgentActivities{Clusters: deps.Clusters, Control: deps.Control, SystemNamespace: deps.SystemNamespace})
	r.RegisterActivity(&connectivity.ConnectivityActivities{Clusters: deps.Clusters, Control: deps.Control, SystemNamespace: deps.SystemNamespace})
}
