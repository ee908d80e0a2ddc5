package controller

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/starter"
)

// MappingTemporal is what the ClusterMapping reconciler needs of Temporal;
// *starter.Starter is the implementation.
type MappingTemporal interface {
	AgentRolloutState(ctx context.Context, workflowID, runID string) (starter.AgentRolloutState, error)
	StartWorkflowOnce(ctx context.Context, id, name string, input any, attrs temporal.SearchAttributes) (starter.StartedRun, error)
	WorkflowState(ctx context.Context, workflowID, runID string, result any) (starter.WorkflowState, error)
}

// ClusterMappingReconciler keeps each mapping's cluster-pair key: generates
// it, rotates it on a timer or on the rotate-keys annotation, and ends the
// rotation overlap once the source agent authorizes the new key. With
// verifyConnectivity it then proves, with a connectivity workflow, that
// the DR cluster reaches every source agent over SSH, and re-checks when
// the key or the agent changes or the last check grows old.
type ClusterMappingReconciler struct {
	// Client reads ClusterMappings and RemoteClusters (cached) and writes
	// ClusterMappings and key Secrets.
	Client client.Client
	// APIReader reads key Secrets uncached.
	APIReader client.Reader
	Temporal  MappingTemporal
	// PollInterval is how often a rotation overlap is re-checked; DefaultPollInterval when zero.
	PollInterval time.Duration
	// SystemNamespace is the namespace besides an object's own that its
	// references may point into (drv1.ForeignReferenceProblem); empty
	// allows only its own.
	SystemNamespace string
}

// SetupWithManager registers the reconciler. Its status writes do not
// trigger it; its source RemoteCluster's status does (the agent rollout
// that ends a rotation overlap).
func (r *ClusterMappingReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("clustermapping").
		For(&drv1.ClusterMapping{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&drv1.RemoteCluster{}, handler.EnqueueRequestsFromMapFunc(r.mappingsOf)).
		Complete(r)
}

// mappingsOf maps a RemoteCluster to the mappings that name it.
func (r *ClusterMappingReconciler) mappingsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	var list drv1.ClusterMappingList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, m := range list.Items {
		if m.Spec.SourceCluster == obj.GetName() || m.Spec.TargetCluster == obj.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&m)})
		}
	}
	return reqs
}

// Reconcile observes the mapping, its key and its source agent, plans,
// acts, and writes the status that results.
func (r *ClusterMappingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var m drv1.ClusterMapping
	if err := r.Client.Get(ctx, req.NamespacedName, &m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	obs, err := r.observe(ctx, &m)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := time.Now()
	plan := planClusterMapping(obs, now, r.pollInterval())
	execErr := r.execute(ctx, &m, obs, &plan, now)
	if err := writeStatus(ctx, r.Client, &m, &m.Status, plan.Status); err != nil {
		return ctrl.Result{}, errors.Join(execErr, err)
	}
	if execErr != nil {
		return ctrl.Result{}, execErr
	}
	return ctrl.Result{RequeueAfter: plan.RequeueAfter}, nil
}

func (r *ClusterMappingReconciler) pollInterval() time.Duration {
	return orDefault(r.PollInterval, DefaultPollInterval)
}
