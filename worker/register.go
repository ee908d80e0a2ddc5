// Package worker registers dr-syncer's workflows and activities with a
// Temporal worker and runs it.
package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/uber-go/tally/v4"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/activities/recovery"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// Dependencies are the clients the activities need.
type Dependencies struct {
	// Clusters reaches the source and DR clusters.
	Clusters activities.ClusterResolver
	// Control reads dr-syncer's resources from the cluster that holds them;
	// the recovery activities also patch a Replication's status.failover.
	Control client.Client
	// SystemNamespace is the namespace besides a dr-syncer object's own that
	// its references may point into; see drv1.ForeignReferenceProblem.
	SystemNamespace string
	// Temporal and TaskQueue let activities signal the per-cluster semaphores.
	Temporal  temporalclient.Client
	TaskQueue string
	// Pods are the settings of the mount and sync pods the PVC steps create.
	Pods pvcdata.PodSettings
	// Metrics is the worker's own scope (drsyncer_worker); nil serves none
	// of the activities' metrics.
	Metrics tally.Scope
	// BatchPods lets the PVC syncs of runs planned here share pod pairs
	// (contract.DataPlane.BatchPods).
	BatchPods bool
}

// Register adds every workflow under its stable type name, and every
// activity struct; an activity's type name is its method name.
func Register(r sdkworker.Registry, deps Dependencies) {
	workflows.RegisterAll(r)
	r.RegisterActivity(&pvcdata.PermitActivities{Temporal: deps.Temporal, TaskQueue: deps.TaskQueue})
	r.RegisterActivity(&activities.PlanActivities{Control: deps.Control, SystemNamespace: deps.SystemNamespace, BatchPods: deps.BatchPods})
	r.RegisterActivity(&pvcdata.PVCActivities{Clusters: deps.Clusters, Control: deps.Control, Pods: deps.Pods, SystemNamespace: deps.SystemNamespace,
		Temporal: signaler(deps.Temporal), Metrics: deps.Metrics})
	r.RegisterActivity(&pointintime.SnapshotActivities{Clusters: deps.Clusters})
	r.RegisterActivity(&recovery.RecoveryActivities{Control: deps.Control, Clusters: deps.Clusters, Temporal: deps.Temporal, SystemNamespace: deps.SystemNamespace})
	registerResources(r, deps)
	registerAgent(r, deps)
}

// signaler is c, or nil when there is no client: a nil client in a
// non-nil interface would be called, and panic.
func signaler(c temporalclient.Client) pvcdata.Signaler {
	if c == nil {
		return nil
	}
	return c
}

// Options configure Run.
type Options struct {
	TaskQueue string
	// MaxConcurrentActivities bounds the activities this worker runs at
	// once, and as many local ones again; 0 is the SDK default.
	MaxConcurrentActivities int
}

// Run polls the task queue until ctx is done.
func Run(ctx context.Context, c temporalclient.Client, deps Dependencies, opts Options) error {
	if deps.Temporal == nil {
		deps.Temporal, deps.TaskQueue = c, opts.TaskQueue
	}
	w := sdkworker.New(c, opts.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		// The PVC syncs' short API steps run as local activities, in a
		// pool of their own: bounded by the same figure, so at most
		// twice it run at once.
		MaxConcurrentLocalActivityExecutionSize: opts.MaxConcurrentActivities,
		// The SDK sends at most one heartbeat per 0.8 x the heartbeat timeout
		// unless told otherwise; transfer progress should be seconds old.
		MaxHeartbeatThrottleInterval:     2 * time.Second,
		DefaultHeartbeatThrottleInterval: 2 * time.Second,
		Interceptors:                     []interceptor.WorkerInterceptor{&forbiddenIsFinal{}},
	})
	Register(w, deps)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %q: %w", opts.TaskQueue, err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
