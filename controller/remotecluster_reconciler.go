package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
)

// AgentTemporal is what the RemoteCluster reconciler needs of Temporal;
// *starter.Starter is the implementation.
type AgentTemporal interface {
	StartAgentRollout(ctx context.Context, in contract.AgentRolloutInput) (starter.StartedRun, error)
	AgentRolloutState(ctx context.Context, workflowID, runID string) (starter.AgentRolloutState, error)
	CancelRun(ctx context.Context, workflowID, runID string) error
}

// ClusterProber reaches a RemoteCluster's API server; *kube.Clusters is
// the implementation.
type ClusterProber interface {
	Probe(ctx context.Context, namespace, name string) (kube.ClusterHealth, error)
	// ReadDaemonSet reads a DaemonSet and its pods' readiness in the cluster.
	ReadDaemonSet(ctx context.Context, clusterNamespace, clusterName, namespace, name string) (kube.DaemonSetState, error)
}

// DefaultHealthInterval is how often a healthy RemoteCluster is probed.
const DefaultHealthInterval = time.Minute

// RemoteClusterReconciler checks RemoteClusters' health, keeps their agent
// host keys, and rolls the agent out (or removes it) through the
// AgentRollout workflow, mirroring its progress into status.agent.
type RemoteClusterReconciler struct {
	// Client reads RemoteClusters (cached) and writes them and host-key Secrets.
	Client client.Client
	// APIReader reads Secrets and ClusterMappings uncached.
	APIReader client.Reader
	// Kubeconfigs says which RemoteCluster kubeconfigs are accepted.
	Kubeconfigs kube.KubeconfigPolicy
	Temporal    AgentTemporal
	Prober      ClusterProber
	Recorder    events.EventRecorder
	// PollInterval is how often a running rollout is read; DefaultPollInterval when zero.
	PollInterval time.Duration
	// HealthInterval is how often the cluster is probed; DefaultHealthInterval when zero.
	HealthInterval time.Duration
	// SystemNamespace is the namespace besides an object's own that its
	// references may point into (drv1.ForeignReferenceProblem); empty
	// allows only its own.
	SystemNamespace string

	// rollouts remembers the inputs of planned versions, so a superseded
	// rollout's log line can say what changed.
	rollouts rolloutMemory
}

// SetupWithManager registers the reconciler. Its own status writes change
// no generation, so they do not trigger it; a ClusterMapping's changes do
// (its keys are in the agent's authorized set).
func (r *RemoteClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("remotecluster").
		For(&drv1.RemoteCluster{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&drv1.ClusterMapping{}, handler.EnqueueRequestsFromMapFunc(clustersOf)).
		Complete(r)
}

// clustersOf are both clusters of a mapping: the agents of both authorize
// its key (resolve.AuthorizedKeysFor), so a new or rotated key rolls out to
// both.
func clustersOf(_ context.Context, obj client.Object) []reconcile.Request {
	m, ok := obj.(*drv1.ClusterMapping)
	if !ok {
		return nil
	}
	reqs := []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.SourceCluster}}}
	if m.Spec.TargetCluster != m.Spec.SourceCluster {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.TargetCluster}})
	}
	return reqs
}

// Reconcile observes the cluster, its keys and its rollout, plans, acts,
// and writes the status that results.
func (r *RemoteClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rc drv1.RemoteCluster
	if err := r.Client.Get(ctx, req.NamespacedName, &rc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &rc)
	}
	if !controllerutil.ContainsFinalizer(&rc, Finalizer) {
		controllerutil.AddFinalizer(&rc, Finalizer)
		if err := r.Client.Update(ctx, &rc); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to RemoteCluster %s: %w", req.NamespacedName, err)
		}
	}
	now := time.Now()
	obs, err := r.observe(ctx, &rc, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := planRemoteCluster(obs, now, r.pollInterval(), r.healthInterval())
	execErr := r.execute(ctx, &rc, obs, &plan, now)
	if err := writeStatus(ctx, r.Client, &rc, &rc.Status, plan.Status); err != nil {
		return ctrl.Result{}, errors.Join(execErr, err)
	}
	if execErr != nil {
		return ctrl.Result{}, execErr
	}
	return ctrl.Result{RequeueAfter: plan.RequeueAfter}, nil
}

func (r *RemoteClusterReconciler) pollInterval() time.Duration {
	return orDefault(r.PollInterval, DefaultPollInterval)
}

func (r *RemoteClusterReconciler) healthInterval() time.Duration {
	return orDefault(r.HealthInterval, DefaultHealthInterval)
}

// finalize cancels the RemoteCluster's open agent rollout, then lets it go.
// Left open, a rollout started just before the deletion (a ClusterMapping
// deleted with it changes the agent's keys) waits for any worker, and a
// later one would apply the gone cluster's stale settings to an agent that
// a RemoteCluster of the same name owns by then.
func (r *RemoteClusterReconciler) finalize(ctx context.Context, rc *drv1.RemoteCluster) error {
	if !controllerutil.ContainsFinalizer(rc, Finalizer) {
		return nil
	}
	if a := rc.Status.Agent; a != nil && a.Rollout != nil && a.Rollout.Result == "" {
		if err := r.Temporal.CancelRun(ctx, a.Rollout.WorkflowID, a.Rollout.RunID); err != nil {
			return err
		}
	}
	controllerutil.RemoveFinalizer(rc, Finalizer)
	if err := r.Client.Update(ctx, rc); err != nil {
		return fmt.Errorf("remove finalizer from RemoteCluster %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	r.rollouts.forget(rc.Namespace + "/" + rc.Name)
	return nil
}
