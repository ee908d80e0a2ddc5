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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
)

// Finalizer keeps a deleted Replication until its runs are cancelled and its
// Schedule is gone.
const Finalizer = "dr-syncer.io/finalizer"

// DefaultPollInterval is how often an open run's progress is read.
const DefaultPollInterval = 3 * time.Second

// ReplicationTemporal is what the reconciler needs of Temporal;
// *starter.Starter is the implementation.
type ReplicationTemporal interface {
	StartRun(ctx context.Context, ref contract.ObjectRef, trigger string) (starter.StartedRun, error)
	RunState(ctx context.Context, workflowID, runID string) (starter.RunState, error)
	DescribeSchedule(ctx context.Context, ref contract.ObjectRef) (*starter.ScheduleState, error)
	EnsureSchedule(ctx context.Context, ref contract.ObjectRef, spec starter.ScheduleSpec) error
	DeleteSchedule(ctx context.Context, ref contract.ObjectRef) error
	NextRunTime(ctx context.Context, ref contract.ObjectRef) (time.Time, error)
	Cancel(ctx context.Context, ref contract.ObjectRef) ([]string, error)
	CancelRun(ctx context.Context, workflowID, runID string) error
	StartFailover(ctx context.Context, in contract.FailoverInput, id string) (starter.StartedRun, error)
	StartFailback(ctx context.Context, in contract.FailbackInput, id string) (starter.StartedRun, error)
	StartDrill(ctx context.Context, in contract.DrillInput, id string) (starter.StartedRun, error)
}

// ReplicationReconciler turns Replications into Temporal runs and Schedules
// and mirrors the runs back into their status.
type ReplicationReconciler struct {
	// Client reads Replications, RemoteClusters and ClusterMappings (cached)
	// and writes Replications.
	Client client.Client
	// APIReader reads kubeconfig Secrets uncached.
	APIReader client.Reader
	// Kubeconfigs says which RemoteCluster kubeconfigs are accepted.
	Kubeconfigs kube.KubeconfigPolicy
	Temporal    ReplicationTemporal
	Recorder    events.EventRecorder
	// PollInterval is how often an open run is read; DefaultPollInterval when zero.
	PollInterval time.Duration
	// Watches signals Continuous Replications when their source changes; nil
	// leaves them to their background interval.
	Watches *SourceWatches
	// SystemNamespace is the namespace besides an object's own that its
	// references may point into (drv1.ForeignReferenceProblem); empty
	// allows only its own.
	SystemNamespace string
	// RunLink links a run in the Temporal Web UI (starter.WebUILink), for
	// status.currentRun.webUI and status.lastRun.webUI; nil links nothing.
	RunLink func(workflowID, runID string) string

	schedules scheduleCache
}

// SetupWithManager registers the reconciler. Status writes change neither the
// generation nor the annotations, so they do not trigger a reconcile, except
// a change of status.failover's state: the failover workflows write it, and
// syncs must pause or resume at once. With Watches, a signalled source
// change reconciles its Replication shortly after (changeSource).
func (r *ReplicationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Watches != nil {
		b = b.WatchesRawSource(r.changeSource())
	}
	return b.
		Named("replication").
		For(&drv1.Replication{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted(), failoverStateChanged()))).
		Watches(&drv1.RemoteCluster{}, handler.EnqueueRequestsFromMapFunc(r.replicationsInNamespace),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&drv1.ClusterMapping{}, handler.EnqueueRequestsFromMapFunc(r.replicationsInNamespace),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

// Reconcile observes the Replication and Temporal, plans, acts, and writes
// the status that results.
func (r *ReplicationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var repl drv1.Replication
	if err := r.Client.Get(ctx, req.NamespacedName, &repl); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !repl.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &repl)
	}
	if !controllerutil.ContainsFinalizer(&repl, Finalizer) {
		controllerutil.AddFinalizer(&repl, Finalizer)
		if err := r.Client.Update(ctx, &repl); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to Replication %s: %w", req.NamespacedName, err)
		}
	}
	obs, err := r.observe(ctx, &repl)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := planReplication(obs, time.Now(), r.pollInterval())
	execErr := r.execute(ctx, &repl, &plan)
	r.linkRuns(&plan.Status)
	// The status records what did happen even when a step failed, and a
	// failed status write never hides the step's error.
	if err := writeStatus(ctx, r.Client, &repl, &repl.Status, plan.Status); err != nil {
		return ctrl.Result{}, errors.Join(execErr, err)
	}
	// The status now holds what happened, so its Events are recorded, also
	// next to a step that failed (a failover that could not start says why).
	for _, e := range plan.Events {
		r.Recorder.Eventf(&repl, nil, e.Type, e.Reason, e.Reason, "%s", e.Message)
	}
	if execErr != nil {
		return ctrl.Result{}, execErr
	}
	if err := r.updateSourceWatch(ctx, &repl, obs); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: plan.RequeueAfter}, nil
}

// updateSourceWatch watches the source namespace of an active Continuous
// Replication that asks for it, and stops watching any other.
func (r *ReplicationReconciler) updateSourceWatch(ctx context.Context, repl *drv1.Replication, obs replicationObservation) error {
	if r.Watches == nil {
		return nil
	}
	ref := refOf(repl)
	spec := repl.Spec
	// Not while failed over: syncs are paused, and the source may be gone.
	watch := spec.ReplicationMode == drv1.ModeContinuous && !spec.Paused && !repl.Status.FailedOver() && obs.InvalidReference == "" && obs.SourceCluster != "" &&
		(spec.Continuous == nil || spec.Continuous.WatchResources == nil || *spec.Continuous.WatchResources)
	if !watch {
		r.Watches.Stop(ref)
		return nil
	}
	config, err := kube.NewClusters(r.APIReader, r.Kubeconfigs).Config(ctx, repl.Namespace, obs.SourceCluster)
	if err != nil {
		return fmt.Errorf("watch the source of Replication %s: %w", ref, err)
	}
	return r.Watches.Ensure(ref, config, spec.SourceNamespace, obs.SourceCluster+"/"+spec.SourceNamespace)
}

// linkRuns adds the Web UI links to the runs the status names.
func (r *ReplicationReconciler) linkRuns(st *drv1.ReplicationStatus) {
	if r.RunLink == nil {
		return
	}
	for _, run := range []*drv1.WorkflowRef{st.CurrentRun, st.LastRun} {
		if run != nil {
			run.WebUI = r.RunLink(run.WorkflowID, run.RunID)
		}
	}
}

func (r *ReplicationReconciler) pollInterval() time.Duration {
	return orDefault(r.PollInterval, DefaultPollInterval)
}

// replicationsInNamespace maps a RemoteCluster or ClusterMapping to the
// Replications next to it, so fixing a broken reference takes effect at once.
func (r *ReplicationReconciler) replicationsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list drv1.ReplicationList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, repl := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&repl)})
	}
	return reqs
}

// failoverStateChanged lets a status write through that changes
// status.failover.state.
func failoverStateChanged() predicate.Predicate {
	state := func(o client.Object) string {
		if r, ok := o.(*drv1.Replication); ok && r.Status.Failover != nil {
			return r.Status.Failover.State
		}
		return ""
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return state(e.ObjectOld) != state(e.ObjectNew)
	}}
}

// deletionStarted lets the update that sets deletionTimestamp through.
func deletionStarted() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
}
