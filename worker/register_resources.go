package worker

import sdkworker "go.temporal.io/sdk/worker"

// registerResources adds the resource-replication workflow and activities.
func registerResources(r sdkworker.Registry, deps Dependencies) {}
