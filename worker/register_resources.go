package worker

import (
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/dr-syncer/dr-syncer/activities/objects"
)

// registerResources adds the resource-replication activities.
func registerResources(r sdkworker.Registry, deps Dependencies) {
	r.RegisterActivity(&objects.ResourceActivities{Clusters: deps.Clusters, Control: deps.Control, SystemNamespace: deps.SystemNamespace})
}
